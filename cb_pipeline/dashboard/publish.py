"""The published dashboard's figures: every exact figure passed through disclosure control, once.

Belongs here: which figures are published and in what form, built from DashboardFigures by calling
disclosure.py on each one; the CSV (the same figures the HTML page shows: render.py draws the page
from this PublishedDashboard only, never from exact values). Plan targets are treated as counts
(the rule covers anything published); the XmR centre line and limits (statistics of the series total,
2 decimal places as the mart gives them) and the RAG and SPC signals (from their counts) are suppressed with their counts.
No `% of target` is published: with an exact target it would undo the rounding of the actual.
Does not: read the warehouse (figures.py), the rule itself (disclosure.py), HTML or SVG (render.py,
charts.py).
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass

from cb_pipeline.dashboard import disclosure
from cb_pipeline.dashboard.figures import DashboardFigures, Figure, Locality
from cb_pipeline.lib.periods import FyQuarter

ALL = "ALL"
CSV_COLUMNS = ("hwb_code", "hwb_name", "quarter", "measure_id", "measure", "locality_code", "locality",
               "period_type", "period", "figure", "value")


@dataclass(frozen=True)
class PublishedFigure:
    actual_q: str
    actual_ytd: str
    target_ytd: str = ""
    rag: str = ""


@dataclass(frozen=True)
class PublishedPoint:
    month: dt.date
    value: str  # '' = month not covered, '*', or a published count
    signal: str  # '' (none), '*' (point suppressed), or the reasons joined by '; '


@dataclass(frozen=True)
class PublishedSeries:
    points: tuple[PublishedPoint, ...]
    mean: str
    upper: str
    lower: str


@dataclass(frozen=True)
class PublishedMeasure:
    measure_id: str
    title: str
    section: str
    figures: dict[str, PublishedFigure]  # ALL first, then the localities in order
    series: PublishedSeries


@dataclass(frozen=True)
class PublishedDashboard:
    hwb_code: str
    hwb_name: str
    quarter: FyQuarter
    localities: list[Locality]
    measures: list[PublishedMeasure]
    missing: list[str]

    @property
    def ytd_period(self) -> str:
        return f"{self.quarter.fy_label} Q1-Q{self.quarter.number}" if self.quarter.number > 1 else self.quarter.label


def _target(value: float | None) -> str:
    if value is None:
        return disclosure.EMPTY
    return disclosure.publish_count(int(disclosure.round_half_away(value, 0)))


def publish_figure(figure: Figure, is_all: bool) -> PublishedFigure:
    q, ytd = disclosure.publish_count(figure.actual_q), disclosure.publish_count(figure.actual_ytd)
    if not is_all:
        return PublishedFigure(q, ytd)
    return PublishedFigure(q, ytd, _target(figure.target_ytd), disclosure.publish_derived(figure.rag, figure.actual_ytd))


def publish(figures: DashboardFigures) -> PublishedDashboard:
    measures = []
    for m in figures.measures:
        published = {}
        for code in [ALL] + [loc.code for loc in figures.localities]:
            if code in m.figures:
                published[code] = publish_figure(m.figures[code], code == ALL)
        s = m.series
        covered = [c for c in s.counts if c is not None]
        total = sum(covered) if covered else None
        points = []
        for month, count, reasons in zip(s.months, s.counts, s.signals):
            if count is None:
                points.append(PublishedPoint(month, disclosure.EMPTY, disclosure.EMPTY))
            else:
                points.append(PublishedPoint(month, disclosure.publish_count(count),
                                             disclosure.publish_derived("; ".join(reasons), count)))
        # the mart gives centre and limits to 2 dp: published as they are (no second rounding)
        series = PublishedSeries(
            tuple(points),
            disclosure.publish_rate(s.centre, total, decimals=2),
            disclosure.publish_rate(s.upper, total, decimals=2),
            disclosure.publish_rate(s.lower, total, decimals=2),
        )
        measures.append(PublishedMeasure(m.measure_id, m.title, m.section, published, series))
    return PublishedDashboard(figures.hwb_code, figures.hwb_name, figures.quarter, list(figures.localities),
                              measures, figures.missing)


def csv_rows(pub: PublishedDashboard) -> list[tuple[str, ...]]:
    names = {loc.code: loc.name for loc in pub.localities}
    names[ALL] = pub.hwb_name
    head = (pub.hwb_code, pub.hwb_name, pub.quarter.label)
    rows = []
    for m in pub.measures:
        for code, f in m.figures.items():
            where = head + (m.measure_id, m.title, code, names.get(code, code))
            rows.append(where + ("quarter", pub.quarter.label, "count", f.actual_q))
            rows.append(where + ("ytd", pub.ytd_period, "count", f.actual_ytd))
            if code == ALL:
                rows.append(where + ("ytd", pub.ytd_period, "target", f.target_ytd))
                rows.append(where + ("ytd", pub.ytd_period, "rag", f.rag))
        where = head + (m.measure_id, m.title, ALL, pub.hwb_name)
        points = m.series.points
        span = f"{points[0].month:%Y-%m}..{points[-1].month:%Y-%m}" if points else ""
        rows.append(where + ("months", span, "xmr_mean", m.series.mean))
        rows.append(where + ("months", span, "xmr_upper_limit", m.series.upper))
        rows.append(where + ("months", span, "xmr_lower_limit", m.series.lower))
        for p in points:
            rows.append(where + ("month", f"{p.month:%Y-%m}", "count", p.value))
            rows.append(where + ("month", f"{p.month:%Y-%m}", "xmr_signal", p.signal))
    return rows


def _no_formula(value):
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading quote,
    so a name such as `=HYPERLINK(...)` from a lookup stays text when the CSV is opened in Excel."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)  # a negative figure (an XmR lower limit) is a number, not a formula
        except ValueError:
            return "'" + value
    return value


def csv_text(pub: PublishedDashboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(tuple(_no_formula(v) for v in row) for row in csv_rows(pub))
    return out.getvalue()
