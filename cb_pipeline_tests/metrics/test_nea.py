"""nea (and dash_nel, which is defined "as nea"): row rules, residence, periods, rate, assessment."""

from cb_pipeline_tests.metrics.scenario import (
    HWB_A, HWB_B, LSOA_A1, LSOA_A3, LSOA_B1, LSOA_UNKNOWN, NA, NOT_ON_TRACK, ON_TRACK, Q1, Q2, Q3, Q4,
    Scenario, months,
)

NEA_FLAGS = ("int_hes_apc__first_episodes_resident", "epikey", "is_nea")


def _admission_method_scenario():
    s = Scenario()
    included = ["21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D", "81"]
    excluded = ["11", "12", "13", "31", "32", "82", "83", "98", "99"]
    for code in included + excluded:
        s.episode("2018-05-10", epikey=f"M{code}", admimeth=code)
    return s, included, excluded


def test_nea_admission_methods(build):
    s, included, excluded = _admission_method_scenario()
    b = build(s)
    flags = b.flags(*NEA_FLAGS)
    assert {k for k, v in flags.items() if v} == {f"M{c}" for c in included}
    assert b.metric("nea")["actual_q"] == 11  # 81 and 2A in, 11 (elective) out
    assert b.dash("dash_nel")["actual_q"] == 11


TRETSPEF_INCLUDED = ["649", "663", "699", "800", "300", "100", "X01", "65", ""]
TRETSPEF_EXCLUDED = ["650", "655", "662", "700", "750", "799", "199", "223", "290", "291", "331", "344", "345",
                     "346", "424", "499", "501", "504", "560", "840", "920"]


def test_nea_tretspef_exclusions_and_range_edges(build):
    s = Scenario()
    for code in TRETSPEF_INCLUDED + TRETSPEF_EXCLUDED:
        s.episode("2018-05-10", epikey=f"T{code or 'EMPTY'}", tretspef=code)
    b = build(s)
    flags = b.flags(*NEA_FLAGS)
    counted = {k for k, v in flags.items() if v}
    assert counted == {f"T{c or 'EMPTY'}" for c in TRETSPEF_INCLUDED}
    assert b.metric("nea")["actual_q"] == len(TRETSPEF_INCLUDED) == 9
    assert b.dash("dash_nel")["actual_q"] == 9


def test_nea_first_episodes_only(build):
    s = Scenario()
    s.episode("2018-05-10", epikey="FIRST", pseudo_hesid="P1", epiorder=1)
    s.episode("2018-05-10", epikey="SECOND", pseudo_hesid="P1", epiorder=2)
    s.episode("2018-05-11", epikey="ONLY2", pseudo_hesid="P2", epiorder=2)  # spell without a first episode
    b = build(s)
    assert b.metric("nea")["actual_q"] == 1
    assert b.flags(*NEA_FLAGS) == {"FIRST": True}


def test_residence_decides_the_hwb_and_locality(build):
    s = Scenario()
    s.episode("2018-05-10", lsoa11=LSOA_A1)       # A, locality AN
    s.episode("2018-05-10", lsoa11=LSOA_A3)       # A, locality AS
    s.episode("2018-05-10", lsoa11=LSOA_B1)       # counts for B, not A
    s.episode("2018-05-10", lsoa11=LSOA_UNKNOWN)  # not in the lookup: no HWB
    s.episode("2018-05-10", lsoa11="")            # no LSOA: no HWB
    b = build(s)
    assert b.metric("nea", hwb=HWB_A)["actual_q"] == 2
    assert b.metric("nea", hwb=HWB_B)["actual_q"] == 1
    assert (b.dash("dash_nel", locality="AN")["actual_q"], b.dash("dash_nel", locality="AS")["actual_q"],
            b.dash("dash_nel")["actual_q"]) == (1, 1, 2)
    assert (b.dash("dash_nel", hwb=HWB_B, locality="BW")["actual_q"], b.dash("dash_nel", hwb=HWB_B)["actual_q"]) == (1, 1)


def test_quarter_boundaries_and_ytd_reset(build):
    s = Scenario(cover_apc=months("2018-04", "2019-06"), cover_ae=months("2018-04", "2019-06"))
    for day in ("2018-06-30", "2018-07-01", "2018-12-31", "2019-01-01", "2019-03-31", "2019-04-01"):
        s.episode(day)
    b = build(s)
    got = {q: (b.metric("nea", q)["actual_q"], b.metric("nea", q)["actual_ytd"])
           for q in (Q1, Q2, Q3, Q4, "2019-04-01")}
    assert got == {Q1: (1, 1), Q2: (1, 2), Q3: (1, 3), Q4: (2, 5), "2019-04-01": (1, 1)}
    assert b.quarters() == [Q1, Q2, Q3, Q4, "2019-04-01"]
    assert (b.dash("dash_nel", Q4)["actual_q"], b.dash("dash_nel", Q4)["actual_ytd"]) == (2, 5)
    assert (b.dash("dash_nel", "2019-04-01")["actual_q"], b.dash("dash_nel", "2019-04-01")["actual_ytd"]) == (1, 1)


def test_rate_rounds_half_away_from_zero(build):
    # all-age population 2,000,000: 5 admissions -> 0.25 -> 0.3 (half-even or float round give 0.2);
    # 7 admissions -> 0.35 -> 0.4 (float round gives 0.3)
    s = Scenario()
    ages = {a: 0.0 for a in [str(i) for i in range(90)] + ["90+"]}
    ages["30"] = 2_000_000.0
    s.population(2017, HWB_A, ages)
    s.population(2017, HWB_B, dict(ages))
    for _ in range(5):
        s.episode("2018-05-10", lsoa11=LSOA_A1)
    for _ in range(7):
        s.episode("2018-05-10", lsoa11=LSOA_B1)
    b = build(s)
    a, bb = b.metric("nea", hwb=HWB_A), b.metric("nea", hwb=HWB_B)
    assert (a["actual_q"], a["population_denominator"], a["rate_q"], a["rate_ytd"]) == (5, 2_000_000, 0.3, 0.3)
    assert (bb["actual_q"], bb["rate_q"]) == (7, 0.4)
    assert b.cells(Q1, HWB_A)["NEA_RATE_Q"] == 0.3
    assert b.cells(Q1, HWB_B)["NEA_RATE_Q"] == 0.4


def test_rate_per_100000_all_ages(build):
    s = Scenario()  # default population: 100,000 per HWB
    for _ in range(3):
        s.episode("2018-05-10")
    b = build(s)
    m = b.metric("nea")
    assert (m["actual_q"], m["population_denominator"], m["rate_q"], m["population_mid_year"]) == (3, 100_000, 3.0, 2017)


def test_plan_and_assessment(build):
    s = Scenario(cover_apc=months("2018-04", "2019-02"), cover_ae=months("2018-04", "2019-02"))
    # A: plan 5, 5, 1, 9; actual 4, 6, 2 -> YTD 4<=5 on track, 10<=10 on track (equal), 12>11 not on track
    for q, n in ((1, 5), (2, 5), (3, 1), (4, 9)):
        s.target("nea", q, n)
    for day, n in (("2018-05-10", 4), ("2018-08-10", 6), ("2018-11-10", 2), ("2019-01-10", 1)):
        for _ in range(n):
            s.episode(day)
    # B: plans for Q1 and Q3 only -> Q3 YTD plan empty; B Q2 no plan at all
    s.target("nea", 1, 100, hwb=HWB_B)
    s.target("nea", 3, 100, hwb=HWB_B)
    s.episode("2018-05-10", lsoa11=LSOA_B1)
    b = build(s)
    got = {q: (b.metric("nea", q)["plan_q"], b.metric("nea", q)["plan_ytd"], b.metric("nea", q)["actual_ytd"],
               b.metric("nea", q)["assessment"]) for q in (Q1, Q2, Q3, Q4)}
    assert got == {
        Q1: (5, 5, 4, ON_TRACK),
        Q2: (5, 10, 10, ON_TRACK),
        Q3: (1, 11, 12, NOT_ON_TRACK),
        Q4: (9, 20, None, NA),  # March not covered: empty actual, not available
    }
    assert b.metric("nea", Q1, HWB_B)["assessment"] == ON_TRACK
    assert (b.metric("nea", Q2, HWB_B)["plan_q"], b.metric("nea", Q2, HWB_B)["assessment"]) == (None, NA)
    assert (b.metric("nea", Q3, HWB_B)["plan_q"], b.metric("nea", Q3, HWB_B)["plan_ytd"],
            b.metric("nea", Q3, HWB_B)["assessment"]) == (100, None, NA)
    cells = b.cells(Q3)
    assert (cells["NEA_PLAN_Q"], cells["NEA_PLAN_YTD"], cells["NEA_ASSESSMENT"]) == (1, 11, NOT_ON_TRACK)
    assert b.cells(Q4)["NEA_ACTUAL_Q"] is None and b.cells(Q4)["NEA_ASSESSMENT"] == NA
