"""The Dagster asset that loads the LSOA lookup (reference/lsoa_localities.csv) into the warehouse.

Belongs here: the asset wrapper only (name, group, metadata). Does not: reading or checking the
lookup (`cb_pipeline.reference.load_reference`), or what the lookup means (the SQL models).

No `from __future__ import annotations`: Dagster needs the real `context` annotation.
"""

import dagster as dg

from cb_pipeline.lib.asset_metadata import table_metadata
from cb_pipeline.lib.dagster_assets import REFERENCE_ASSET, PipelineSettingsResource, WarehouseResource
from cb_pipeline.lib.partitions import register_hwbs
from cb_pipeline.lib.retry import IO_RETRY_POLICY, permanent_errors


@dg.asset(
    name=REFERENCE_ASSET,
    group_name="reference",
    kinds={"python"},
    retry_policy=IO_RETRY_POLICY,  # reads a file and writes the warehouse
    description=(
        "Grain: one row per LSOA (2011), lsoa11_code. Registers every HWB (la_code) as an `hwb` partition "
        "of the returns and dashboards. Source: <reference dir>/lsoa_localities.csv "
        "(ONS LSOA-MSOA-LA lookup plus the place's MSOA to locality assignment).\n\n"
        "The LSOA (2011) to MSOA, local authority (HWB) and locality lookup, loaded from "
        "<reference dir>/lsoa_localities.csv into table ref_lsoa_localities. The MSOA to locality "
        "assignment is data, never code: change the CSV, not the pipeline."
    ),
)
def reference_lsoa_localities(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                              settings: PipelineSettingsResource) -> dg.MaterializeResult:
    from cb_pipeline.reference import load_reference, reference_hwb_codes

    with permanent_errors():
        rows = load_reference(warehouse.warehouse(), settings.reference_path)
        hwbs = reference_hwb_codes(settings.reference_path)
    # the lookup decides which HWBs exist: each becomes a partition of the returns and dashboards
    added = register_hwbs(context.instance, hwbs)
    context.log.info(f"{rows:,} LSOAs of {len(hwbs)} HWB(s) loaded from {settings.reference_path}"
                     + (f"; new HWB partitions: {', '.join(added)}" if added else ""))
    metadata = table_metadata(warehouse.warehouse(), "ref_lsoa_localities")
    metadata.update({"dagster/row_count": int(rows), "reference_dir": str(settings.reference_path),
                     "hwbs": len(hwbs), "hwb_partitions_added": ", ".join(added) or "(none)"})
    return dg.MaterializeResult(metadata=metadata)
