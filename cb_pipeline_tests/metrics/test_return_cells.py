"""rpt_bcf_return__cells: every defined name this scope fills, for a fixture computed by hand, on
DuckDB and (when CB_TEST_POSTGRES_URL is set) identically on PostgreSQL; the names against the
template; fct_ingest_reconciliation for the same fixture."""

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from cb_pipeline.lib.sql_models import discover, run_tests
from cb_pipeline.lib.workbook import template_defined_names
from cb_pipeline_tests.metrics.scenario import (
    AMBULANCE_HEADER, APC_HEADER, DTOC_HEADER, HWB_A, HWB_A_NAME, HWB_B, HWB_B_NAME, LSOA_A3, LSOA_B1, LSOA_UNKNOWN,
    NA, NOT_ON_TRACK, NURSING, ON_TRACK, Q2, Scenario, synthetic_nhs_number,
)

MEASURES = ["AE_ATT", "ED_RESP_0_4", "NEL", "NEL_RESP_0_4", "READM30", "CH_CALLOUT", "CH_CONVEY", "CH_ADMIT"]
ALL_ONLY = ["DTOC"]
TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "bcf_quarterly_return.xlsx"


def full_scenario() -> Scenario:
    s = Scenario()
    # Q1
    s.episode("2018-04-02", epikey="Q1A")                                    # nea, AN
    s.episode("2018-06-30", epikey="Q1B", lsoa11=LSOA_A3)                    # nea, AS
    s.episode("2018-06-25", epikey="D1", admimeth="11", disdate="2018-07-03", disdest="19", spelend="Y")  # dupr Q2 num
    s.attendance("2018-05-03", aekey="AE1")                                  # ae_att, AN
    # Q2
    s.episode("2018-07-10", epikey="E1")                                     # nea, AN
    s.episode("2018-07-12", epikey="E2", lsoa11=LSOA_A3, startage=80, diag_4_01="S720", diag_4_02="W19X")  # nea+falls, AS
    s.episode("2018-08-01", epikey="E3", diag_4_01="I10X")                   # nea+acsc, AN
    s.episode("2018-09-30", epikey="E4", admisorc="54", tretspef="920")      # ch_admit (not nea), AN
    s.episode("2018-08-15", epikey="E5", startage=3, diag_4_01="J459")       # nea+nel_resp_0_4+acsc, AN
    s.episode("2018-07-20", epikey="D2", admimeth="11", pseudo_hesid="PX", disdate="2018-07-22", disdest="29",
              spelend="Y")                                                   # dupr den; P of E6
    s.episode("2018-08-20", epikey="D3", admimeth="11", disdate="2018-08-21", disdest="19", spelend="Y")  # dupr num
    s.episode("2018-08-05", epikey="E6", pseudo_hesid="PX")                  # nea + readm30 (14 days), AN
    s.episode("2018-07-15", epikey="B1", lsoa11=LSOA_B1)                     # nea for B, BW
    s.attendance("2018-07-03", aekey="AE2", lsoa11=LSOA_A3, arrivalage="2", diag2_01="25")  # ae_att+ed_resp, AS
    s.attendance("2018-08-03", aekey="AE3", aeattendcat="2")                 # planned follow-up: not counted
    s.attendance("2018-09-03", aekey="AE4", arrivalage="40")                 # ae_att, AN
    s.attendance("2018-07-04", aekey="AEBAD", arrivalage="130")              # quarantined (age_invalid)
    # a later hes_apc delivery re-sends E1 (superseding it) with one bad row; a third is rejected
    e1 = next(dict(r) for r in s.apc if r["EPIKEY"] == "E1")
    bad = {"EPIKEY": "BAD1", "PROCODE3": "RXA", "ADMIDATE": "2018-13-45", "EPIORDER": "1", "ADMIMETH": "21",
           "STARTAGE": "50"}
    s.raw_deliveries.append(("hes_apc", "20220402T0000_RXA_apc_fix.csv", APC_HEADER, [e1, bad]))
    no_epiorder = [c for c in APC_HEADER if c != "EPIORDER"]
    s.raw_deliveries.append(("hes_apc", "20220403T0000_RXA_apc_bad.csv", no_epiorder,
                             [{k: v for k, v in e1.items() if k != "EPIORDER"} | {"EPIKEY": f"REJ{i}"} for i in (1, 2)]))
    # plan
    for q, t in ((1, 3), (2, 3)):
        s.target("nea", q, t)
    for q, t in ((1, 1), (2, 1)):
        s.target("falls65", q, t)
    for q, t in ((1, 3), (2, 4)):
        s.target("dash_nel", q, t)
    for q, t in ((1, 1), (2, 1.9)):
        s.target("dash_ae_att", q, t)
    for q in (1, 2):
        s.target("dash_ch_admit", q, 0)

    # res65: P1 admitted in Q1 and moved to nursing care in Q2 (a move, not an admission); P2 in Q2
    s.care_event("2018-05-01", "P1", "EV_P1A", end="2018-08-09")
    s.care_event("2018-08-10", "P1", "EV_P1B", service_type=NURSING)
    s.care_event("2018-08-01", "P2", "EV_P2")
    for q in (1, 2):
        s.target("res65", q, 1)
    # reab, reported in Q2 for the Q1 cohort: R1 at home (NHS number), R2 at home (council id only:
    # unlinked), R3 in hospital on day 91 (admitted 2018-08-20, not discharged; d = 2018-08-31)
    s.reablement("2018-05-01", "R1", "EV_R1", nhs_number=synthetic_nhs_number(1))
    s.reablement("2018-05-02", "R2", "EV_R2")
    s.reablement("2018-06-01", "R3", "EV_R3", nhs_number=synthetic_nhs_number(3))
    s.episode("2018-08-20", epikey="H1", admimeth="11", lsoa11=LSOA_UNKNOWN, nhsnumber=synthetic_nhs_number(3))
    s.target("reab", 2, 70)
    # dtoc: Q1 10 days; Q2 NHS 5 (re-sent as 7 by a later delivery), Social Care 3, Both 2
    s.delayed("2018-04", 10)
    s.delayed("2018-07", 5)
    s.delayed("2018-08", 3, agency="Social Care")
    s.delayed("2018-09", 2, agency="Both")
    s.raw_deliveries.append(("dtoc", "20220402T0000_dtoc_fix.csv", DTOC_HEADER, [
        {"Period": "2018-07", "Provider_Code": "RXA", "LA_Code": HWB_A, "Agency": "NHS", "Type_of_Care": "Acute",
         "Reason": "A", "Delayed_Days": "7"}]))
    for q in (1, 2):
        s.target("dtoc", q, 10)
    # ambulance: care home call-outs in AN (conveyed to ED) and AS (seen and treated), a call to a
    # home (not counted), one in Betaford (conveyed elsewhere) and one quarantined row
    s.incident("2018-07-05", "INC1")
    s.incident("2018-08-05", "INC2", incident_lsoa11=LSOA_A3, outcome="SEE_AND_TREAT")
    s.incident("2018-05-05", "INC3", location_type="HOME")
    s.incident("2018-09-05", "INC4", incident_lsoa11=LSOA_B1, outcome="CONVEY_OTHER")
    s.raw_deliveries.append(("ambulance", "20220402T0000_ambulance_bad.csv", AMBULANCE_HEADER, [
        {"INCIDENT_ID": "INC_BAD", "CALL_DATETIME": "2018-07-07 09:00", "INCIDENT_LSOA11": LSOA_A3,
         "LOCATION_TYPE": "GARDEN", "OUTCOME": "CONVEY_ED"}]))
    # finance 2018-19: income CCG minimum 100.10 a quarter (actuals Q1 90.05, Q2 95.00, later empty),
    # DFG 50 in Q1; expenditure 120 a quarter in Q1 and Q2, Q2's actual missing
    for q, actual in ((1, 90.05), (2, 95.00), (3, None), (4, None)):
        s.finance_line(q, "INCOME", "CCG_MINIMUM", 100.10, actual)
    s.finance_line(1, "INCOME", "DFG", 50, 50, scheme="S2")
    s.finance_line(1, "EXPENDITURE", "CCG_MINIMUM", 120, 110)
    s.finance_line(2, "EXPENDITURE", "CCG_MINIMUM", 120, None)
    return s


DQ = {
    # hes_apc: delivery 1 = 9 coverage fillers + 13 rows (E1 later superseded); delivery 2 = E1 + 1 quarantined;
    # the rejected delivery counts nothing
    "DQ_HES_APC_ROWS_IN": 24, "DQ_HES_APC_VALID": 22, "DQ_HES_APC_QUARANTINED": 1, "DQ_HES_APC_SUPERSEDED": 1,
    # hes_ae: 9 fillers + 5 rows, one quarantined
    "DQ_HES_AE_ROWS_IN": 14, "DQ_HES_AE_VALID": 13, "DQ_HES_AE_QUARANTINED": 1, "DQ_HES_AE_SUPERSEDED": 0,
    # ambulance: 9 fillers + 4 incidents; a second delivery with one quarantined row (LOCATION_TYPE GARDEN)
    "DQ_AMBULANCE_ROWS_IN": 14, "DQ_AMBULANCE_VALID": 13, "DQ_AMBULANCE_QUARANTINED": 1, "DQ_AMBULANCE_SUPERSEDED": 0,
    # social care: 9 fillers + 6 events
    "DQ_SOCIAL_CARE_ROWS_IN": 15, "DQ_SOCIAL_CARE_VALID": 15, "DQ_SOCIAL_CARE_QUARANTINED": 0,
    "DQ_SOCIAL_CARE_SUPERSEDED": 0,
    # dtoc: 9 fillers + 4 rows, then 2018-07 NHS re-sent (supersedes one row)
    "DQ_DTOC_ROWS_IN": 14, "DQ_DTOC_VALID": 13, "DQ_DTOC_QUARANTINED": 0, "DQ_DTOC_SUPERSEDED": 1,
}


def _dash(loc_values: dict, slots: dict) -> dict:
    """{(measure, loc): (q, ytd)} -> defined names; a locality's names use its template slot
    (slots: {code: (k, name)}, k = position in locality_code order), ALL keeps ALL."""
    out = {}
    for code, (k, name) in slots.items():
        out[f"DASH_LOC{k}_CODE"] = code
        out[f"DASH_LOC{k}_NAME"] = name
    for (measure, loc), (q, ytd) in loc_values.items():
        unit = "ALL" if loc == "ALL" else f"LOC{slots[loc][0]}"
        out[f"DASH_{measure}_{unit}_Q"] = q
        out[f"DASH_{measure}_{unit}_YTD"] = ytd
    return out


SLOTS_A = {"AN": (1, "Alphaton North"), "AS": (2, "Alphaton South")}
SLOTS_B = {"BW": (1, "Betaford West")}


EXPECTED_A_Q2 = {
    "HWB_CODE": HWB_A, "HWB_NAME": HWB_A_NAME, "REPORTING_QUARTER": "2018-19 Q2", "POPULATION_MID_YEAR": 2017,
    # nea: Q1 Q1A, Q1B; Q2 E1, E2, E3, E5, E6; rate 5 / 100,000 x 100,000
    "NEA_ACTUAL_Q": 5, "NEA_ACTUAL_YTD": 7, "NEA_PLAN_Q": 3, "NEA_PLAN_YTD": 6, "NEA_RATE_Q": 5.0,
    "NEA_ASSESSMENT": NOT_ON_TRACK,
    # falls65: E2 (80); 65+ population 35,000 -> 2.857 -> 2.9; DSR 100000 x 2500 x 1/5000 / 19500 = 2.564 -> 2.6
    "FALLS65_ACTUAL_Q": 1, "FALLS65_ACTUAL_YTD": 1, "FALLS65_PLAN_YTD": 2, "FALLS65_RATE_Q": 2.9,
    "FALLS65_DSR_Q": 2.6, "FALLS65_ASSESSMENT": ON_TRACK,
    # dupr: D1 (19), D2 (29), D3 (19) discharged in Q2 -> 2 / 3 = 66.7
    "DUPR_DENOMINATOR_Q": 3, "DUPR_NUMERATOR_Q": 2, "DUPR_PCT_Q": 66.7,
    # acsc: E3 (I10), E5 (J45)
    "ACSC_ACTUAL_Q": 2, "ACSC_RATE_Q": 2.0,
    # res65: Q2 P2; YTD P1, P2 (P1's nursing placement is a move); 2 / 35,000 65+ x 100,000 = 5.714
    "RES65_ACTUAL_Q": 1, "RES65_ACTUAL_YTD": 2, "RES65_PLAN_YTD": 2, "RES65_RATE_YTD": 5.7, "RES65_ASSESSMENT": ON_TRACK,
    # reab: cohort Q1 = R1, R2, R3; at home R1, R2 -> 66.7 < 70
    "REAB_COHORT_QUARTER": "2018-19 Q1", "REAB_DENOMINATOR": 3, "REAB_NUMERATOR": 2, "REAB_PCT": 66.7,
    "REAB_UNLINKED": 1, "REAB_PLAN_PCT": 70, "REAB_ASSESSMENT": NOT_ON_TRACK,
    # dtoc: Q2 7 + 3 + 2 = 12, YTD 22 > 20; rate 12 / 92 days / 82,000 adults x 100,000 = 0.159
    "DTOC_DAYS_Q": 12, "DTOC_DAYS_NHS_Q": 7, "DTOC_DAYS_SOCIAL_CARE_Q": 3, "DTOC_DAYS_BOTH_Q": 2,
    "DTOC_DAYS_YTD": 22, "DTOC_PLAN_YTD": 20, "DTOC_RATE_Q": 0.2, "DTOC_ASSESSMENT": NOT_ON_TRACK,
    # finance: income plan 4 x 100.10 + 50; actual YTD 90.05 + 95.00 + 50; expenditure Q2 actual missing
    "INCOME_PLAN_FY": 450.4, "INCOME_ACTUAL_YTD": 235.05, "EXPENDITURE_PLAN_FY": 240, "EXPENDITURE_ACTUAL_YTD": None,
    "INCOME_PLAN_FY_CCG_MINIMUM": 400.4, "INCOME_PLAN_FY_DFG": 50, "INCOME_PLAN_FY_IBCF": 0,
    "INCOME_PLAN_FY_ADDITIONAL_LA": 0, "INCOME_PLAN_FY_ADDITIONAL_CCG": 0,
    **_dash({
        ("AE_ATT", "AN"): (1, 2), ("AE_ATT", "AS"): (1, 1), ("AE_ATT", "ALL"): (2, 3),
        ("ED_RESP_0_4", "AN"): (0, 0), ("ED_RESP_0_4", "AS"): (1, 1), ("ED_RESP_0_4", "ALL"): (1, 1),
        ("NEL", "AN"): (4, 5), ("NEL", "AS"): (1, 2), ("NEL", "ALL"): (5, 7),
        ("NEL_RESP_0_4", "AN"): (1, 1), ("NEL_RESP_0_4", "AS"): (0, 0), ("NEL_RESP_0_4", "ALL"): (1, 1),
        ("READM30", "AN"): (1, 1), ("READM30", "AS"): (0, 0), ("READM30", "ALL"): (1, 1),
        ("CH_ADMIT", "AN"): (1, 1), ("CH_ADMIT", "AS"): (0, 0), ("CH_ADMIT", "ALL"): (1, 1),
        ("CH_CALLOUT", "AN"): (1, 1), ("CH_CALLOUT", "AS"): (1, 1), ("CH_CALLOUT", "ALL"): (2, 2),
        ("CH_CONVEY", "AN"): (1, 1), ("CH_CONVEY", "AS"): (0, 0), ("CH_CONVEY", "ALL"): (1, 1),
        ("DTOC", "ALL"): (12, 22),
    }, SLOTS_A),
    "DASH_AE_ATT_ALL_TARGET_YTD": 2.9, "DASH_AE_ATT_ALL_RAG": "A",      # 3 <= 1.05 x 2.9
    "DASH_ED_RESP_0_4_ALL_TARGET_YTD": None, "DASH_ED_RESP_0_4_ALL_RAG": "No Target",
    "DASH_NEL_ALL_TARGET_YTD": 7, "DASH_NEL_ALL_RAG": "G",              # 7 <= 7
    "DASH_NEL_RESP_0_4_ALL_TARGET_YTD": None, "DASH_NEL_RESP_0_4_ALL_RAG": "No Target",
    "DASH_READM30_ALL_TARGET_YTD": None, "DASH_READM30_ALL_RAG": "No Target",
    "DASH_CH_ADMIT_ALL_TARGET_YTD": 0, "DASH_CH_ADMIT_ALL_RAG": "R",    # 1 > 0
    **{f"DASH_{m}_ALL_TARGET_YTD": None for m in ("CH_CALLOUT", "CH_CONVEY", "DTOC")},
    **{f"DASH_{m}_ALL_RAG": "No Target" for m in ("CH_CALLOUT", "CH_CONVEY", "DTOC")},
    **DQ,
}

EXPECTED_B_Q2 = {
    "HWB_CODE": HWB_B, "HWB_NAME": HWB_B_NAME, "REPORTING_QUARTER": "2018-19 Q2", "POPULATION_MID_YEAR": 2017,
    "NEA_ACTUAL_Q": 1, "NEA_ACTUAL_YTD": 1, "NEA_PLAN_Q": None, "NEA_PLAN_YTD": None, "NEA_RATE_Q": 1.0,
    "NEA_ASSESSMENT": NA,
    "FALLS65_ACTUAL_Q": 0, "FALLS65_ACTUAL_YTD": 0, "FALLS65_PLAN_YTD": None, "FALLS65_RATE_Q": 0.0,
    "FALLS65_DSR_Q": 0.0, "FALLS65_ASSESSMENT": NA,
    "DUPR_DENOMINATOR_Q": 0, "DUPR_NUMERATOR_Q": 0, "DUPR_PCT_Q": None,
    "ACSC_ACTUAL_Q": 0, "ACSC_RATE_Q": 0.0,
    "RES65_ACTUAL_Q": 0, "RES65_ACTUAL_YTD": 0, "RES65_PLAN_YTD": None, "RES65_RATE_YTD": 0.0, "RES65_ASSESSMENT": NA,
    "REAB_COHORT_QUARTER": "2018-19 Q1", "REAB_DENOMINATOR": 0, "REAB_NUMERATOR": 0, "REAB_PCT": None,
    "REAB_UNLINKED": 0, "REAB_PLAN_PCT": None, "REAB_ASSESSMENT": NA,
    "DTOC_DAYS_Q": 0, "DTOC_DAYS_NHS_Q": 0, "DTOC_DAYS_SOCIAL_CARE_Q": 0, "DTOC_DAYS_BOTH_Q": 0,
    "DTOC_DAYS_YTD": 0, "DTOC_PLAN_YTD": None, "DTOC_RATE_Q": 0.0, "DTOC_ASSESSMENT": NA,
    # no finance lines at all: every figure empty, never 0
    "INCOME_PLAN_FY": None, "INCOME_ACTUAL_YTD": None, "EXPENDITURE_PLAN_FY": None, "EXPENDITURE_ACTUAL_YTD": None,
    **{f"INCOME_PLAN_FY_{k}": None for k in ("CCG_MINIMUM", "DFG", "IBCF", "ADDITIONAL_LA", "ADDITIONAL_CCG")},
    **_dash({(m, loc): ((1, 1) if m in ("NEL", "CH_CALLOUT", "CH_CONVEY") else (0, 0))
             for m in MEASURES for loc in ("BW", "ALL")}, SLOTS_B),
    "DASH_DTOC_ALL_Q": 0, "DASH_DTOC_ALL_YTD": 0,
    **{f"DASH_{m}_ALL_TARGET_YTD": None for m in MEASURES + ALL_ONLY},
    **{f"DASH_{m}_ALL_RAG": "No Target" for m in MEASURES + ALL_ONLY},
    **DQ,
}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The full fixture built once for the tests that only read it."""
    return full_scenario().build(tmp_path_factory.mktemp("full"))


def test_every_defined_name_for_the_fixture(full):
    b = full
    assert b.cells(Q2, HWB_A) == EXPECTED_A_Q2
    assert b.cells(Q2, HWB_B) == EXPECTED_B_Q2
    # cover 4, nea 6, res65 5, reab 7, dtoc 8, falls65 6, dupr 3, acsc 2, finance 4 + 5 sources,
    # dashboard (localities + ALL) x 8 measures x Q/YTD + dtoc ALL Q/YTD, target and RAG per measure,
    # locality code and name per slot, DQ 4 x 5 feeds
    common = 4 + 6 + 5 + 7 + 8 + 6 + 3 + 2 + 9 + 2 + 9 * 2 + 4 * 5
    assert len(EXPECTED_A_Q2) == common + 8 * 3 * 2 + 2 * 2
    assert len(EXPECTED_B_Q2) == common + 8 * 2 * 2 + 1 * 2
    # every HWB x spine quarter has the same names (localities aside) and the same DQ figures
    q1 = b.cells("2018-04-01", HWB_A)
    assert set(q1) == set(EXPECTED_A_Q2)
    assert {k: q1[k] for k in DQ} == DQ
    assert (q1["NEA_ACTUAL_Q"], q1["NEA_ACTUAL_YTD"], q1["DUPR_PCT_Q"], q1["REPORTING_QUARTER"]) == (2, 2, None, "2018-19 Q1")
    n = b.w.scalar("select count(*) from rpt_bcf_return__cells")
    assert n == 3 * (len(EXPECTED_A_Q2) + len(EXPECTED_B_Q2))


def test_yml_tests_pass_with_run_tests(full):
    models = discover()
    failures = {name: run_tests(full.w, model) for name, model in models.items()}
    assert {name: [f.test for f in fs] for name, fs in failures.items() if fs} == {}
    assert {"rpt_bcf_return__cells", "fct_ingest_reconciliation"} <= set(models)


def test_every_emitted_name_is_spelled_as_in_the_template(full):
    template = set(template_defined_names(TEMPLATE))
    emitted = {r["defined_name"] for r in full.rows("select distinct defined_name from rpt_bcf_return__cells")}
    assert emitted - template == set()


# Names the SQL does not fill: commissioner answers (the inputs YAML), run provenance and tables the
# renderer writes, and formulas the workbook computes.
COMMISSIONER_NAMES = ("COMPLETED_BY", "EMAIL", "PHONE", "SIGNED_OFF", "SIGN_OFF_DATE", "NARRATIVE")
COMMISSIONER_PREFIXES = ("NC1_", "NC2_", "NC3_", "NC4_", "HICM_")
COMMISSIONER_SUFFIXES = ("_CHALLENGES", "_ACHIEVEMENTS", "_SUPPORT_NEEDS")
RENDERER_NAMES = ("PIPELINE_VERSION", "GENERATED_AT", "RUN_ID", "METRIC_DEFINITIONS_VERSION", "CONTENT_FINGERPRINT",
                  "TEMPLATE_STATUS")
RENDERER_PREFIXES = ("DASH_XMR_",)


def _in_scope_template_names(slots: int) -> set[str]:
    """The template's names the SQL must fill for an HWB with `slots` localities: every name but
    the commissioner's answers, the renderer's provenance, tables and chart anchors, the workbook's
    formulas, and the locality slots beyond `slots`."""
    names = set()
    for name in template_defined_names(TEMPLATE):
        if (name in COMMISSIONER_NAMES + RENDERER_NAMES or name.startswith(COMMISSIONER_PREFIXES + RENDERER_PREFIXES)
                or name.endswith(COMMISSIONER_SUFFIXES + ("_TABLE",))):
            continue
        slot = next((int(part[3:]) for part in name.split("_") if part.startswith("LOC") and part[3:].isdigit()), None)
        if name.startswith("DASH_") and slot is not None and slot > slots:
            continue
        names.add(name)
    return names


def test_every_in_scope_template_name_is_emitted(full):
    assert set(full.cells(Q2, HWB_A)) == _in_scope_template_names(slots=2)
    assert set(full.cells(Q2, HWB_B)) == _in_scope_template_names(slots=1)


def test_ingest_reconciliation_by_hand(full):
    got = {(r["feed"], r["delivery"]): (r["status"], r["rows_in"], r["valid"], r["quarantined"], r["superseded"],
                                        r["warning_rows"])
           for r in full.rows("select * from fct_ingest_reconciliation")}
    assert got == {
        # 9 coverage fillers and H1 (residence_unknown warnings) + 12 rows; E1 later superseded
        ("hes_apc", "20220401T0000_RXA_apc.csv"): ("loaded", 22, 21, 0, 1, 10),
        # E1 again (valid) and BAD1 (date_invalid)
        ("hes_apc", "20220402T0000_RXA_apc_fix.csv"): ("loaded", 2, 1, 1, 0, 0),
        # no EPIORDER column: rejected whole, nothing counts
        ("hes_apc", "20220403T0000_RXA_apc_bad.csv"): ("rejected", 0, 0, 0, 0, 0),
        # 9 fillers + 5 rows, AEBAD quarantined (age 130)
        ("hes_ae", "20220401T0000_RXA_ae.csv"): ("loaded", 14, 13, 1, 0, 9),
        ("plan", "20220401T0000_plan.csv"): ("loaded", 15, 15, 0, 0, 0),
        # fillers are outside the lookup (residence_unknown warnings)
        ("ambulance", "20220401T0000_ambulance.csv"): ("loaded", 13, 13, 0, 0, 9),
        ("ambulance", "20220402T0000_ambulance_bad.csv"): ("loaded", 1, 0, 1, 0, 0),
        ("social_care", "20220401T0000_social_care.csv"): ("loaded", 15, 15, 0, 0, 9),
        ("dtoc", "20220401T0000_dtoc.csv"): ("loaded", 13, 12, 0, 1, 0),
        ("dtoc", "20220402T0000_dtoc_fix.csv"): ("loaded", 1, 1, 0, 0, 0),
        ("finance", "20220401T0000_finance.csv"): ("loaded", 7, 7, 0, 0, 0),
        # two areas (HWB rows), not 2 x 91 long-form rows
        ("population", "ons_mye_mid-2017_fixture.csv"): ("loaded", 2, 2, 0, 0, 0),
    }
    rejected = full.rows("select reason from fct_ingest_reconciliation where status = 'rejected'")
    assert "EPIORDER" in rejected[0]["reason"]


# ---- PostgreSQL ---------------------------------------------------------------------------

@pytest.fixture
def postgres_url():
    base = os.environ.get("CB_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("CB_TEST_POSTGRES_URL is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    schema = f"cb_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'create schema "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'drop schema "{schema}" cascade')
        engine.dispose()


@pytest.mark.postgres
def test_postgres_gives_identical_cells(tmp_path, postgres_url):
    scenario = full_scenario()
    duck = scenario.build(tmp_path / "duckdb")
    pg = scenario.build(tmp_path / "postgres", url=postgres_url)
    assert pg.w.dialect == "postgresql"
    sql = ("select hwb_code, cast(quarter_start as varchar) as quarter_start, defined_name, value_number, value_text "
           "from rpt_bcf_return__cells order by hwb_code, quarter_start, defined_name")

    def normalised(built):
        return [tuple(None if v is None or v != v else v for v in row.values()) for row in built.rows(sql)]

    duck_rows, pg_rows = normalised(duck), normalised(pg)
    assert len(duck_rows) == 3 * (len(EXPECTED_A_Q2) + len(EXPECTED_B_Q2))
    assert pg_rows == duck_rows
    assert pg.cells(Q2, HWB_A) == EXPECTED_A_Q2
    # the marts agree too, figure by figure
    for table, key in (("fct_bcf_metrics_quarterly", "hwb_code, quarter_start, metric_id"),
                       ("fct_place_dashboard_quarterly", "hwb_code, quarter_start, measure_id, locality_code"),
                       ("fct_place_dashboard_monthly_xmr", "hwb_code, quarter_start, measure_id, month_start"),
                       ("fct_bcf_income_expenditure_quarterly", "hwb_code, quarter_start, line_type, funding_source"),
                       ("fct_data_quality_monthly", "feed, month"),
                       ("fct_data_quality_rules", "feed, rule_id"),
                       ("int_social_care__reablement_cohort", "la_code, event_reference"),
                       ("int_social_care__res65_admissions", "la_code, event_reference")):
        q = f"select * from {table} order by {key}"
        assert normalised_table(pg, q) == normalised_table(duck, q), table


def normalised_table(built, sql):
    out = []
    for row in built.rows(sql):
        out.append({k: (None if v is None or (isinstance(v, float) and v != v) else
                        (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else
                         (str(v) if not isinstance(v, (str, bool)) else v)))
                    for k, v in row.items()})
    return out
