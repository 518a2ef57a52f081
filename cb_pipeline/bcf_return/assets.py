"""The partitioned Dagster asset `bcf_return`: one quarter's returns, one workbook per HWB.

Belongs here: the asset's key, partitions, dependencies, config (which HWBs) and metadata.
Does not: reading the warehouse or filling the workbook (render.py, lib/workbook.py).

No `from __future__ import annotations`: Dagster needs the real `context` annotation.
"""

import dagster as dg

from cb_pipeline.bcf_return import render
from cb_pipeline.lib import workbook
from cb_pipeline.lib.dagster_assets import PipelineSettingsResource, WarehouseResource
from cb_pipeline.lib.partitions import hwbs_by_quarter, return_backfill_policy, return_partitions
from cb_pipeline.lib.retry import IO_RETRY_POLICY, permanent_errors

ASSET_NAME = "bcf_return"
# Models the return reads besides the cells mart (when they exist in dbt_like_sql).
READS_MODELS = (render.CELLS_MODEL, render.RECONCILIATION_MODEL, render.COVERAGE_MODEL, render.DQ_RULES_MODEL,
                render.DQ_MONTHLY_MODEL, render.XMR_MODEL)


def bcf_return_asset(ingest_keys: list[dg.AssetKey], model_names: set[str]) -> dg.AssetsDefinition:
    # The cells mart is always a dependency, even before its model exists, so the graph shows the gap.
    deps = [dg.AssetKey(m) for m in READS_MODELS if m == render.CELLS_MODEL or m in model_names]
    # ingest_rule_counts (the Data Quality rules table) is written by every ingest asset
    deps += list(ingest_keys)

    @dg.asset(
        name=ASSET_NAME,
        group_name="returns",
        # one partition per HWB per quarter; a run over a range (the CLI, the nightly schedule) renders
        # every HWB x quarter of it in one step, and a backfill is split into runs of a few dozen
        partitions_def=return_partitions(),
        backfill_policy=return_backfill_policy(),
        retry_policy=IO_RETRY_POLICY,  # writes files and the registry; a missing figure is not retried
        deps=deps,
        kinds={"python", "excel"},
        description=(
            "Grain: one workbook per HWB per FY quarter (partition = HWB x quarter start date, "
            "E06000056|2018-10-01). Source: "
            "rpt_bcf_return__cells (every value, by defined name) and the ingest ledger (provenance, data "
            "quality).\n\n"
            "The Better Care Fund quarterly return: for every partition's HWB with figures in "
            "rpt_bcf_return__cells for the partition's quarter (an HWB without figures is skipped and listed "
            "in the metadata), fills templates/bcf_quarterly_return.xlsx through its defined names, adds run "
            "provenance and the input deliveries' SHA-256, writes <returns dir>/<hwb>/<YYYY-YY>/Q<n>/"
            "BCF_<hwb>_<YYYY-YY>_Q<n>.xlsx atomically (an existing different file moves to superseded/; an "
            "unchanged one is not rewritten) and registers it in the warehouse table return_registry."
        ),
    )
    def bcf_return(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   settings: PipelineSettingsResource) -> dg.MaterializeResult:
        # one partition, or every HWB x quarter of the run's range
        wanted = hwbs_by_quarter(context.partition_keys)
        quarters = list(wanted)
        rendered, invalid_answers, no_figures = [], [], []
        with permanent_errors():
            for quarter, hwbs in wanted.items():
                available = set(render.hwbs_with_cells(warehouse.warehouse(), quarter))
                skipped = [h for h in hwbs if h not in available]
                if skipped and len(skipped) < len(hwbs):
                    # an HWB of the lookup the feeds do not cover this quarter: nothing to return
                    context.log.warning(f"no figures in {quarter.label} for {', '.join(skipped)}: no return for them")
                    no_figures += [f"{h} {quarter.label}" for h in skipped]
                try:
                    rendered += render.render_returns(
                        warehouse.warehouse(), quarter, returns_dir=settings.returns_path, template=settings.template,
                        run_id=context.run.run_id, hwb_codes=[h for h in hwbs if h in available] or hwbs,
                        inputs_dir=settings.landing_path / "inputs",
                    )
                except render.InvalidAnswers as exc:
                    # the other quarters of a backfill still render; the run fails at the end
                    invalid_answers.append(str(exc))
            if invalid_answers:
                raise render.InvalidAnswers("\n".join(invalid_answers))
        for r in rendered:
            status = workbook.COMPLETE if r.complete else workbook.INCOMPLETE
            context.log.info(f"return {r.hwb_code} {r.quarter.label}: {r.action}, {status} -> {r.path}")
        complete = all(r.complete for r in rendered)
        metadata: dict[str, object] = {
            "quarter": quarters[0].label if len(quarters) == 1 else f"{quarters[0].label} to {quarters[-1].label}",
            "fy_label": ", ".join(dict.fromkeys(q.fy_label for q in quarters)),
            "returns": len(rendered),
            "template_status": workbook.COMPLETE if complete else workbook.INCOMPLETE,
            "paths": dg.MetadataValue.md("\n".join(f"- `{r.path}` ({r.action})" for r in rendered)),
            "complete": complete,
            "sha256": dg.MetadataValue.json({r.hwb_code if len(quarters) == 1 else f"{r.hwb_code} {r.quarter.label}": r.sha256
                                             for r in rendered}),
            "details": dg.MetadataValue.json([r.as_metadata() for r in rendered]),
            "no_figures": ", ".join(no_figures) or "(none)",
        }
        if len(rendered) == 1:
            metadata["path"] = dg.MetadataValue.path(str(rendered[0].path))
            metadata["missing"] = ", ".join(rendered[0].missing) or "(none)"
        return dg.MaterializeResult(metadata=metadata)

    return bcf_return
