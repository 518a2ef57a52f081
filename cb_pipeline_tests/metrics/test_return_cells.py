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
    APC_HEADER, HWB_A, HWB_A_NAME, HWB_B, HWB_B_NAME, LSOA_A3, LSOA_B1, NA, NOT_ON_TRACK, ON_TRACK, Q2, Scenario,
)

MEASURES = ["AE_ATT", "ED_RESP_0_4", "NEL", "NEL_RESP_0_4", "READM30", "CH_ADMIT"]
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
    return s


DQ = {
    # hes_apc: delivery 1 = 9 coverage fillers + 12 rows (E1 later superseded); delivery 2 = E1 + 1 quarantined;
    # the rejected delivery counts nothing
    "DQ_HES_APC_ROWS_IN": 23, "DQ_HES_APC_VALID": 21, "DQ_HES_APC_QUARANTINED": 1, "DQ_HES_APC_SUPERSEDED": 1,
    # hes_ae: 9 fillers + 5 rows, one quarantined
    "DQ_HES_AE_ROWS_IN": 14, "DQ_HES_AE_VALID": 13, "DQ_HES_AE_QUARANTINED": 1, "DQ_HES_AE_SUPERSEDED": 0,
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
    **_dash({
        ("AE_ATT", "AN"): (1, 2), ("AE_ATT", "AS"): (1, 1), ("AE_ATT", "ALL"): (2, 3),
        ("ED_RESP_0_4", "AN"): (0, 0), ("ED_RESP_0_4", "AS"): (1, 1), ("ED_RESP_0_4", "ALL"): (1, 1),
        ("NEL", "AN"): (4, 5), ("NEL", "AS"): (1, 2), ("NEL", "ALL"): (5, 7),
        ("NEL_RESP_0_4", "AN"): (1, 1), ("NEL_RESP_0_4", "AS"): (0, 0), ("NEL_RESP_0_4", "ALL"): (1, 1),
        ("READM30", "AN"): (1, 1), ("READM30", "AS"): (0, 0), ("READM30", "ALL"): (1, 1),
        ("CH_ADMIT", "AN"): (1, 1), ("CH_ADMIT", "AS"): (0, 0), ("CH_ADMIT", "ALL"): (1, 1),
    }, SLOTS_A),
    "DASH_AE_ATT_ALL_TARGET_YTD": 2.9, "DASH_AE_ATT_ALL_RAG": "A",      # 3 <= 1.05 x 2.9
    "DASH_ED_RESP_0_4_ALL_TARGET_YTD": None, "DASH_ED_RESP_0_4_ALL_RAG": "No Target",
    "DASH_NEL_ALL_TARGET_YTD": 7, "DASH_NEL_ALL_RAG": "G",              # 7 <= 7
    "DASH_NEL_RESP_0_4_ALL_TARGET_YTD": None, "DASH_NEL_RESP_0_4_ALL_RAG": "No Target",
    "DASH_READM30_ALL_TARGET_YTD": None, "DASH_READM30_ALL_RAG": "No Target",
    "DASH_CH_ADMIT_ALL_TARGET_YTD": 0, "DASH_CH_ADMIT_ALL_RAG": "R",    # 1 > 0
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
    **_dash({(m, loc): ((1, 1) if m == "NEL" else (0, 0)) for m in MEASURES for loc in ("BW", "ALL")}, SLOTS_B),
    **{f"DASH_{m}_ALL_TARGET_YTD": None for m in MEASURES},
    **{f"DASH_{m}_ALL_RAG": "No Target" for m in MEASURES},
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
    # cover 4, nea 6, falls65 6, dupr 3, acsc 2, dashboard (2 localities + ALL) x 6 measures x Q/YTD,
    # target and RAG per measure, locality code and name per slot, DQ 4 x 2 feeds
    assert len(EXPECTED_A_Q2) == 4 + 6 + 6 + 3 + 2 + 6 * 3 * 2 + 6 * 2 + 2 * 2 + 8
    assert len(EXPECTED_B_Q2) == 4 + 6 + 6 + 3 + 2 + 6 * 2 * 2 + 6 * 2 + 1 * 2 + 8
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


def _in_scope_template_names(slots: int) -> set[str]:
    """The template's names this scope must fill for an HWB with `slots` localities: cover names
    from data, the nea/falls65/dupr/acsc figures (not the commissioner's commentary), the six
    dashboard measures (ALL and the used locality slots), and the hes_apc/hes_ae data quality."""
    names = set()
    for name in template_defined_names(TEMPLATE):
        metric = name.startswith(("NEA_", "FALLS65_", "DUPR_", "ACSC_")) and not name.endswith(
            ("_CHALLENGES", "_ACHIEVEMENTS", "_SUPPORT_NEEDS"))
        dash = any(name.startswith(f"DASH_{m}_") for m in MEASURES) or name.startswith("DASH_LOC")
        slot = next((int(part[3:]) for part in name.split("_") if part.startswith("LOC") and part[3:].isdigit()), None)
        if metric or (dash and (slot is None or slot <= slots)) or name.startswith(("DQ_HES_APC_", "DQ_HES_AE_")):
            names.add(name)
    return names | {"HWB_CODE", "HWB_NAME", "REPORTING_QUARTER", "POPULATION_MID_YEAR"}


def test_every_in_scope_template_name_is_emitted(full):
    assert set(full.cells(Q2, HWB_A)) == _in_scope_template_names(slots=2)
    assert set(full.cells(Q2, HWB_B)) == _in_scope_template_names(slots=1)


def test_ingest_reconciliation_by_hand(full):
    got = {(r["feed"], r["delivery"]): (r["status"], r["rows_in"], r["valid"], r["quarantined"], r["superseded"],
                                        r["warning_rows"])
           for r in full.rows("select * from fct_ingest_reconciliation")}
    assert got == {
        # 9 coverage fillers (residence_unknown warnings) + 12 rows; E1 later superseded
        ("hes_apc", "20220401T0000_RXA_apc.csv"): ("loaded", 21, 20, 0, 1, 9),
        # E1 again (valid) and BAD1 (date_invalid)
        ("hes_apc", "20220402T0000_RXA_apc_fix.csv"): ("loaded", 2, 1, 1, 0, 0),
        # no EPIORDER column: rejected whole, nothing counts
        ("hes_apc", "20220403T0000_RXA_apc_bad.csv"): ("rejected", 0, 0, 0, 0, 0),
        # 9 fillers + 5 rows, AEBAD quarantined (age 130)
        ("hes_ae", "20220401T0000_RXA_ae.csv"): ("loaded", 14, 13, 1, 0, 9),
        ("plan", "20220401T0000_plan.csv"): ("loaded", 10, 10, 0, 0, 0),
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
                       ("fct_place_dashboard_quarterly", "hwb_code, quarter_start, measure_id, locality_code")):
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
