"""Which figures the published dashboard shows and in what form, on a hand-made dashboard.

What belongs here: cb_pipeline/dashboard/publish.py and charts.py over DashboardFigures built by
hand (every expected value worked out here): totals from exact values, the RAG and XmR statistics
and signals suppressed with their counts, the CSV rows, and the chart's elements.
What does not: the rule's arithmetic (test_disclosure.py) or reading the warehouse (test_published_dashboard.py).
"""

import csv
import datetime as dt
import io

from cb_pipeline.dashboard.charts import xmr_svg
from cb_pipeline.dashboard.figures import DashboardFigures, Figure, Locality, Measure, MonthlySeries
from cb_pipeline.dashboard.publish import CSV_COLUMNS, csv_text, publish
from cb_pipeline.lib.periods import FyQuarter

Q3 = FyQuarter(2018, 3)
MONTHS = (dt.date(2018, 9, 1), dt.date(2018, 10, 1), dt.date(2018, 11, 1), dt.date(2018, 12, 1))


def _dashboard() -> DashboardFigures:
    localities = [Locality("CV", "Chiltern Vale"), Locality("LB", "Leighton Buzzard"), Locality("IV", "Ivel Valley")]
    nel = Measure(
        "dash_nel", "Non-elective admissions", "Transitions of care",
        {"ALL": Figure(36, 100, 4392.0, "G"), "CV": Figure(12, 33), "LB": Figure(12, 33), "IV": Figure(12, 34)},
        # September not covered; October 3 (a signal, but suppressed), November 40 (a signal), December 0
        MonthlySeries(MONTHS, (None, 3, 40, 0), ((), ("outside limits",), ("outside limits", "run of 7"), ()),
                      14.33, -4.2, 32.87),
    )
    small = Measure(
        "dash_ed_resp_0_4", "A&E attendances for respiratory conditions, children aged 0-4",
        "Paediatric non-elective activity",
        {"ALL": Figure(10, 5, 3.0, "R"), "CV": Figure(3, 1), "LB": Figure(3, 2), "IV": Figure(4, 2)},
        MonthlySeries(MONTHS, (1, 2, 0, 2), ((), (), (), ()), 1.25, -1.41, 3.91),  # total 5: suppressed
    )
    return DashboardFigures("E06000056", "Central Bedfordshire", Q3, localities, [small, nel])


def test_totals_are_computed_before_rounding():
    pub = publish(_dashboard())
    nel = pub.measures[1].figures
    assert [nel[c].actual_q for c in ("CV", "LB", "IV")] == ["10", "10", "10"]
    assert nel["ALL"].actual_q == "35"  # exact 36, not 10 + 10 + 10
    assert (nel["ALL"].actual_ytd, nel["CV"].actual_ytd, nel["IV"].actual_ytd) == ("100", "35", "35")
    small = pub.measures[0].figures
    assert [small[c].actual_q for c in ("CV", "LB", "IV")] == ["*", "*", "*"]
    assert small["ALL"].actual_q == "10"  # 3 + 3 + 4


def test_target_rag_and_their_suppression():
    pub = publish(_dashboard())
    nel, small = pub.measures[1].figures["ALL"], pub.measures[0].figures["ALL"]
    assert (nel.target_ytd, nel.rag) == ("4390", "G")  # 4392 -> 4390
    # YTD actual 5 is suppressed, so its RAG is too; the target 3 is a count below 8 as well
    assert (small.actual_ytd, small.target_ytd, small.rag) == ("*", "*", "*")


def test_xmr_points_statistics_and_signals():
    series = publish(_dashboard()).measures[1].series
    assert [p.value for p in series.points] == ["", "*", "40", "0"]
    assert [p.signal for p in series.points] == ["", "*", "outside limits; run of 7", ""]
    assert (series.mean, series.lower, series.upper) == ("14.33", "-4.20", "32.87")
    small = publish(_dashboard()).measures[0].series  # the window's total is 5: statistics suppressed
    assert (small.mean, small.lower, small.upper) == ("*", "*", "*")
    assert [p.value for p in small.points] == ["*", "*", "0", "*"]


def test_csv_has_the_same_figures_and_no_count_between_1_and_7():
    pub = publish(_dashboard())
    rows = list(csv.DictReader(io.StringIO(csv_text(pub))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS

    def value(measure, locality, period_type, figure, period=None):
        found = [r["value"] for r in rows if (r["measure_id"], r["locality_code"], r["period_type"], r["figure"])
                 == (measure, locality, period_type, figure) and (period is None or r["period"] == period)]
        assert len(found) == 1, (measure, locality, period_type, figure, period)
        return found[0]

    assert value("dash_nel", "ALL", "quarter", "count") == "35"
    assert value("dash_nel", "ALL", "ytd", "target") == "4390"
    assert value("dash_nel", "ALL", "ytd", "rag") == "G"
    assert value("dash_nel", "ALL", "month", "count", "2018-11") == "40"
    assert value("dash_nel", "ALL", "month", "xmr_signal", "2018-10") == "*"
    assert value("dash_nel", "ALL", "months", "xmr_mean") == "14.33"
    assert value("dash_nel", "ALL", "months", "xmr_lower_limit") == "-4.20"  # a number, not an escaped formula
    assert value("dash_ed_resp_0_4", "LB", "ytd", "count") == "*"
    assert all(r["period"] == "2018-19 Q1-Q3" for r in rows if r["period_type"] == "ytd")
    for r in rows:
        if r["figure"] in ("count", "target") and r["value"] not in ("", "*", "0"):
            assert int(r["value"]) >= 10 and int(r["value"]) % 5 == 0, r


def test_chart_marks_signals_suppressed_and_uncovered_months():
    pub = publish(_dashboard())
    svg = xmr_svg(pub.measures[1].series, measure_id="dash_nel", title="Non-elective admissions")
    assert svg.startswith("<svg") and 'class="xmr-chart"' in svg and 'data-measure="dash_nel"' in svg
    assert svg.count('class="xmr-point') == 2  # November and December; October is suppressed, September uncovered
    assert svg.count("xmr-signal") == 1  # November only: a suppressed point's signal is not shown
    assert svg.count('class="xmr-suppressed"') == 1
    assert 'class="xmr-mean"' in svg and 'class="xmr-upper"' in svg
    assert 'class="xmr-lower"' not in svg  # -4.2 is below the axis
    assert "<script" not in svg and "href" not in svg
    empty = xmr_svg(pub.measures[0].series, measure_id="dash_ed_resp_0_4", title="x")
    assert 'class="xmr-mean"' not in empty  # suppressed statistics draw no line
