"""The partitioned Dagster asset `bcf_return`: one quarter's returns, one workbook per HWB.

Belongs here: the asset's key, partitions, dependencies, config (which HWBs) and metadata.
Does not: reading the warehouse or filling the workbook (render.py, lib/workbook.py).

No `from __future__ import annotations`: Dagster needs the real `context` annotation.
"""

import dagster as dg

from cb_pipeline.bcf_return import render
from cb_pipeline.lib import workbook
from cb_pipeline.lib.dagster_assets import PipelineSettingsResource, WarehouseResource
from cb_pipeline.lib.periods import FyQuarter, fy_quarter_partitions
from cb_pipeline.lib.retry import IO_RETRY_POLICY, permanent_errors

ASSET_NAME = "bcf_return"
# Models the return reads besides the cells mart (when they exist in dbt_like_sql).
READS_MODELS = (render.CELLS_MODEL, render.RECONCILIATION_MODEL, render.COVERAGE_MODEL, render.DQ_RULES_MODEL,
                render.DQ_MONTHLY_MODEL, render.XMR_MODEL)


class BcfReturnConfig(dg.Config):
    """Which HWBs to render; empty = every HWB with figures for the quarter."""

    hwb_codes: list[str] = []


def bcf_return_asset(ingest_keys: list[dg.AssetKey], model_names: set[str]) -> dg.AssetsDefinition:
    # The cells mart is always a dependency, even before its model exists, so the graph shows the gap.
    deps = [dg.AssetKey(m) for m in READS_MODELS if m == render.CELLS_MODEL or m in model_names]
    # ingest_rule_counts (the Data Quality rules table) is written by every ingest asset
    deps += list(ingest_keys)

    @dg.asset(
        name=ASSET_NAME,
        group_name="returns",
        partitions_def=fy_quarter_partitions(),
        # a backfill over a range of quarters is one run: the graph upstream is built once, then
        # every quarter of the range is rendered (context.partition_keys)
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=IO_RETRY_POLICY,  # writes files and the registry; a missing figure is not retried
        deps=deps,
        kinds={"python", "excel"},
        description=(
            "Grain: one workbook per HWB per FY quarter (partition = quarter start date). Source: "
            "rpt_bcf_return__cells (every value, by defined name) and the ingest ledger (provenance, data "
            "quality).\n\n"
            "The Better Care Fund quarterly return: for every HWB with figures in rpt_bcf_return__cells for the "
            "partition's quarter, fills templates/bcf_quarterly_return.xlsx through its defined names, adds run "
            "provenance and the input deliveries' SHA-256, writes <returns dir>/<hwb>/<YYYY-YY>/Q<n>/"
            "BCF_<hwb>_<YYYY-YY>_Q<n>.xlsx atomically (an existing different file moves to superseded/; an "
            "unchanged one is not rewritten) and registers it in the warehouse table return_registry."
        ),
    )
    def bcf_return(context: dg.AssetExecutionContext, config: BcfReturnConfig, warehouse: WarehouseResource,
                   settings: PipelineSettingsResource) -> dg.MaterializeResult:
        # one partition, or every quarter of a range when a backfill runs as one run
        quarters = [FyQuarter.parse(key) for key in context.partition_keys]
        rendered, invalid_answers = [], []
        with permanent_errors():
            for quarter in quarters:
                try:
                    rendered += render.render_returns(
                        warehouse.warehouse(), quarter, returns_dir=settings.returns_path, template=settings.template,
                        run_id=context.run.run_id, hwb_codes=config.hwb_codes or None,
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
        }
        if len(rendered) == 1:
            metadata["path"] = dg.MetadataValue.path(str(rendered[0].path))
            metadata["missing"] = ", ".join(rendered[0].missing) or "(none)"
        return dg.MaterializeResult(metadata=metadata)

    return bcf_return
