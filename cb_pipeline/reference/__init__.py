"""The reference lookup (LSOA 2011 -> locality and HWB): loading it and its Dagster asset.

Belongs here: reading `reference/lsoa_localities.csv` into `ref_lsoa_localities`, replacing the
previous copy in one transaction. Does not: interpret localities (dbt_like_sql/intermediate).
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import sqlalchemy as sa

from cb_pipeline.lib.settings import ConfigurationError
from cb_pipeline.lib.warehouse import Warehouse

COLUMNS = ("lsoa11_code", "lsoa11_name", "msoa11_code", "msoa11_name", "la_code", "la_name", "locality_code",
           "locality_name")
FILE_NAME = "lsoa_localities.csv"
TABLE = "ref_lsoa_localities"


def reference_file(reference_dir: Path) -> Path:
    """The lookup file: `<dir>/lsoa_localities.csv`, or the directory's only CSV (the real file keeps its name)."""
    reference_dir = Path(reference_dir)
    if reference_dir.is_file():
        return reference_dir
    candidate = reference_dir / FILE_NAME
    if candidate.exists():
        return candidate
    csvs = sorted(reference_dir.glob("*.csv")) if reference_dir.is_dir() else []
    if len(csvs) == 1:
        return csvs[0]
    raise ConfigurationError(
        f"no reference lookup {candidate} (set CB_REFERENCE_DIR or --reference to the folder holding {FILE_NAME})")


def read_reference(reference_dir: Path) -> pa.Table:
    path = reference_file(reference_dir)
    table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(encoding="utf8"),
                          convert_options=pcsv.ConvertOptions(strings_can_be_null=True, column_types={
                              c: pa.string() for c in COLUMNS}))
    names = {n.strip().lower(): n for n in table.column_names}
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ConfigurationError(f"{path}: the reference lookup lacks column(s) {', '.join(missing)}")
    table = table.select([names[c] for c in COLUMNS]).rename_columns(list(COLUMNS))
    codes = table.column("lsoa11_code").to_pylist()
    if len(set(codes)) != len(codes) or any(c in (None, "") for c in codes):
        raise ConfigurationError(f"{path}: lsoa11_code must be present and unique on every row")
    return table


def load_reference(warehouse: Warehouse, reference_dir: Path) -> int:
    """Replace `ref_lsoa_localities` with the lookup; returns its row count."""
    table = read_reference(reference_dir)
    with warehouse.begin() as conn:
        conn.execute(sa.text(f'drop table if exists "{TABLE}"'))
        body = ", ".join(f'"{c}" varchar' for c in COLUMNS)
        conn.execute(sa.text(f'create table "{TABLE}" ({body})'))
        warehouse.load_arrow(conn, TABLE, table)
    return table.num_rows


def reference_hwb_codes(reference_dir: Path) -> list[str]:
    """The HWBs (local authority codes) the lookup covers, sorted: the `hwb` partitions."""
    codes = read_reference(reference_dir).column("la_code").to_pylist()
    return sorted({c.strip() for c in codes if c and c.strip()})
