"""Great Expectations suites on the marts the return reads, run as Dagster asset checks, with Data Docs.

Belongs here: the suites (counts non-negative, percentages 0-100, every locality in every quarter,
the Data Quality figures reconciling, the same quarter last year within a plausible band), turning
a mart into the pandas frames they validate, building Data Docs into a folder beside the warehouse
(`data_docs/` next to the DuckDB file, or `CB_DATA_DOCS_DIR`) readable offline, and the asset check
definitions. Does not: compute any figure (dbt_like_sql), or the SQL models' own .yml tests
(lib/sql_models.py; these suites are a second, independent line of defence on the same marts).

Choices, and why:
- GX 1.x validates pandas frames, so each mart is read into pandas (it is small: one row per HWB,
  quarter and metric/measure/cell). Columns are coerced to float64 / datetime64 first (the driver
  returns Python objects, and GX's object-dtype handling is unreliable with pandas 3); only numeric
  expectations are used, string conditions are applied in pandas before validation.
- An ephemeral GX context per check: no project folder, config or store to keep in step; the Data
  Docs site of each mart is rebuilt from this run's results (`data_docs/<mart>/index.html`, with
  `data_docs/index.html` linking the three).
- Offline: analytics off (GX_ANALYTICS_ENABLED=false, set before GX is imported), and the pages'
  CDN stylesheets, scripts and remote images are removed and replaced by a small inline stylesheet,
  so a page opened from disk loads nothing from the network.
- `gx_suite` checks are blocking (ERROR): a negative count or a percentage over 100 means the SQL is
  wrong, and the return must not carry it. `gx_same_quarter_last_year` is a warning, never
  blocking: a large change can be real (a new service), so it is for a person to look at.
"""

import html
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from cb_pipeline.lib.warehouse import Warehouse

MARTS = ("fct_bcf_metrics_quarterly", "fct_place_dashboard_quarterly", "rpt_bcf_return__cells")
# Same quarter last year: a count outside [last / BAND, last x BAND] is flagged; counts under
# MIN_BASE last year are too small for a ratio to mean anything.
YOY_BAND = 2.0
YOY_MIN_BASE = 20
# A count column: never negative. Rates and populations are non-negative too.
_COUNT_COLUMNS = ("actual_q", "actual_ytd", "numerator_q", "denominator_q", "rate_q", "rate_ytd", "dsr_q",
                  "population_denominator", "target_q", "target_ytd", "plan_q", "plan_ytd")
_PCT_COLUMNS = ("pct_q",)
# Return cells that may legitimately be negative (none today; a variance or balance would be).
_SIGNED_CELLS = re.compile(r"VARIANCE|DIFF|CHANGE|BALANCE|NET_")
_DQ_CELL = re.compile(r"^DQ_(?P<feed>.+)_(?P<part>ROWS_IN|VALID|QUARANTINED|SUPERSEDED)$")


def data_docs_dir(warehouse_url: str, env: dict | None = None) -> Path:
    """`CB_DATA_DOCS_DIR`, else `data_docs/` beside a DuckDB warehouse file, else `./data/data_docs`."""
    env = os.environ if env is None else env
    # Absolute: Great Expectations refuses a relative site directory without a project root.
    if env.get("CB_DATA_DOCS_DIR"):
        return Path(env["CB_DATA_DOCS_DIR"]).resolve()
    if warehouse_url.startswith("duckdb:///") and ":memory:" not in warehouse_url:
        return (Path(warehouse_url[len("duckdb:///"):]).parent / "data_docs").resolve()
    return (Path("data") / "data_docs").resolve()


# --------------------------------------------------------------------------- frames to validate


@dataclass
class Validation:
    """One frame and its expectations: (kind, column, min, max) with kind `between`."""

    name: str
    frame: pd.DataFrame
    expectations: list[tuple[str, float | pd.Timestamp | None, float | pd.Timestamp | None]] = field(default_factory=list)


def _numeric(frame: pd.DataFrame, columns) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        if c in out:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    if "quarter_start" in out:
        out["quarter_start"] = pd.to_datetime(out["quarter_start"])
    return out


def _quarter_bounds() -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    return [("quarter_start", pd.Timestamp("2000-01-01"), pd.Timestamp("2100-01-01"))]


def _yoy(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Rows with a count this quarter and (>= YOY_MIN_BASE) in the same quarter last year: their ratio."""
    cur = frame[keys + ["quarter_start", value]].dropna(subset=[value])
    last = cur.rename(columns={value: "last_year"}).copy()
    last["quarter_start"] = last["quarter_start"] + pd.DateOffset(years=1)
    both = cur.merge(last, on=keys + ["quarter_start"], how="inner")
    both = both[both["last_year"] >= YOY_MIN_BASE]
    return pd.DataFrame({"ratio_to_same_quarter_last_year": (both[value] / both["last_year"]).astype("float64")})


def metrics_validations(mart: pd.DataFrame) -> tuple[list[Validation], list[Validation]]:
    m = _numeric(mart, _COUNT_COLUMNS + _PCT_COLUMNS)
    counts = [c for c in _COUNT_COLUMNS if c in m]
    blocking = [Validation("fct_bcf_metrics_quarterly", m[counts + [c for c in _PCT_COLUMNS if c in m] + ["quarter_start"]],
                           [(c, 0.0, None) for c in counts] + [(c, 0.0, 100.0) for c in _PCT_COLUMNS if c in m]
                           + _quarter_bounds())]
    warning = [Validation("fct_bcf_metrics_quarterly__same_quarter_last_year",
                          _yoy(m, ["hwb_code", "metric_id"], "actual_q"),
                          [("ratio_to_same_quarter_last_year", 1 / YOY_BAND, YOY_BAND)])]
    return blocking, warning


def locality_presence(mart: pd.DataFrame, localities: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (hwb, quarter, measure, expected locality or ALL): present = 1.0 if the mart has it.

    Every measure needs its `ALL` row in every quarter. A measure broken down by locality (it has
    a locality row for the HWB in some quarter; measures without one, such as delayed transfers
    reported by council, are whole-HWB only) needs every locality of the HWB in every quarter: those
    of its LSOAs in the reference lookup (hwb_code = la_code) and any the mart shows for it."""
    mart = mart.astype({"hwb_code": str, "measure_id": str, "locality_code": str})
    grid = mart[["hwb_code", "quarter_start", "measure_id"]].drop_duplicates()
    by_locality = mart.loc[mart["locality_code"] != "ALL", ["hwb_code", "measure_id"]].drop_duplicates()
    hwb_localities = mart.loc[mart["locality_code"] != "ALL", ["hwb_code", "locality_code"]]
    if localities is not None and len(localities):
        hwb_localities = pd.concat([hwb_localities, localities.astype(str)])
    expected = by_locality.merge(hwb_localities.drop_duplicates(), on="hwb_code", how="inner")
    all_rows = grid[["hwb_code", "measure_id"]].drop_duplicates().assign(locality_code="ALL")
    expected = pd.concat([expected, all_rows]).dropna().drop_duplicates()
    full = grid.merge(expected, on=["hwb_code", "measure_id"], how="inner")
    have = mart[["hwb_code", "quarter_start", "measure_id", "locality_code"]].drop_duplicates().assign(_have=1.0)
    out = full.merge(have, on=["hwb_code", "quarter_start", "measure_id", "locality_code"], how="left")
    return pd.DataFrame({"present": out["_have"].fillna(0.0).astype("float64")})


def dashboard_validations(mart: pd.DataFrame, localities: pd.DataFrame | None
                          ) -> tuple[list[Validation], list[Validation]]:
    m = _numeric(mart, _COUNT_COLUMNS)
    counts = [c for c in _COUNT_COLUMNS if c in m]
    blocking = [
        Validation("fct_place_dashboard_quarterly", m[counts + ["quarter_start"]],
                   [(c, 0.0, None) for c in counts] + _quarter_bounds()),
        Validation("fct_place_dashboard_quarterly__every_locality_every_quarter",
                   locality_presence(m, localities), [("present", 1.0, 1.0)]),
    ]
    all_rows = m[m["locality_code"].astype(str) == "ALL"]
    warning = [Validation("fct_place_dashboard_quarterly__same_quarter_last_year",
                          _yoy(all_rows, ["hwb_code", "measure_id"], "actual_q"),
                          [("ratio_to_same_quarter_last_year", 1 / YOY_BAND, YOY_BAND)])]
    return blocking, warning


def cells_validations(mart: pd.DataFrame) -> tuple[list[Validation], list[Validation]]:
    m = _numeric(mart, ("value_number",))
    names = m["defined_name"].astype(str)
    numbers = m["value_number"].notna()
    counts = m[numbers & ~names.str.contains(_SIGNED_CELLS)]
    pct = m[numbers & names.str.contains("_PCT")]
    # DQ_<FEED>_ROWS_IN = VALID + QUARANTINED + SUPERSEDED in every return (feeds.md)
    dq = m[numbers & names.str.match(_DQ_CELL)].copy()
    parts = dq["defined_name"].astype(str).str.extract(_DQ_CELL)
    dq = pd.concat([dq[["hwb_code", "quarter_start", "value_number"]], parts], axis=1)
    wide = dq.pivot_table(index=["hwb_code", "quarter_start", "feed"], columns="part", values="value_number",
                          aggfunc="sum")
    for part in ("ROWS_IN", "VALID", "QUARANTINED", "SUPERSEDED"):
        if part not in wide:
            wide[part] = np.nan
    gap = (wide["ROWS_IN"] - wide["VALID"] - wide["QUARANTINED"] - wide["SUPERSEDED"]).astype("float64")
    blocking = [
        Validation("rpt_bcf_return__cells__counts", pd.DataFrame({"value_number": counts["value_number"]}),
                   [("value_number", 0.0, None)]),
        Validation("rpt_bcf_return__cells__percentages", pd.DataFrame({"value_number": pct["value_number"]}),
                   [("value_number", 0.0, 100.0)]),
        Validation("rpt_bcf_return__cells__data_quality_reconciles",
                   pd.DataFrame({"rows_in_minus_valid_quarantined_superseded": gap.reset_index(drop=True)}),
                   [("rows_in_minus_valid_quarantined_superseded", 0.0, 0.0)]),
    ]
    return blocking, []


def mart_validations(warehouse: Warehouse, mart: str) -> tuple[list[Validation], list[Validation]]:
    frame = warehouse.query_df(f'select * from "{mart}"')
    if mart == "fct_bcf_metrics_quarterly":
        return metrics_validations(frame)
    if mart == "fct_place_dashboard_quarterly":
        localities = None
        if warehouse.table_exists("ref_lsoa_localities"):
            localities = warehouse.query_df(
                "select distinct la_code as hwb_code, locality_code from ref_lsoa_localities "
                "where locality_code is not null and la_code is not null")
        return dashboard_validations(frame, localities)
    if mart == "rpt_bcf_return__cells":
        return cells_validations(frame)
    raise KeyError(mart)


# --------------------------------------------------------------------------- running GX


@dataclass
class SuiteOutcome:
    passed: bool
    expectations: list[dict]  # one per expectation: frame, column, bounds, rows, unexpected (counts only)


def _gx():
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # before the import: GX reads it once
    import great_expectations as gx

    return gx


def run_validations(validations: list[Validation], context, suite_name: str) -> SuiteOutcome:
    """Validate each frame with its expectations in `context`; counts only in the outcome (never values)."""
    gx = _gx()
    source = context.data_sources.add_or_update_pandas(f"{suite_name}__source")
    results, ok = [], True
    for v in validations:
        asset = source.add_dataframe_asset(v.name)
        batch = asset.add_batch_definition_whole_dataframe("whole")
        suite = context.suites.add(gx.ExpectationSuite(name=v.name))
        for column, low, high in v.expectations:
            suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(
                column=column, min_value=low, max_value=high))
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=v.name, data=batch, suite=suite))
        result = definition.run(batch_parameters={"dataframe": v.frame.reset_index(drop=True)}, result_format="BASIC")
        ok = ok and bool(result.success)
        for r in result.results:
            kwargs = r.expectation_config.kwargs
            results.append({
                "frame": v.name, "column": kwargs.get("column"),
                "min": None if kwargs.get("min_value") is None else str(kwargs.get("min_value")),
                "max": None if kwargs.get("max_value") is None else str(kwargs.get("max_value")),
                "success": bool(r.success), "rows": int(r.result.get("element_count", len(v.frame)) or 0),
                "unexpected": int(r.result.get("unexpected_count", 0) or 0),
            })
    return SuiteOutcome(ok, results)


def new_context(site_dir: Path):
    gx = _gx()
    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(site_name="cb_pipeline", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(site_dir).resolve())},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    return context


_REMOTE_TAG = re.compile(
    r"<script[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>|<link[^>]*\bhref=[\"']https?://[^>]*>"
    r"|<img[^>]*\bsrc=[\"']https?://[^>]*>|<form[^>]*\baction=[\"']https?://.*?</form>", re.I | re.S)
_REMOTE_CSS = re.compile(r"url\(\s*[\"']?https?://[^)]*\)", re.I)
_INLINE_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
.text-danger,.fa-times{color:#b00}.text-success,.fa-check-circle{color:#070}
.collapse:not(.show){display:block}.d-none{display:none}a{color:#0645ad}
</style>"""


def make_offline(site_dir: Path) -> None:
    """Remove every reference to the network from the built pages (CDN styles, scripts, remote images)."""
    for path in site_dir.rglob("*"):
        if path.suffix == ".html":
            # plain <a href> links stay (they load nothing); anything the browser would fetch goes
            text = _REMOTE_CSS.sub("none", _REMOTE_TAG.sub("", path.read_text(encoding="utf-8")))
            text = text.replace("</head>", _INLINE_STYLE + "</head>", 1)
            path.write_text(text, encoding="utf-8")
        elif path.suffix == ".css":
            path.write_text(_REMOTE_CSS.sub("none", path.read_text(encoding="utf-8")), encoding="utf-8")


def write_root_index(docs_dir: Path) -> Path:
    index = docs_dir / "index.html"
    links = "".join(f'<li><a href="{html.escape(m)}/index.html">{html.escape(m)}</a></li>'
                    for m in MARTS if (docs_dir / m / "index.html").exists())
    index.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>cb-pipeline Data Docs</title>"
                     f"{_INLINE_STYLE}</head><body><h1>Great Expectations on the marts</h1><ul>{links}</ul>"
                     "</body></html>", encoding="utf-8")
    return index


@dataclass
class MartQuality:
    suite: SuiteOutcome
    same_quarter_last_year: SuiteOutcome
    docs_index: Path


def validate_mart(warehouse: Warehouse, mart: str, docs_dir: Path) -> MartQuality:
    """Run the mart's suites and rebuild its Data Docs site in `docs_dir/<mart>/`."""
    blocking, warning = mart_validations(warehouse, mart)
    site = docs_dir / mart
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True, exist_ok=True)
    context = new_context(site)
    suite = run_validations(blocking, context, f"{mart}__suite")
    yoy = run_validations(warning, context, f"{mart}__yoy")
    context.build_data_docs(site_names=["cb_pipeline"])
    make_offline(site)
    write_root_index(docs_dir)
    return MartQuality(suite, yoy, site / "index.html")


# --------------------------------------------------------------------------- Dagster checks


def _metadata(outcome: SuiteOutcome, docs: Path) -> dict:
    failed = [e for e in outcome.expectations if not e["success"]]
    return {
        "expectations": len(outcome.expectations),
        "failed_expectations": dg.MetadataValue.json(failed),
        "results": dg.MetadataValue.json(outcome.expectations),
        "data_docs": dg.MetadataValue.path(str(docs.resolve())),
        "data_docs_url": dg.MetadataValue.url(docs.resolve().as_uri()),
    }


def _mart_check(mart: str) -> dg.AssetChecksDefinition:
    from cb_pipeline.lib.dagster_assets import WarehouseResource

    @dg.multi_asset_check(
        name=f"gx_{mart}",
        specs=[
            dg.AssetCheckSpec("gx_suite", asset=mart, blocking=True, description=(
                "Great Expectations: counts non-negative, percentages 0-100, every locality in every quarter, "
                "Data Quality figures reconcile. Blocking. Data Docs: data_docs/ beside the warehouse.")),
            dg.AssetCheckSpec("gx_same_quarter_last_year", asset=mart, blocking=False, description=(
                f"Great Expectations, warning only: each quarter's count within x{YOY_BAND:g} of the same quarter "
                f"last year (when that was at least {YOY_MIN_BASE}).")),
        ],
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        wh = warehouse.warehouse()
        docs_dir = data_docs_dir(warehouse.url)
        quality = validate_mart(wh, mart, docs_dir)
        if not quality.suite.passed:
            failed = [f"{e['frame']}.{e['column']} ({e['unexpected']} rows outside {e['min']}..{e['max']})"
                      for e in quality.suite.expectations if not e["success"]]
            context.log.error(f"check {mart}:gx_suite failed: {'; '.join(failed)}. Look in {quality.docs_index}")
        yield dg.AssetCheckResult(asset_key=mart, check_name="gx_suite", passed=quality.suite.passed,
                                  severity=dg.AssetCheckSeverity.ERROR,
                                  metadata=_metadata(quality.suite, quality.docs_index))
        yield dg.AssetCheckResult(asset_key=mart, check_name="gx_same_quarter_last_year",
                                  passed=quality.same_quarter_last_year.passed, severity=dg.AssetCheckSeverity.WARN,
                                  metadata=_metadata(quality.same_quarter_last_year, quality.docs_index))

    return _check


def mart_expectation_checks(models: set[str] | None = None) -> list[dg.AssetChecksDefinition]:
    """One multi-check per mart the return reads (only those present in `models`, when given)."""
    return [_mart_check(m) for m in MARTS if models is None or m in models]
