"""What the Dagster UI shows about a warehouse table: row count, column schema, table name, preview.

Belongs here: `table_metadata()` (the `dagster/*` metadata every table-writing asset attaches to
its materialisation) and the rule that decides which columns a preview may show.
Does not: compute or write any table (lib/ingest, lib/sql_models), or the return's metadata
(bcf_return/assets.py).

Previews never show identifiers. A table with any identifier-like column (person_key, NHS
number, epikey, aekey, HES ids, incident or event references, local person ids) holds one row per
person or event, so even its other columns together could single someone out: its preview is an
aggregate (rows per month of its first date column, counts under 5 shown as "<5"). Other tables
(lookups, marts, aggregates) show their first rows without the identifier-like columns.
"""

import re

import dagster as dg

from cb_pipeline.lib.warehouse import Warehouse

PREVIEW_ROWS = 5
# Lower-case column names that identify a person, an episode or an event, or carry raw text.
IDENTIFIER = re.compile(
    r"(person|nhs|hesid|epikey|aekey|spell_id|spell_key|incident_id|event_reference|la_person|"
    r"care_home_id|raw_line|postcode|date_of_birth|^dob$|_reasons$)"
)
SMALL_COUNT = 5


def is_identifier(column: str) -> bool:
    return bool(IDENTIFIER.search(column.lower()))


def table_schema(warehouse: Warehouse, table: str, descriptions: dict[str, str] | None = None) -> dg.TableSchema:
    descriptions = descriptions or {}
    sql = (
        "select column_name, data_type from information_schema.columns where table_name = :t "
        + ("" if warehouse.dialect == "duckdb" else "and table_schema = current_schema() ")
        + "order by ordinal_position"
    )
    frame = warehouse.query_df(sql, {"t": table})
    return dg.TableSchema(columns=[
        dg.TableColumn(name=str(r.column_name), type=str(r.data_type).lower(),
                       description=descriptions.get(str(r.column_name)))
        for r in frame.itertuples()
    ])


def _plain(value):
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def preview(warehouse: Warehouse, table: str, schema: dg.TableSchema) -> dg.MetadataValue | None:
    """A few rows without identifiers, or, for a table of people or events, rows per month."""
    columns = [c for c in schema.columns]
    if not columns:
        return None
    if any(is_identifier(c.name) for c in columns):
        date_col = next((c.name for c in columns if c.type == "date" and not is_identifier(c.name)
                         and not c.name.startswith("_")), None)
        if date_col is None:
            return None
        # portable across DuckDB and PostgreSQL: both format a date with to_char/strftime differently,
        # so the month is built from extract()
        month = (f"cast(extract(year from \"{date_col}\") as integer) * 100 "
                 f"+ cast(extract(month from \"{date_col}\") as integer)")
        frame = warehouse.query_df(
            f'select {month} as month, count(*) as n from "{table}" where "{date_col}" is not null '
            f"group by 1 order by 1 desc limit {PREVIEW_ROWS}")
        rows = [dg.TableRecord({
            f"{date_col}_month": f"{int(r.month) // 100}-{int(r.month) % 100:02d}",
            "rows": int(r.n) if int(r.n) >= SMALL_COUNT else f"<{SMALL_COUNT}",
        }) for r in frame.itertuples()]
        return dg.MetadataValue.table(rows, schema=dg.TableSchema(columns=[
            dg.TableColumn(f"{date_col}_month", "string"), dg.TableColumn("rows", "string")]))
    safe = [c for c in columns if not c.name.startswith("_")][:12]
    if not safe:
        return None
    names = ", ".join(f'"{c.name}"' for c in safe)
    frame = warehouse.query_df(f'select {names} from "{table}" limit {PREVIEW_ROWS}')
    rows = [dg.TableRecord({c.name: _plain(record[c.name]) for c in safe})
            for record in frame.to_dict("records")]
    return dg.MetadataValue.table(rows, schema=dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.type) for c in safe]))


def table_metadata(warehouse: Warehouse, table: str, *, descriptions: dict[str, str] | None = None,
                   row_count_where: str | None = None) -> dict[str, object]:
    """`dagster/row_count`, `dagster/column_schema`, `dagster/table_name` and `preview` of a table.

    `row_count_where` counts only some rows (ingest tables: current rows, `_superseded_by is null`).
    """
    schema = table_schema(warehouse, table, descriptions)
    where = f" where {row_count_where}" if row_count_where else ""
    rows = int(warehouse.scalar(f'select count(*) from "{table}"{where}') or 0)
    metadata: dict[str, object] = {
        "dagster/row_count": rows,
        "dagster/table_name": table,
        "dagster/column_schema": schema,
    }
    shown = preview(warehouse, table, schema)
    if shown is not None:
        metadata["preview"] = shown
    return metadata
