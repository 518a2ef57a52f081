"""res65 and reab (metrics.md), each clause by a hand-made person whose figure changes if the clause
is dropped. Persons are council client ids (LA_Person_Unique_Identifier); born 1940 (aged 78)
unless said otherwise."""

import pytest

from cb_pipeline_tests.metrics.scenario import (
    HWB_A, LSOA_UNKNOWN, NA, NOT_ON_TRACK, NURSING, ON_TRACK, Q1, Q2, Q3, Scenario, months, synthetic_nhs_number,
)


def res65_scenario() -> Scenario:
    s = Scenario()
    # the 365-day rule: an earlier placement ending 366 days before is history (A1 is admitted),
    # 365 or 364 days before makes the new placement a continuation (A3, A2)
    s.care_event("2017-01-01", "A1", "A1_OLD", end="2017-07-30")
    s.care_event("2018-07-31", "A1", "A1_NEW")                       # 2018-07-31 - 366 = 2017-07-30: admission, Q2
    s.care_event("2017-01-01", "A2", "A2_OLD", end="2017-08-01")
    s.care_event("2018-07-31", "A2", "A2_NEW")                       # 364 days: not an admission
    s.care_event("2017-01-01", "A3", "A3_OLD", end="2017-07-31")
    s.care_event("2018-07-31", "A3", "A3_NEW")                       # exactly 365 days: not an admission
    # a move between homes: the first placement is the admission (Q1), the second is not
    s.care_event("2018-04-10", "A4", "A4_HOME1", end="2018-08-01")
    s.care_event("2018-08-02", "A4", "A4_HOME2")
    # residential (still open, since 2016) to nursing: not an admission
    s.care_event("2016-01-04", "A5", "A5_RES")
    s.care_event("2018-08-15", "A5", "A5_NURSING", service_type=NURSING)
    # self-funded: never counts, but as an earlier placement it still makes a later one a move
    s.care_event("2018-08-05", "A6", "A6_SELF", event_outcome="NFA - Self-funded")
    s.care_event("2018-04-05", "A7", "A7_SELF", event_outcome="NFA - Self-funded")
    s.care_event("2018-08-20", "A7", "A7_COUNCIL", service_type=NURSING)
    # a carer's placement does not count
    s.care_event("2018-08-06", "A8", "A8_CARER", client_type="Carer")
    # age at Event_Start_Date: 64 (birthday the next day) does not count, 65 (birthday that day) does
    s.care_event("2018-08-07", "A9", "A9_64", dob="1953-08-08")
    s.care_event("2018-08-07", "A10", "A10_65", dob="1953-08-07")
    # the same person admitted twice (two placements starting the same day): one person
    s.care_event("2018-05-03", "A11", "A11_RES")
    s.care_event("2018-05-03", "A11", "A11_NURSING", service_type=NURSING)
    # a community service is not a care home placement
    s.care_event("2018-08-09", "A12", "A12_COMMUNITY", service_type="Long Term Support: Community")
    for q in (1, 2):
        s.target("res65", q, 2)
    return s


@pytest.fixture(scope="module")
def res65(tmp_path_factory):
    return res65_scenario().build(tmp_path_factory.mktemp("res65"))


def test_res65_admissions_event_by_event(res65):
    admitted = {r["event_reference"] for r in res65.rows("select event_reference from int_social_care__res65_admissions")}
    # the earlier placements were admissions in their own time
    assert admitted == {"A1_NEW", "A4_HOME1", "A10_65", "A11_RES", "A11_NURSING",
                        "A1_OLD", "A2_OLD", "A3_OLD", "A5_RES"}


def test_res65_counts_distinct_persons_quarter_and_ytd(res65):
    q1, q2 = res65.metric("res65", Q1), res65.metric("res65", Q2)
    # Q1: A4, A11 (two admissions, one person); Q2: A1, A10; YTD 4 persons
    assert (q1["actual_q"], q1["actual_ytd"]) == (2, 2)
    assert (q2["actual_q"], q2["actual_ytd"]) == (2, 4)
    # YTD rate = 4 / 35,000 aged 65+ x 100,000 = 11.43; no quarter rate
    assert (q2["rate_ytd"], q2["rate_q"], q2["population_denominator"]) == (11.4, None, 35000)
    # assessed on YTD count: 4 <= plan 2 + 2 (exactly at the plan is on track)
    assert (q2["plan_ytd"], q2["assessment"]) == (4, ON_TRACK)
    cells = res65.cells(Q2)
    assert (cells["RES65_ACTUAL_Q"], cells["RES65_ACTUAL_YTD"], cells["RES65_PLAN_YTD"], cells["RES65_RATE_YTD"],
            cells["RES65_ASSESSMENT"]) == (2, 4, 4, 11.4, ON_TRACK)


def reab_scenario() -> Scenario:
    """Cohort 2018-19 Q2 (reported in Q3): discharges on 2018-08-01, so d = 2018-10-31."""
    s = Scenario()
    nhs = {p: synthetic_nhs_number(i) for i, p in enumerate(
        ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B9", "B10", "B11"], start=10)}

    def member(person, discharge="2018-08-01", **values):
        values.setdefault("nhs_number", nhs.get(person))
        return s.reablement(discharge, person, f"{person}_REAB", **values)

    def spell(person, admidate, disdate):
        s.episode(admidate, admimeth="11", lsoa11=LSOA_UNKNOWN, nhsnumber=nhs[person], disdate=disdate,
                  spelend="Y")

    member("B1")                                                          # died 2018-10-30 (on another row)
    s.care_event("2018-10-01", "B1", "B1_REVIEW", service_type=None, event_type="Review", date_of_death="2018-10-30",
                 nhs_number=nhs["B1"])
    member("B2", date_of_death="2018-11-01")                              # died after day 91: at home
    member("B3", date_of_death="2018-10-31")                              # died on day 91
    member("B4")
    s.care_event("2018-10-31", "B4", "B4_HOME", nhs_number=nhs["B4"])     # in a care home from day 91
    member("B5")
    s.care_event("2018-09-01", "B5", "B5_HOME", end="2018-10-30", nhs_number=nhs["B5"])  # left before: at home
    member("B6")
    spell("B6", "2018-10-20", "2018-11-05")                              # in hospital across day 91
    member("B7")
    spell("B7", "2018-10-20", "2018-10-31")                              # discharged on day 91: at home
    member("B8", nhs_number=None)                                        # council id only: unlinked, at home
    member("B9", dob="1953-08-02")                                       # 64 at discharge: not in the cohort
    # two reablement episodes in the cohort quarter: the earliest (d = 2018-10-09) decides; the
    # care home from 2018-10-15 would make the later one (d = 2018-11-19) a care home stay
    member("B10", discharge="2018-07-10")
    s.reablement("2018-08-20", "B10", "B10_REAB2", nhs_number=nhs["B10"])
    s.care_event("2018-10-15", "B10", "B10_HOME", nhs_number=nhs["B10"])
    member("B11", discharge="2018-10-05")                                # Q3 discharge: next cohort
    s.target("reab", 3, 55.6)
    return s


@pytest.fixture(scope="module")
def reab(tmp_path_factory):
    return reab_scenario().build(tmp_path_factory.mktemp("reab"))


def test_reab_status_at_day_91_member_by_member(reab):
    got = {r["event_reference"]: (r["status_91_days"], r["is_unlinked"])
           for r in reab.rows("select * from int_social_care__reablement_cohort where cohort_quarter_start = '2018-07-01'")}
    assert got == {
        "B1_REAB": ("died", False), "B2_REAB": ("home", False), "B3_REAB": ("died", False),
        "B4_REAB": ("care_home", False), "B5_REAB": ("home", False), "B6_REAB": ("hospital", False),
        "B7_REAB": ("home", False), "B8_REAB": ("home", True), "B10_REAB": ("home", False),
    }


def test_reab_figures_are_for_the_previous_quarters_cohort(reab):
    q3 = reab.metric("reab", Q3)
    # 9 members, at home B2, B5, B7, B8, B10: 5 / 9 = 55.56 -> 55.6; unlinked B8
    assert (q3["denominator_q"], q3["numerator_q"], q3["pct_q"], q3["unlinked_q"]) == (9, 5, 55.6, 1)
    # assessed on the unrounded percentage: 55.56 < 55.6
    assert (q3["plan_q"], q3["assessment"]) == (55.6, NOT_ON_TRACK)
    cells = reab.cells(Q3)
    assert {k: cells[k] for k in cells if k.startswith("REAB_")} == {
        "REAB_COHORT_QUARTER": "2018-19 Q2", "REAB_DENOMINATOR": 9, "REAB_NUMERATOR": 5, "REAB_PCT": 55.6,
        "REAB_UNLINKED": 1, "REAB_PLAN_PCT": 55.6, "REAB_ASSESSMENT": NOT_ON_TRACK}
    # Q2 reports the Q1 cohort, which is empty: 0 / 0 has no percentage and cannot be assessed
    q2 = reab.metric("reab", Q2)
    assert (q2["denominator_q"], q2["numerator_q"], q2["pct_q"], q2["assessment"]) == (0, 0, None, NA)
    # Q1 reports 2017-18 Q4, which social care does not cover: every figure empty
    q1 = reab.cells(Q1)
    assert (q1["REAB_COHORT_QUARTER"], q1["REAB_DENOMINATOR"], q1["REAB_PCT"], q1["REAB_UNLINKED"]) == (
        "2017-18 Q4", None, None, None)


def test_social_care_coverage_empties_res65_and_reab(build):
    s = Scenario(cover_social_care=[m for m in months("2018-04", "2018-12") if m != "2018-08"])
    s.care_event("2018-05-01", "C1")
    s.reablement("2018-10-02", "C2")
    b = build(s)
    # res65: Q1 counted; Q2 misses August (Q and YTD empty); Q3 quarter counted, its YTD empty
    assert [(b.metric("res65", q)["actual_q"], b.metric("res65", q)["actual_ytd"]) for q in (Q1, Q2, Q3)] == [
        (1, 1), (None, None), (0, None)]
    assert b.metric("res65", Q2)["assessment"] == NA
    # reab Q3 needs social care over Q2 (the cohort) and Q3: empty, never 0
    q3 = b.metric("reab", Q3)
    assert (q3["denominator_q"], q3["numerator_q"], q3["unlinked_q"], q3["assessment"]) == (None, None, None, NA)
