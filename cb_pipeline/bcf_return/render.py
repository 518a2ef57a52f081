"""Render the quarterly returns of one quarter from the warehouse, and register them.

Belongs here: which warehouse rows go into the return (the cells mart, the provenance and data
quality tables), the commissioner answers file of each return (parsed by cb_pipeline/inputs), the
run provenance values, the `return_registry` table and its rows. Plain Python over a Warehouse, so it runs (and is tested) without Dagster.
Does not: compute any figure (SQL models do; this module only copies rows into named cells),
know cell addresses or the write/supersede mechanics (lib/workbook.py), or Dagster (assets.py).
"""

import datetime as dt
import hashlib
import importlib.metadata
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cb_pipeline.inputs import InputsError, load_answers, to_defined_names
from cb_pipeline.bcf_return import charts
from cb_pipeline.lib import sql_models, workbook
from cb_pipeline.lib.periods import FyQuarter
from cb_pipeline.lib.warehouse import Warehouse

CELLS_MODEL = "rpt_bcf_return__cells"
RECONCILIATION_MODEL = "fct_ingest_reconciliation"
COVERAGE_MODEL = "int_feed_coverage__months"
RULE_COUNTS_TABLE = "ingest_rule_counts"
DQ_RULES_MODEL = "fct_data_quality_rules"
DQ_MONTHLY_MODEL = "fct_data_quality_monthly"
XMR_MODEL = "fct_place_dashboard_monthly_xmr"
REGISTRY_TABLE = "return_registry"
# Columns of the Data Quality coverage table after Month, in the template's order.
COVERAGE_FEEDS = ("hes_apc", "hes_ae", "ambulance", "social_care", "dtoc")

REGISTRY_DDL = f"""
create table if not exists {REGISTRY_TABLE} (
    id varchar primary key,
    hwb_code varchar not null,
    quarter_start date not null,
    fy_label varchar not null,
    path varchar not null,
    sha256 varchar not null,
    generated_at timestamp not null,
    complete boolean not null,
    missing text,
    run_id varchar,
    action varchar
)
"""


class ReturnNotProduced(Exception):
    """A requested return cannot be rendered (no figures for it, tables missing); says why."""


class InvalidAnswers(ReturnNotProduced):
    """Commissioner answers files were invalid: those returns were not produced (the others were)."""


@dataclass(frozen=True)
class RenderedReturn:
    hwb_code: str
    quarter: FyQuarter
    path: Path
    sha256: str
    action: str  # workbook.RETURN_ACTIONS
    complete: bool
    missing: list[str] = field(default_factory=list)
    generated_at: dt.datetime | None = None  # UTC, as written in the workbook
    superseded_path: Path | None = None

    def as_metadata(self) -> dict[str, object]:
        return {
            "hwb_code": self.hwb_code, "quarter": self.quarter.label, "fy_label": self.quarter.fy_label,
            "path": str(self.path), "sha256": self.sha256, "action": self.action,
            "template_status": workbook.COMPLETE if self.complete else workbook.INCOMPLETE,
            "missing": self.missing,
            "generated_at": self.generated_at.isoformat() if self.generated_at else None,
            "superseded_path": str(self.superseded_path) if self.superseded_path else None,
        }


# --------------------------------------------------------------------------- provenance


def pipeline_version() -> str:
    try:
        return importlib.metadata.version("cb-pipeline")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def metric_definitions_version(models_dir: Path = sql_models.MODELS_DIR) -> str:
    """`sql-<12 hex>`: a digest of every model's SQL and .yml, so any change to a definition shows."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(models_dir).rglob("*") if p.suffix in (".sql", ".yml")):
        digest.update(path.relative_to(models_dir).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return "sql-" + digest.hexdigest()[:12]


def _utc_now() -> dt.datetime:
    # naive UTC: Excel has no time zones, and both warehouses store TIMESTAMP without one
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


# --------------------------------------------------------------------------- warehouse reads


def _require(warehouse: Warehouse, table: str, hint: str) -> None:
    if not warehouse.table_exists(table):
        raise ReturnNotProduced(f"table {table} is not in the warehouse ({hint})")


def _plain(value):
    """NaN/NA -> None; numpy scalars -> Python; whole numbers -> int (5.0 and 5 fill the same cell)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def hwbs_with_cells(warehouse: Warehouse, quarter: FyQuarter) -> list[str]:
    _require(warehouse, CELLS_MODEL, "materialise the SQL models first")
    frame = warehouse.query_df(
        f"select distinct hwb_code from {CELLS_MODEL} where quarter_start = :q order by hwb_code",
        {"q": quarter.start},
    )
    return [str(c) for c in frame["hwb_code"]]


def cell_values(warehouse: Warehouse, hwb_code: str, quarter: FyQuarter) -> dict[str, object]:
    """{defined name: text, number or None} for one return, from the cells mart."""
    frame = warehouse.query_df(
        f"select defined_name, value_number, value_text from {CELLS_MODEL} "
        "where hwb_code = :h and quarter_start = :q order by defined_name",
        {"h": hwb_code, "q": quarter.start},
    )
    values: dict[str, object] = {}
    for row in frame.itertuples(index=False):
        text, number = _plain(row.value_text), _plain(row.value_number)
        values[str(row.defined_name)] = text if text is not None else number
    return values


def slot_localities(values: dict[str, object]) -> list[tuple[str, str]]:
    """[(code, name)] of the Place Dashboard slots the cells fill (DASH_LOC<k>_CODE / _NAME, k = 1..),
    so that the slots lib/workbook fills and hides agree with the cells' own slot numbers."""
    localities, k = [], 1
    while values.get(f"DASH_LOC{k}_CODE") is not None:
        code = str(values[f"DASH_LOC{k}_CODE"])
        localities.append((code, str(values.get(f"DASH_LOC{k}_NAME") or code)))
        k += 1
    return localities


def provenance_deliveries(warehouse: Warehouse) -> list[list[object]]:
    """PROVENANCE_DELIVERIES_TABLE rows: feed, delivery file, SHA-256, status, rows in."""
    _require(warehouse, RECONCILIATION_MODEL, "materialise the SQL models first")
    frame = warehouse.query_df(
        f"select feed, delivery, sha256, status, rows_in from {RECONCILIATION_MODEL} order by feed, delivery"
    )
    return [[_plain(v) for v in row] for row in frame.itertuples(index=False)]


def data_quality_rules(warehouse: Warehouse) -> list[list[object]]:
    """DQ_RULES_TABLE rows: feed, rule, kind, rows (every delivery loaded so far, all HWBs)."""
    if warehouse.table_exists(DQ_RULES_MODEL):
        frame = warehouse.query_df(
            f"select feed, rule_id, kind, rows from {DQ_RULES_MODEL} order by feed_order, feed, kind, rule_id")
        return [[_plain(v) for v in row] for row in frame.itertuples(index=False)]
    if not warehouse.table_exists(RULE_COUNTS_TABLE):
        return []
    frame = warehouse.query_df(
        f"select feed, rule_id, kind, sum(rows) as n from {RULE_COUNTS_TABLE} "
        "group by feed, rule_id, kind having sum(rows) > 0 order by feed, kind, rule_id"
    )
    return [[_plain(v) for v in row] for row in frame.itertuples(index=False)]


def data_quality_monthly(warehouse: Warehouse) -> list[list[object]]:
    """DQ_MONTHLY_TABLE rows: feed, month, valid, warnings, quarantined, for the five patient-level
    feeds (every delivery loaded so far, all HWBs; a quarantined row with an unreadable date has no month)."""
    if not warehouse.table_exists(DQ_MONTHLY_MODEL):
        return []
    frame = warehouse.query_df(
        f"select feed, month, valid_rows, warning_rows, quarantined_rows from {DQ_MONTHLY_MODEL} "
        "order by feed_order, case when month is null then 1 else 0 end, month")
    return [[_plain(v) for v in row] for row in frame.itertuples(index=False)]


def xmr_rows(warehouse: Warehouse, hwb_code: str, quarter: FyQuarter) -> list[list[object]]:
    """DASH_XMR_TABLE rows for one return: per ALL dashboard measure, its 24 months (measure title,
    month, count, centre, lower limit, upper limit, signal point, signal), in the charts' order."""
    if not warehouse.table_exists(XMR_MODEL):
        return []
    frame = warehouse.query_df(
        f"select measure_id, month_start, n, centre, lower_limit, upper_limit, signal_value, "
        f"signal_outside_limits, signal_run_of_7 from {XMR_MODEL} where hwb_code = :h and quarter_start = :q "
        "order by measure_id, month_start",
        {"h": hwb_code, "q": quarter.start},
    )
    order = list(charts.MEASURE_TITLES)
    rows = []
    for r in sorted(frame.itertuples(index=False), key=lambda r: (order.index(r.measure_id)
                                                                   if r.measure_id in order else len(order))):
        month = r.month_start.date() if isinstance(r.month_start, dt.datetime) else r.month_start
        signals = [text for flag, text in ((r.signal_outside_limits, "outside the limits"),
                                           (r.signal_run_of_7, "run of 7 on one side")) if _plain(flag)]
        rows.append([charts.MEASURE_TITLES.get(r.measure_id, r.measure_id), month.strftime("%Y-%m"), _plain(r.n),
                     _plain(r.centre), _plain(r.lower_limit), _plain(r.upper_limit), _plain(r.signal_value),
                     "; ".join(signals) or None])
    return rows


def data_quality_coverage(warehouse: Warehouse, quarter: FyQuarter) -> list[list[object]]:
    """DQ_COVERAGE_TABLE rows: each month of the FY to the quarter's end, valid rows per feed
    (empty = the feed does not cover the month)."""
    counts: dict[tuple[str, dt.date], int] = {}
    if warehouse.table_exists(COVERAGE_MODEL):
        frame = warehouse.query_df(
            f"select feed, month_start, valid_rows from {COVERAGE_MODEL} where month_start between :a and :b",
            {"a": FyQuarter(quarter.fy_start_year, 1).start, "b": quarter.end},
        )
        for r in frame.itertuples(index=False):
            month = r.month_start.date() if isinstance(r.month_start, dt.datetime) else r.month_start
            counts[(str(r.feed), month)] = _plain(r.valid_rows)
    rows, month = [], FyQuarter(quarter.fy_start_year, 1).start
    while month <= quarter.end:
        rows.append([month.strftime("%Y-%m")] + [counts.get((feed, month)) for feed in COVERAGE_FEEDS])
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return rows


# --------------------------------------------------------------------------- registry


def ensure_registry(warehouse: Warehouse) -> None:
    warehouse.execute(REGISTRY_DDL)


def registry_rows(warehouse: Warehouse, path: Path | None = None):
    """The registry as a frame (optionally one path's rows), newest first."""
    where, params = ("where path = :p", {"p": str(path)}) if path is not None else ("", {})
    return warehouse.query_df(f"select * from {REGISTRY_TABLE} {where} order by generated_at desc, id", params)


def _register(warehouse: Warehouse, rendered: RenderedReturn, run_id: str | None) -> None:
    # One row per version of a file: an unchanged re-render adds nothing (unless the registry
    # lost it, e.g. a new warehouse over existing returns, when the file's own provenance is used).
    if rendered.action == "unchanged":
        known = warehouse.scalar(
            f"select count(*) from {REGISTRY_TABLE} where path = :p and sha256 = :s",
            {"p": str(rendered.path), "s": rendered.sha256},
        )
        if known:
            return
    warehouse.execute(
        f"insert into {REGISTRY_TABLE} (id, hwb_code, quarter_start, fy_label, path, sha256, generated_at, "
        "complete, missing, run_id, action) values (:id, :hwb, :q, :fy, :path, :sha, :at, :complete, :missing, :run, :action)",
        {
            "id": uuid.uuid4().hex, "hwb": rendered.hwb_code, "q": rendered.quarter.start,
            "fy": rendered.quarter.fy_label, "path": str(rendered.path), "sha": rendered.sha256,
            "at": rendered.generated_at, "complete": rendered.complete,
            "missing": ",".join(rendered.missing) or None, "run": run_id, "action": rendered.action,
        },
    )


# --------------------------------------------------------------------------- render


def render_return(warehouse: Warehouse, hwb_code: str, quarter: FyQuarter, *, returns_dir: Path, template: Path,
                  run_id: str | None, generated_at: dt.datetime | None = None,
                  shared_tables: dict[str, list[list[object]]] | None = None,
                  inputs_dir: Path | None = None) -> RenderedReturn:
    """Fill, write and register one HWB's return for the quarter.

    With `inputs_dir` (the landing zone's `inputs/`), the commissioner answers file of the return
    fills the answer cells; no file leaves them empty (the Checklist then says incomplete); an
    invalid file raises InputsError before anything is written."""
    generated_at = generated_at or _utc_now()
    values = cell_values(warehouse, hwb_code, quarter)
    if not values:
        raise ReturnNotProduced(f"{CELLS_MODEL} has no cells for {hwb_code} {quarter.label}")
    values.update({
        "PIPELINE_VERSION": pipeline_version(),
        "METRIC_DEFINITIONS_VERSION": metric_definitions_version(),
        "GENERATED_AT": generated_at,
        "RUN_ID": run_id,
    })
    tables = dict(shared_tables) if shared_tables is not None else {
        "PROVENANCE_DELIVERIES_TABLE": provenance_deliveries(warehouse),
        "DQ_RULES_TABLE": data_quality_rules(warehouse),
    }
    if inputs_dir is not None:
        answers, answers_file = load_answers(inputs_dir, hwb_code, quarter.fy_label, quarter.number)
        if answers is not None:
            values.update(to_defined_names(answers))
            # the answers file is an input delivery of this return: its SHA-256 goes in Provenance
            sha = hashlib.sha256(answers_file.read_bytes()).hexdigest()
            tables["PROVENANCE_DELIVERIES_TABLE"] = list(tables.get("PROVENANCE_DELIVERIES_TABLE", [])) + [
                ["inputs", f"{hwb_code}/{answers_file.name}", sha, "loaded", None]]
    tables["DQ_COVERAGE_TABLE"] = data_quality_coverage(warehouse, quarter)
    tables.setdefault("DQ_MONTHLY_TABLE", data_quality_monthly(warehouse))
    tables["DASH_XMR_TABLE"] = xmr_rows(warehouse, hwb_code, quarter)
    localities = slot_localities(values)
    wb = workbook.fill_template(template, values, tables, localities)
    charts.add_xmr_charts(wb, tables["DASH_XMR_TABLE"])  # drawn from the table's cells just written
    complete, missing = workbook.template_status(wb)
    fingerprint = workbook.content_fingerprint(values, tables, localities)  # what fill_template wrote
    result = workbook.write_return(wb, returns_dir, hwb_code, quarter.fy_label, quarter.number, fingerprint)
    written_at = generated_at
    if result.action == "unchanged":
        # the file on disk keeps the provenance of the run that wrote it
        on_disk = workbook.read_defined_values(result.path).get("GENERATED_AT")
        written_at = on_disk if isinstance(on_disk, dt.datetime) else generated_at
    rendered = RenderedReturn(hwb_code, quarter, result.path, result.sha256, result.action, complete, missing,
                              written_at, result.superseded_path)
    _register(warehouse, rendered, run_id if result.action != "unchanged" else _file_run_id(result.path, run_id))
    return rendered


def _file_run_id(path: Path, default: str | None) -> str | None:
    value = workbook.read_defined_values(path).get("RUN_ID")
    return value if isinstance(value, str) and value else default


def render_returns(warehouse: Warehouse, quarter: FyQuarter, *, returns_dir: Path, template: Path,
                   run_id: str | None, hwb_codes: Sequence[str] | None = None,
                   inputs_dir: Path | None = None) -> list[RenderedReturn]:
    """Every HWB's return for the quarter (or only `hwb_codes`, each of which must have cells).

    An HWB whose answers file is invalid gets no return; the others are still rendered, then
    ReturnNotProduced is raised with every invalid file's problems."""
    returns_dir = Path(returns_dir).resolve()  # the registry holds absolute paths, usable from anywhere
    available = hwbs_with_cells(warehouse, quarter)
    if hwb_codes:
        absent = [h for h in hwb_codes if h not in available]
        if absent:
            raise ReturnNotProduced(
                f"no figures for {', '.join(absent)} in {quarter.label} "
                f"(HWBs with figures: {', '.join(available) or 'none'})"
            )
        wanted = list(dict.fromkeys(hwb_codes))
    else:
        wanted = available
    if not wanted:
        raise ReturnNotProduced(
            f"no figures for {quarter.label}: the feeds do not cover it "
            f"(see int_calendar__fy_quarters for the quarters they cover)"
        )
    ensure_registry(warehouse)
    shared = {
        "PROVENANCE_DELIVERIES_TABLE": provenance_deliveries(warehouse),
        "DQ_RULES_TABLE": data_quality_rules(warehouse),
        "DQ_MONTHLY_TABLE": data_quality_monthly(warehouse),
    }
    generated_at = _utc_now()
    rendered, invalid = [], []
    for hwb in wanted:
        try:
            rendered.append(render_return(warehouse, hwb, quarter, returns_dir=returns_dir, template=template,
                                          run_id=run_id, generated_at=generated_at, shared_tables=shared,
                                          inputs_dir=inputs_dir))
        except InputsError as exc:
            invalid.append(f"{hwb} {quarter.label}: {exc}")
    if invalid:
        done = ", ".join(f"{r.hwb_code} -> {r.path}" for r in rendered) or "none"
        raise InvalidAnswers("\n".join(invalid) + f"\n(returns written for the other HWBs: {done})")
    return rendered
