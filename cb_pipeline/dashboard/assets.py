"""The partitioned Dagster asset `published_dashboard`: one quarter's published dashboards.

Belongs here: the asset's key, partitions, dependencies (the marts it reads), config and metadata.
Does not: reading figures, disclosure control, rendering or registering (render.py and friends).

No `from __future__ import annotations`: Dagster needs the real `context` annotation.
"""

import dagster as dg

from cb_pipeline.dashboard import figures, render
from cb_pipeline.lib.dagster_assets import PipelineSettingsResource, WarehouseResource
from cb_pipeline.lib.partitions import hwbs_by_quarter, return_backfill_policy, return_partitions

ASSET_NAME = "published_dashboard"


def published_dashboard_asset(model_names: set[str]) -> dg.AssetsDefinition:
    # the quarterly mart is always a dependency, so the graph shows the gap if it is missing
    deps = [dg.AssetKey(m) for m in figures.READS_MODELS if m == figures.QUARTERLY_MODEL or m in model_names]

    @dg.asset(
        name=ASSET_NAME,
        group_name="returns",
        # the return's partitions (HWB x quarter) and backfill split
        partitions_def=return_partitions(),
        backfill_policy=return_backfill_policy(),
        deps=deps,
        kinds={"python", "html", "csv"},
        description=(
            "Grain: one HTML page and one CSV per HWB per FY quarter (partition = HWB x quarter start date). Source: "
            "fct_place_dashboard_quarterly and the dashboard marts it reads.\n\n"
            "The published place dashboard: for every partition's HWB with figures in fct_place_dashboard_quarterly for the "
            "partition's quarter, a self-contained HTML page (dashboard by locality, YTD against target, RAG, an "
            "inline SVG XmR chart per measure with its signals) and the same figures as CSV, with disclosure "
            "control (0 stays 0, 1-7 shown as *, others rounded to the nearest 5). Written beside the return as "
            "dashboard_<hwb>_<YYYY-YY>_Q<n>.html/.csv (unchanged files are not rewritten; changed ones move to "
            "superseded/ first) and registered in the warehouse table dashboard_registry for the download portal."
        ),
    )
    def published_dashboard(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                            settings: PipelineSettingsResource) -> dg.MaterializeResult:
        # one partition, or every HWB x quarter of the run's range
        wanted = hwbs_by_quarter(context.partition_keys)
        quarters = list(wanted)
        rendered = []
        for quarter, hwbs in wanted.items():
            available = set(figures.hwbs_with_figures(warehouse.warehouse(), quarter))
            skipped = [h for h in hwbs if h not in available]
            if skipped and len(skipped) < len(hwbs):
                context.log.warning(f"no dashboard figures in {quarter.label} for {', '.join(skipped)}: not published")
            done = render.render_dashboards(warehouse.warehouse(), quarter, returns_dir=settings.returns_path,
                                            run_id=context.run.run_id,
                                            hwb_codes=[h for h in hwbs if h in available] or hwbs)
            for r in done:
                for f in r.files:
                    context.log.info(f"dashboard {r.hwb_code} {quarter.label} {f.kind}: {f.action} -> {f.path}")
            rendered += done
        files = [f for r in rendered for f in r.files]
        return dg.MaterializeResult(metadata={
            "quarter": quarters[0].label if len(quarters) == 1 else f"{quarters[0].label} to {quarters[-1].label}",
            "dashboards": len(rendered),
            "paths": dg.MetadataValue.md("\n".join(f"- `{f.path}` ({f.action})" for f in files)),
            "sha256": dg.MetadataValue.json({str(f.path.name): f.sha256 for f in files}),
            "details": dg.MetadataValue.json([r.as_metadata() for r in rendered]),
        })

    return published_dashboard
