"""The dashboard's monthly XmR view (fct_place_dashboard_monthly_xmr) on a hand-computed series.

Betaford's care home call-outs (ALL), 24 months 2017-01 .. 2018-12 (the window of 2018-19 Q3):
    months 1-10   4, 8, 4, 8, 4, 8, 4, 8, 4, 8   (alternate sides of the centre: no run)
    month 11      20                              (outside the limits)
    months 12-17  5 x 6                           (six below the centre: not yet a run)
    months 18-24  7 x 7                           (seven above the centre: a run)
sum 60 + 20 + 30 + 49 = 159, centre 159 / 24 = 6.625
moving ranges: 9 x 4 (months 1-10), |20 - 8| = 12, |5 - 20| = 15, 0 x 5, |7 - 5| = 2, 0 x 6
  = 65 over 23 ranges, mean 2.826087; 2.66 x 2.826087 = 7.517391
limits 6.625 +/- 7.517391 = -0.892391 .. 14.142391 (2 dp: -0.89, 14.14; centre 6.63)
"""

import datetime as dt

import pytest

from cb_pipeline_tests.metrics.scenario import HWB_B, LSOA_B1, Q3, Scenario, months

SERIES = [4, 8] * 5 + [20] + [5] * 6 + [7] * 7
WINDOW = months("2017-01", "2018-12")


@pytest.fixture(scope="module")
def xmr(tmp_path_factory):
    s = Scenario(cover_ambulance=months("2017-01", "2018-12"))
    for month, n in zip(WINDOW, SERIES):
        for i in range(n):
            s.incident(f"{month}-{i + 1:02d}", incident_lsoa11=LSOA_B1)
    return s.build(tmp_path_factory.mktemp("xmr"))


def _series(built, quarter, measure="dash_ch_callout"):
    return built.rows("select * from fct_place_dashboard_monthly_xmr where hwb_code = :h and quarter_start = :q "
                      "and measure_id = :m order by month_start", h=HWB_B, q=dt.date.fromisoformat(quarter), m=measure)


def test_centre_limits_and_both_signal_kinds(xmr):
    rows = _series(xmr, Q3)
    assert [str(r["month_start"])[:7] for r in rows] == WINDOW
    assert [r["month_number"] for r in rows] == list(range(1, 25))
    assert [r["n"] for r in rows] == SERIES
    assert {(r["centre"], r["lower_limit"], r["upper_limit"]) for r in rows} == {(6.63, -0.89, 14.14)}
    outside = [i + 1 for i, r in enumerate(rows) if r["signal_outside_limits"]]
    run = [i + 1 for i, r in enumerate(rows) if r["signal_run_of_7"]]
    assert outside == [11]
    assert run == list(range(18, 25))  # the six 5s below the centre are not a run
    assert [r["signal_value"] for r in rows] == [None] * 10 + [20] + [None] * 6 + [7] * 7
    assert rows[0]["moving_range"] is None and rows[10]["moving_range"] == 12


def test_months_the_feed_does_not_cover_have_no_value(xmr):
    # 2018-19 Q2's window is 2016-10 .. 2018-09; ambulance covers nothing before 2017-01
    rows = _series(xmr, "2018-07-01")
    assert [(str(r["month_start"])[:7], r["is_covered"], r["n"]) for r in rows[:4]] == [
        ("2016-10", False, None), ("2016-11", False, None), ("2016-12", False, None), ("2017-01", True, 4)]
    # a measure whose feed covers the month but has no events is 0, not empty
    nel = _series(xmr, Q3, "dash_nel")
    assert [r["n"] for r in nel][-9:] == [0] * 9 and nel[0]["n"] is None
