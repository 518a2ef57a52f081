"""The Dagster asset that loads the LSOA lookup (reference/lsoa_localities.csv) into the warehouse.

Belongs here: the asset wrapper only (name, group, metadata). Does not: reading or checking the
lookup (`cb_pipeline.reference.load_reference`), or what the lookup means (the SQL models).

No `from __future__ import annotations`: Dagster needs the real `context` annotation.
"""

import dagster as dg

from cb_pipeline.lib.dagster_assets import REFERENCE_ASSET, PipelineSettingsResource, WarehouseResource


@dg.asset(
    name=REFERENCE_ASSET,
    group_name="reference",
    kinds={"python"},
    description=(
        "The LSOA (2011) to MSOA, local authority (HWB) and locality lookup, loaded from "
        "<reference dir>/lsoa_localities.csv into table ref_lsoa_localities. The MSOA to locality "
        "assignment is data, never code: change the CSV, not the pipeline."
    ),
)
def reference_lsoa_localities(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                              settings: PipelineSettingsResource) -> dg.MaterializeResult:
    from cb_pipeline.reference import load_reference

    rows = load_reference(warehouse.warehouse(), settings.reference_path)
    context.log.info(f"{rows:,} LSOAs loaded from {settings.reference_path}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(rows),
        "dagster/table_name": "ref_lsoa_localities",
        "reference_dir": str(settings.reference_path),
    })
