"""Coverage (empty, never 0), the quarter spine, the population year and HWB rules, targets and RAG."""

from cb_pipeline_tests.metrics.scenario import (
    HWB_A, HWB_B, LSOA_A1, LSOA_A2, LSOA_A3, LSOA_B1, NA, ON_TRACK, Q1, Q2, Q3, Q4,
    Scenario, flat_population, months,
)


def test_missing_month_empties_the_quarter_and_ytd_but_not_earlier_quarters(build):
    apc = [m for m in months("2018-04", "2018-12") if m != "2018-11"]   # hes_apc misses November
    ae = [m for m in months("2018-04", "2018-12") if m != "2018-05"]    # hes_ae misses May
    s = Scenario(cover_apc=apc, cover_ae=ae)
    for day in ("2018-05-10", "2018-08-10", "2018-10-10"):
        s.episode(day, startage=80, diag_4_01="S720", diag_4_02="W19X", disdate=day, disdest="19", spelend="Y")
    for day in ("2018-04-10", "2018-08-10", "2018-10-10"):
        s.attendance(day)
    for q in (1, 2, 3):
        s.target("nea", q, 10)
        s.target("falls65", q, 10)
        s.target("dash_nel", q, 10)
        s.target("dash_ae_att", q, 10)
    b = build(s)
    assert b.quarters() == [Q1, Q2, Q3]

    nea = {q: b.metric("nea", q) for q in (Q1, Q2, Q3)}
    assert [(m["actual_q"], m["actual_ytd"], m["assessment"]) for m in nea.values()] == [
        (1, 1, ON_TRACK), (1, 2, ON_TRACK), (None, None, NA)]
    assert (nea[Q3]["rate_q"], nea[Q3]["rate_ytd"], nea[Q2]["rate_q"]) == (None, None, 1.0)
    falls_q3 = b.metric("falls65", Q3)
    assert (falls_q3["actual_q"], falls_q3["rate_q"], falls_q3["dsr_q"], falls_q3["assessment"]) == (None, None, None, NA)
    dupr_q3, dupr_q2 = b.metric("dupr", Q3), b.metric("dupr", Q2)
    assert (dupr_q3["denominator_q"], dupr_q3["numerator_q"], dupr_q3["pct_q"]) == (None, None, None)
    assert (dupr_q2["denominator_q"], dupr_q2["numerator_q"], dupr_q2["pct_q"]) == (1, 1, 100.0)
    assert b.metric("acsc", Q3)["actual_q"] is None

    # dashboard: hes_apc measures empty in Q3 (RAG empty despite a target); hes_ae measures empty
    # in Q1 and for every YTD, but Q2 and Q3 quarter counts are produced
    nel_q3 = b.dash("dash_nel", Q3)
    assert (nel_q3["actual_q"], nel_q3["actual_ytd"], nel_q3["target_ytd"], nel_q3["rag"]) == (None, None, 30, None)
    assert b.dash("dash_nel", Q3, "AN")["actual_q"] is None
    assert [(b.dash("dash_ae_att", q)["actual_q"], b.dash("dash_ae_att", q)["actual_ytd"]) for q in (Q1, Q2, Q3)] == [
        (None, None), (1, None), (1, None)]
    assert b.dash("dash_ae_att", Q2)["rag"] is None

    cells = b.cells(Q3)
    assert cells["NEA_ACTUAL_Q"] is None and cells["NEA_ACTUAL_YTD"] is None and cells["NEA_RATE_Q"] is None
    assert cells["NEA_ASSESSMENT"] == NA and cells["FALLS65_ASSESSMENT"] == NA
    assert cells["DASH_NEL_ALL_Q"] is None and cells["DASH_NEL_ALL_RAG"] is None
    assert cells["DASH_AE_ATT_ALL_Q"] == 1 and cells["DASH_AE_ATT_ALL_YTD"] is None
    assert cells["NEA_PLAN_Q"] == 10  # the plan is still shown


def test_quarter_spine_is_the_quarters_with_a_covered_month(build):
    s = Scenario(cover_apc=months("2018-04", "2018-06") + ["2019-02"], cover_ae=[], cover_ambulance=[],
                 cover_social_care=[], cover_dtoc=[])
    s.episode("2019-02-10")
    b = build(s)
    assert b.quarters() == [Q1, Q4]  # Q2, Q3 have no data in any feed
    assert (b.metric("nea", Q4)["actual_q"], b.metric("nea", Q1)["actual_q"]) == (None, 0)
    assert b.dash("dash_ae_att", Q1)["actual_q"] is None  # hes_ae covers nothing
    assert b.cells(Q4)["REPORTING_QUARTER"] == "2018-19 Q4"


def test_population_mid_year_choice(build):
    s = Scenario(cover_apc=months("2018-04", "2019-06"), cover_ae=months("2018-04", "2019-06"))
    # A has mid-2016, mid-2018, mid-2019; B has mid-2014 and mid-2019
    s.population(2016, HWB_A, flat_population(100))   # 9,100
    s.population(2018, HWB_A, flat_population(200))   # 18,200
    s.population(2019, HWB_A, flat_population(300))   # 27,300
    s.population(2014, HWB_B, flat_population(50))    # 4,550
    s.population(2019, HWB_B, flat_population(400))   # 36,400
    b = build(s)
    fy2019_q1 = "2019-04-01"
    got = {(hwb, q): (b.metric("nea", q, hwb)["population_mid_year"], b.metric("nea", q, hwb)["population_denominator"])
           for hwb in (HWB_A, HWB_B) for q in (Q1, fy2019_q1)}
    assert got == {
        (HWB_A, Q1): (2016, 9100),          # wants 2017: 2016 and 2018 tie, the earlier wins
        (HWB_A, fy2019_q1): (2018, 18200),  # wants 2018: exact (2019 also 1 year away from 2018? no: exact wins)
        (HWB_B, Q1): (2019, 36400),         # wants 2017: 2019 is 2 away, 2014 is 3 away
        (HWB_B, fy2019_q1): (2019, 36400),  # wants 2018: 2019 is 1 away
    }
    assert b.cells(Q4, HWB_A)["POPULATION_MID_YEAR"] == 2016
    assert b.cells(fy2019_q1, HWB_B)["POPULATION_MID_YEAR"] == 2019


def test_population_exact_previous_mid_year_is_preferred(build):
    s = Scenario()
    s.population(2016, HWB_A, flat_population(100))
    s.population(2017, HWB_A, flat_population(200))
    s.population(2018, HWB_A, flat_population(300))
    b = build(s)
    m = b.metric("nea")
    assert (m["population_mid_year"], m["population_denominator"]) == (2017, 18200)
    assert b.metric("nea", hwb=HWB_B)["population_mid_year"] is None  # B has no population: rates empty
    assert b.metric("nea", hwb=HWB_B)["rate_q"] is None
    assert b.cells(Q1, HWB_B)["POPULATION_MID_YEAR"] is None


def test_population_hwb_row_else_sum_of_lsoa_rows(build):
    s = Scenario()
    # A: only LSOA rows (LSOA-shaped file); B: its own row wins over its LSOA row
    s.population(2017, LSOA_A1, flat_population(10, **{"90+": 100}), suffix="lsoa")  # 1000, 65+ 350
    s.population(2017, LSOA_A2, flat_population(20, **{"90+": 0}), suffix="lsoa")    # 1800, 65+ 500
    s.population(2017, LSOA_A3, flat_population(1, **{"90+": 5}), suffix="lsoa")     # 95, 65+ 30
    s.population(2017, LSOA_B1, flat_population(7), suffix="lsoa")                   # ignored
    s.population(2017, HWB_B, flat_population(1000), suffix="utla")                  # 91,000, 65+ 26,000
    b = build(s)
    a_nea, a_falls = b.metric("nea", hwb=HWB_A), b.metric("falls65", hwb=HWB_A)
    assert (a_nea["population_denominator"], a_falls["population_denominator"]) == (2895, 880)
    b_nea, b_falls = b.metric("nea", hwb=HWB_B), b.metric("falls65", hwb=HWB_B)
    assert (b_nea["population_denominator"], b_falls["population_denominator"]) == (91000, 26000)
    source = {r["hwb_code"]: r["population_source"] for r in b.rows("select * from int_population__hwb_mid_year")}
    assert source == {HWB_A: "lsoa_sum", HWB_B: "hwb_row"}


def test_dashboard_targets_and_rag(build):
    s = Scenario()
    for _ in range(20):   # care home admissions that are not nea (TRETSPEF 920)
        s.episode("2018-05-10", admisorc="54", tretspef="920")
    for _ in range(21):
        s.episode("2018-05-10")
    for _ in range(22):
        s.attendance("2018-05-10")
    s.target("dash_ch_admit", 1, 20)     # actual 20 = target: G
    s.target("dash_ch_admit", 2, 5)      # YTD target 25, actual 20: G
    s.target("dash_nel", 1, 20)          # 21 = 1.05 x 20: A
    s.target("dash_ae_att", 1, 20)       # 22 > 21: R
    s.target("dash_nel_resp_0_4", 1, 0)  # 0 <= 0: G
    s.target("dash_readm30", 2, 3)       # Q1 target missing: Q2 YTD target empty
    b = build(s)
    rag = {m: (b.dash(m)["actual_ytd"], b.dash(m)["target_ytd"], b.dash(m)["rag"]) for m in
           ("dash_ch_admit", "dash_nel", "dash_ae_att", "dash_nel_resp_0_4", "dash_readm30", "dash_ed_resp_0_4")}
    assert rag == {
        "dash_ch_admit": (20, 20, "G"),
        "dash_nel": (21, 20, "A"),
        "dash_ae_att": (22, 20, "R"),
        "dash_nel_resp_0_4": (0, 0, "G"),
        "dash_readm30": (0, None, "No Target"),
        "dash_ed_resp_0_4": (0, None, "No Target"),
    }
    q2 = b.dash("dash_ch_admit", Q2)
    assert (q2["actual_q"], q2["actual_ytd"], q2["target_q"], q2["target_ytd"], q2["rag"]) == (0, 20, 5, 25, "G")
    assert (b.dash("dash_readm30", Q2)["target_q"], b.dash("dash_readm30", Q2)["target_ytd"],
            b.dash("dash_readm30", Q2)["rag"]) == (3, None, "No Target")
    assert b.dash("dash_ch_admit", Q3)["rag"] == "No Target"  # no Q3 target
    loc = b.dash("dash_nel", locality="AN")
    assert (loc["actual_q"], loc["target_ytd"], loc["rag"]) == (21, None, None)  # targets and RAG on ALL only
    assert b.dash("dash_nel", hwb=HWB_B)["rag"] == "No Target"  # targets are per HWB
    cells = b.cells()
    assert (cells["DASH_CH_ADMIT_ALL_RAG"], cells["DASH_NEL_ALL_RAG"], cells["DASH_AE_ATT_ALL_RAG"],
            cells["DASH_READM30_ALL_RAG"]) == ("G", "A", "R", "No Target")
    assert (cells["DASH_NEL_ALL_TARGET_YTD"], cells["DASH_READM30_ALL_TARGET_YTD"]) == (20, None)
    assert "DASH_NEL_AN_RAG" not in cells and "DASH_NEL_AN_TARGET_YTD" not in cells
