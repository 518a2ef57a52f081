"""dtoc (agency split, supersede, a missing month, rate per 100,000 adults per day), the ambulance
dashboard measures, RAG at exactly the target and at 5% over, and income and expenditure."""

import pytest

from cb_pipeline_tests.metrics.scenario import (
    DTOC_HEADER, HWB_A, HWB_B, LSOA_A1, LSOA_A3, LSOA_B1, NA, ON_TRACK, Q1, Q2, Q3, Scenario, flat_population, months,
)


def place_scenario() -> Scenario:
    # dtoc misses November 2018
    s = Scenario(cover_dtoc=[m for m in months("2018-04", "2018-12") if m != "2018-11"])
    # 100 persons per age: 18+ = 72 x 100 + 100 (90+) = 7,300
    s.population(2017, HWB_A, flat_population(100.0))
    s.population(2017, HWB_B, flat_population(100.0))
    s.delayed("2018-04", 10)
    s.delayed("2018-05", 4, agency="Social Care")
    s.delayed("2018-06", 1, agency="Both")
    s.delayed("2018-07", 6)                        # re-sent below as 9
    s.delayed("2018-08", 0)
    s.delayed("2018-09", 5, agency="Social Care")
    s.delayed("2018-10", 3)
    s.delayed("2018-07", 7, la_code=HWB_B)
    s.raw_deliveries.append(("dtoc", "20220402T0000_dtoc_resend.csv", DTOC_HEADER, [
        {"Period": "2018-07", "Provider_Code": "RXA", "LA_Code": HWB_A, "Agency": "NHS", "Type_of_Care": "Acute",
         "Reason": "A", "Delayed_Days": "9"}]))
    for q, t in ((1, 15), (2, 14)):
        s.target("dtoc", q, t)
        s.target("dash_dtoc", q, t)
    # care home call-outs: Q1 10 in AN (5 conveyed), Q2 6 in AN and 5 in AS (6 conveyed)
    for i in range(10):
        s.incident(f"2018-05-{i + 1:02d}", outcome="CONVEY_ED" if i < 5 else "SEE_AND_TREAT")
    for i in range(11):
        s.incident(f"2018-08-{i + 1:02d}", incident_lsoa11=LSOA_A1 if i < 6 else LSOA_A3,
                   outcome="CONVEY_OTHER" if i < 6 else "HEAR_AND_TREAT")
    s.incident("2018-08-20", location_type="HOME")                   # not a care home
    s.incident("2018-08-21", incident_lsoa11=LSOA_B1)                # Betaford
    # YTD callouts 21 against 20 (exactly 5% over: A); conveyed 11 against 10 (10% over: R)
    for q in (1, 2):
        s.target("dash_ch_callout", q, 10)
        s.target("dash_ch_convey", q, 5)
    return s


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    return place_scenario().build(tmp_path_factory.mktemp("place"))


def test_dtoc_quarter_agency_split_ytd_rate_and_supersede(place):
    q2 = place.metric("dtoc", Q2)
    # Q2: NHS 9 (the re-sent July figure, not 6), Social Care 5, Both 0; YTD 15 + 14
    assert (q2["actual_q"], q2["days_nhs_q"], q2["days_social_care_q"], q2["days_both_q"], q2["actual_ytd"]) == (
        14, 9, 5, 0, 29)
    # 14 days / 92 days / 7,300 adults x 100,000 = 2.085 -> 2.1
    assert (q2["rate_q"], q2["population_denominator"]) == (2.1, 7300)
    # assessed on YTD days: 29 <= 15 + 14 (exactly at the plan)
    assert (q2["plan_ytd"], q2["assessment"]) == (29, ON_TRACK)
    assert place.metric("dtoc", Q2, hwb=HWB_B)["actual_q"] == 7
    q1 = place.cells(Q1)
    assert (q1["DTOC_DAYS_Q"], q1["DTOC_DAYS_NHS_Q"], q1["DTOC_DAYS_SOCIAL_CARE_Q"], q1["DTOC_DAYS_BOTH_Q"],
            q1["DTOC_DAYS_YTD"], q1["DTOC_RATE_Q"]) == (15, 10, 4, 1, 15, 2.3)  # 15 / 91 / 7,300 x 100,000 = 2.258


def test_dtoc_month_missing_from_the_feed_empties_the_quarter(place):
    cells = place.cells(Q3)
    for name in ("DTOC_DAYS_Q", "DTOC_DAYS_NHS_Q", "DTOC_DAYS_SOCIAL_CARE_Q", "DTOC_DAYS_BOTH_Q", "DTOC_DAYS_YTD",
                 "DTOC_RATE_Q", "DASH_DTOC_ALL_Q", "DASH_DTOC_ALL_YTD", "DASH_DTOC_ALL_RAG"):
        assert cells[name] is None, name
    assert cells["DTOC_ASSESSMENT"] == NA


def test_dash_dtoc_is_all_only_and_green_at_exactly_the_target(place):
    assert [r["locality_code"] for r in place.rows(
        "select locality_code from fct_place_dashboard_quarterly where measure_id = 'dash_dtoc' and hwb_code = :h "
        "and quarter_start = '2018-07-01'", h=HWB_A)] == ["ALL"]
    d = place.dash("dash_dtoc", Q2)
    assert (d["actual_q"], d["actual_ytd"], d["target_ytd"], d["rag"]) == (14, 29, 29, "G")


def test_ambulance_care_home_measures_by_incident_locality_and_rag(place):
    callout = {loc: (place.dash("dash_ch_callout", Q2, loc)["actual_q"], place.dash("dash_ch_callout", Q2, loc)["actual_ytd"])
               for loc in ("AN", "AS", "ALL")}
    assert callout == {"AN": (6, 16), "AS": (5, 5), "ALL": (11, 21)}
    convey = {loc: (place.dash("dash_ch_convey", Q2, loc)["actual_q"], place.dash("dash_ch_convey", Q2, loc)["actual_ytd"])
              for loc in ("AN", "AS", "ALL")}
    assert convey == {"AN": (6, 11), "AS": (0, 0), "ALL": (6, 11)}
    # 21 <= 1.05 x 20: amber at exactly 5% over; 11 > 1.05 x 10: red
    assert (place.dash("dash_ch_callout", Q2)["target_ytd"], place.dash("dash_ch_callout", Q2)["rag"]) == (20, "A")
    assert (place.dash("dash_ch_convey", Q2)["target_ytd"], place.dash("dash_ch_convey", Q2)["rag"]) == (10, "R")
    # Q1: 10 <= 10 green; Betaford's one call-out, no target
    assert place.dash("dash_ch_callout", Q1)["rag"] == "G"
    b = place.dash("dash_ch_callout", Q2, hwb=HWB_B)
    assert (b["actual_q"], b["rag"]) == (1, "No Target")
    cells = place.cells(Q2)
    assert (cells["DASH_CH_CALLOUT_ALL_YTD"], cells["DASH_CH_CALLOUT_ALL_RAG"], cells["DASH_CH_CONVEY_LOC2_Q"]) == (
        21, "A", 0)


def test_income_and_expenditure(build):
    s = Scenario()
    s.finance_line(1, "INCOME", "IBCF", 1000.00, 999.99)
    s.finance_line(2, "INCOME", "IBCF", 1000.00, 1000.01)
    s.finance_line(1, "INCOME", "ADDITIONAL_LA", 10.10, 10.10, scheme="S2")
    s.finance_line(3, "INCOME", "IBCF", 1000.00, None)
    s.finance_line(1, "EXPENDITURE", "IBCF", 500, 400)
    s.finance_line(2, "EXPENDITURE", "IBCF", 500, 450.5)
    # Q3 has no expenditure line at all
    b = build(s)
    q2, q3 = b.cells(Q2), b.cells(Q3)
    # plan for the year, whatever the quarter: 1000 + 1000 + 10.10 + 1000; no DFG line: 0 (the HWB has income lines)
    assert (q2["INCOME_PLAN_FY"], q2["INCOME_PLAN_FY_IBCF"], q2["INCOME_PLAN_FY_ADDITIONAL_LA"],
            q2["INCOME_PLAN_FY_DFG"]) == (3010.1, 3000, 10.1, 0)
    # actual YTD Q2 = 999.99 + 10.10 + 1000.01 = 2010.10 (money to 2 dp, no binary noise)
    assert (q2["INCOME_ACTUAL_YTD"], q2["EXPENDITURE_PLAN_FY"], q2["EXPENDITURE_ACTUAL_YTD"]) == (2010.1, 1000, 850.5)
    # Q3: an empty income actual and a quarter without expenditure lines: both YTD figures empty
    assert (q3["INCOME_ACTUAL_YTD"], q3["EXPENDITURE_ACTUAL_YTD"], q3["INCOME_PLAN_FY"]) == (None, None, 3010.1)
    assert b.cells(Q1)["INCOME_ACTUAL_YTD"] == 1010.09
