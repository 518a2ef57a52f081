"""The exact figures of one HWB's place dashboard for one quarter, read from the marts.

Belongs here: which warehouse rows the published dashboard shows (fct_place_dashboard_quarterly for
the quarter and YTD by locality, targets and RAG; fct_place_dashboard_monthly_xmr for the monthly
XmR view of each `ALL` measure: 24 months, centre line, limits and signals) and the measures'
titles (from the mart's .yml, the metric catalogue's source).
Does not: compute a count, target, RAG or SPC statistic (SQL does), disclosure control (disclosure.py), or
formatting (publish.py, charts.py, render.py). Values here are exact and never published as is.
"""

import datetime as dt
import math
from dataclasses import dataclass, field

from cb_pipeline.lib import sql_models
from cb_pipeline.lib.periods import FyQuarter
from cb_pipeline.lib.warehouse import Warehouse

QUARTERLY_MODEL = "fct_place_dashboard_quarterly"
XMR_MODEL = "fct_place_dashboard_monthly_xmr"
LOCALITIES_MODEL = "int_reference__hwb_localities"
READS_MODELS = (QUARTERLY_MODEL, XMR_MODEL, LOCALITIES_MODEL)
OUTSIDE, RUN = "outside limits", "run of 7"

# The seed dashboard's order and sections (presentation only; unknown measures follow, by id).
MEASURE_ORDER = ("dash_ed_resp_0_4", "dash_nel_resp_0_4", "dash_ae_att", "dash_nel", "dash_readm30", "dash_dtoc",
                 "dash_ch_callout", "dash_ch_convey", "dash_ch_admit")
SECTIONS = {
    "dash_ed_resp_0_4": "Paediatric non-elective activity", "dash_nel_resp_0_4": "Paediatric non-elective activity",
    "dash_ae_att": "Transitions of care", "dash_nel": "Transitions of care", "dash_readm30": "Transitions of care",
    "dash_dtoc": "Transitions of care",
    "dash_ch_callout": "Care homes", "dash_ch_convey": "Care homes", "dash_ch_admit": "Care homes",
}


class DashboardNotProduced(Exception):
    """No figures for the HWB and quarter (or the marts are missing); says why."""


def _int(value) -> int | None:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return int(value)


def _float(value) -> float | None:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return str(value)


def _date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return value.to_pydatetime().date()  # pandas Timestamp


@dataclass(frozen=True)
class Locality:
    code: str
    name: str


@dataclass(frozen=True)
class Figure:
    """One measure at one locality (or ALL): exact counts, and on ALL the target and RAG."""

    actual_q: int | None
    actual_ytd: int | None
    target_ytd: float | None = None
    rag: str | None = None


@dataclass(frozen=True)
class MonthlySeries:
    """The XmR view of an ALL measure (fct_place_dashboard_monthly_xmr), oldest month first:
    count None = the feed does not cover the month; signals per month: () or the reasons."""

    months: tuple[dt.date, ...] = ()
    counts: tuple[int | None, ...] = ()
    signals: tuple[tuple[str, ...], ...] = ()
    centre: float | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class Measure:
    measure_id: str
    title: str
    section: str
    figures: dict[str, Figure]  # locality code (and "ALL") -> figure
    series: MonthlySeries


@dataclass(frozen=True)
class DashboardFigures:
    hwb_code: str
    hwb_name: str
    quarter: FyQuarter
    localities: list[Locality]  # the HWB's localities, by code, without ALL
    measures: list[Measure] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        """Measures whose whole-HWB YTD figure could not be produced (no coverage)."""
        return [m.measure_id for m in self.measures if m.figures.get("ALL", Figure(None, None)).actual_ytd is None]


def measure_titles() -> dict[str, str]:
    models = sql_models.discover()
    spec = models[QUARTERLY_MODEL].spec if QUARTERLY_MODEL in models else {}
    return {str(m["id"]): " ".join(str(m.get("title", m["id"])).split())
            for m in (spec.get("metrics") or []) if isinstance(m, dict) and "id" in m}


def _require(warehouse: Warehouse, table: str) -> None:
    if not warehouse.table_exists(table):
        raise DashboardNotProduced(f"table {table} is not in the warehouse (materialise the SQL models first)")


def hwbs_with_figures(warehouse: Warehouse, quarter: FyQuarter) -> list[str]:
    _require(warehouse, QUARTERLY_MODEL)
    frame = warehouse.query_df(
        f"select distinct hwb_code from {QUARTERLY_MODEL} where quarter_start = :q order by hwb_code",
        {"q": quarter.start})
    return [str(h) for h in frame["hwb_code"]]


def _order(measure_id: str) -> tuple[int, str]:
    return (MEASURE_ORDER.index(measure_id) if measure_id in MEASURE_ORDER else len(MEASURE_ORDER), measure_id)


def read_series(warehouse: Warehouse, hwb_code: str, quarter: FyQuarter) -> dict[str, MonthlySeries]:
    frame = warehouse.query_df(
        f"select measure_id, month_start, n, centre, lower_limit, upper_limit, signal_outside_limits, "
        f"signal_run_of_7 from {XMR_MODEL} where hwb_code = :h and quarter_start = :q order by measure_id, month_start",
        {"h": hwb_code, "q": quarter.start})
    rows: dict[str, list] = {}
    for r in frame.itertuples(index=False):
        rows.setdefault(str(r.measure_id), []).append(r)
    series = {}
    for measure, points in rows.items():
        stats = next((p for p in points if _int(p.n) is not None), None)
        series[measure] = MonthlySeries(
            tuple(_date(p.month_start) for p in points),
            tuple(_int(p.n) for p in points),
            tuple(tuple(reason for flag, reason in ((p.signal_outside_limits, OUTSIDE), (p.signal_run_of_7, RUN))
                        if bool(flag)) for p in points),
            _float(stats.centre) if stats is not None else None,
            _float(stats.lower_limit) if stats is not None else None,
            _float(stats.upper_limit) if stats is not None else None,
        )
    return series


def read_figures(warehouse: Warehouse, hwb_code: str, quarter: FyQuarter) -> DashboardFigures:
    for table in READS_MODELS:
        _require(warehouse, table)
    rows = warehouse.query_df(
        f"select measure_id, locality_code, actual_q, actual_ytd, target_ytd, rag from {QUARTERLY_MODEL} "
        "where hwb_code = :h and quarter_start = :q", {"h": hwb_code, "q": quarter.start})
    if rows.empty:
        raise DashboardNotProduced(f"{QUARTERLY_MODEL} has no rows for {hwb_code} {quarter.label}")
    places = warehouse.query_df(
        f"select locality_code, locality_name, is_all from {LOCALITIES_MODEL} where hwb_code = :h "
        "order by locality_code", {"h": hwb_code})
    hwb_name = hwb_code
    localities = []
    for p in places.itertuples(index=False):
        if bool(p.is_all):
            hwb_name = _text(p.locality_name) or hwb_code
        else:
            localities.append(Locality(str(p.locality_code), _text(p.locality_name) or str(p.locality_code)))

    series = read_series(warehouse, hwb_code, quarter)
    titles = measure_titles()
    by_measure: dict[str, dict[str, Figure]] = {}
    for r in rows.itertuples(index=False):
        measure = str(r.measure_id)
        by_measure.setdefault(measure, {})[str(r.locality_code)] = Figure(
            _int(r.actual_q), _int(r.actual_ytd), _float(r.target_ytd), _text(r.rag))
    measures = [
        Measure(m, titles.get(m, m), SECTIONS.get(m, "Other measures"), by_measure[m],
                series.get(m, MonthlySeries()))
        for m in sorted(by_measure, key=_order)
    ]
    return DashboardFigures(hwb_code, hwb_name, quarter, localities, measures)
