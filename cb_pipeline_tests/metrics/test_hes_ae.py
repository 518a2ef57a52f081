"""A&E dashboard measures: dash_ae_att and dash_ed_resp_0_4."""

from cb_pipeline_tests.metrics.scenario import HWB_B, LSOA_A3, LSOA_B1, LSOA_UNKNOWN, Scenario

ATTENDANCES = {
    # key: (dash_ae_att?, dash_ed_resp_0_4?, values)
    "CAT1": (True, False, dict(aeattendcat="1")),
    "CAT2": (False, False, dict(aeattendcat="2")),
    "CAT3_AS": (True, False, dict(aeattendcat="3", lsoa11=LSOA_A3)),
    "CAT_EMPTY": (True, False, dict(aeattendcat="")),
    "CAT9": (True, False, dict(aeattendcat="9")),
    "NONRESIDENT": (False, False, dict(lsoa11=LSOA_UNKNOWN)),
    "AGE4_25": (True, True, dict(arrivalage="4", diag2_01="25")),
    "AGE5_25": (True, False, dict(arrivalage="5", diag2_01="25")),
    "AGE4_24": (True, False, dict(arrivalage="4", diag2_01="24")),
    "AGE4_DIAG3_FALLBACK": (True, True, dict(arrivalage="4", diag2_01="", diag3_01="251")),
    "AGE4_DIAG2_WINS": (True, False, dict(arrivalage="4", diag2_01="24", diag3_01="251")),
    "INFANT_25": (True, True, dict(arrivalage="7001", diag2_01="25")),
    "AGE4_25_PLANNED": (False, False, dict(arrivalage="4", diag2_01="25", aeattendcat="2")),
}


def test_dash_ae_att_and_ed_resp_0_4(build):
    s = Scenario()
    for key, (_, _, values) in ATTENDANCES.items():
        s.attendance("2018-05-10", aekey=key, **values)
    s.attendance("2018-05-10", aekey="HWB_B", lsoa11=LSOA_B1)
    b = build(s)
    rows = {r["aekey"]: r for r in b.rows("select * from int_hes_ae__attendances_resident")}
    assert {k for k, r in rows.items() if r["is_dash_ae_att"] and k != "HWB_B"} == {
        k for k, (att, _, _) in ATTENDANCES.items() if att}
    assert {k for k, r in rows.items() if r["is_dash_ed_resp_0_4"]} == {
        k for k, (_, resp, _) in ATTENDANCES.items() if resp}
    assert (b.dash("dash_ae_att", locality="AN")["actual_q"], b.dash("dash_ae_att", locality="AS")["actual_q"],
            b.dash("dash_ae_att")["actual_q"]) == (9, 1, 10)
    assert b.dash("dash_ed_resp_0_4")["actual_q"] == 3
    assert b.dash("dash_ae_att", hwb=HWB_B)["actual_q"] == 1
    assert b.dash("dash_ed_resp_0_4", hwb=HWB_B)["actual_q"] == 0
