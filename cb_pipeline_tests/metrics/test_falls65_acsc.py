"""falls65 (row rules, crude rate, DSR, assessment), acsc (code list and its conditional clauses),
the episode-based dashboard measures, and diagnosis code normalisation."""

from cb_pipeline_tests.metrics.scenario import (
    HWB_A, LSOA_A3, LSOA_UNKNOWN, NA, NOT_ON_TRACK, ON_TRACK, POPULATION_AGES, Q2, Scenario,
)

FALLS = ("int_hes_apc__first_episodes_resident", "epikey", "is_falls65")
ACSC = ("int_hes_apc__first_episodes_resident", "epikey", "is_acsc")

# epikey -> (counted?, column values); all in Q1, resident, EPIORDER 1, ADMIMETH 21 unless given
FALLS_ROWS = {
    "AGE65": (True, dict(startage=65, diag_4_01="S720", diag_4_02="W19X")),
    "AGE64": (False, dict(startage=64, diag_4_01="S720", diag_4_02="W19X")),
    "T98": (True, dict(startage=70, diag_4_01="T981", diag_4_02="W010")),
    "T99": (False, dict(startage=70, diag_4_01="T99X", diag_4_02="W010")),
    "T00": (True, dict(startage=70, diag_4_01="T001", diag_4_02="W010")),
    "W20": (False, dict(startage=70, diag_4_01="S001", diag_4_02="W20X")),
    "W00_SLOT20": (True, dict(startage=70, diag_4_01="S001", diag_4_20="W00X")),
    "S_IN_SLOT2": (False, dict(startage=70, diag_4_01="W19X", diag_4_02="S720")),
    "NO_FALL": (False, dict(startage=70, diag_4_01="S720")),
    "ELECTIVE": (False, dict(startage=70, admimeth="11", diag_4_01="S720", diag_4_02="W19X")),
    "ADMIMETH81": (False, dict(startage=70, admimeth="81", diag_4_01="S720", diag_4_02="W19X")),
    "ADMIMETH2A": (True, dict(startage=70, admimeth="2A", diag_4_01="S720", diag_4_02="W19X")),
    "EPIORDER2": (False, dict(startage=70, epiorder=2, diag_4_01="S720", diag_4_02="W19X")),
    "DOTTED": (True, dict(startage=70, diag_4_01="S72.0", diag_4_02="W19.0")),
    "SUFFIXED": (True, dict(startage=70, diag_4_01="S720D", diag_4_02="W19XA")),
    "AGE95": (True, dict(startage=95, diag_4_01="S720", diag_4_02="W19X")),
    "R69": (False, dict(startage=70, diag_4_01="R69X", diag_4_02="W19X")),
    "NONRESIDENT": (False, dict(startage=70, lsoa11=LSOA_UNKNOWN, diag_4_01="S720", diag_4_02="W19X")),
}


def test_falls65_rows(build):
    s = Scenario()
    for key, (_, values) in FALLS_ROWS.items():
        s.episode("2018-05-10", epikey=key, **values)
    s.target("falls65", 1, 8)
    s.target("falls65", 2, 0)
    b = build(s)
    expected = {k for k, (counted, _) in FALLS_ROWS.items() if counted}
    assert {k for k, v in b.flags(*FALLS).items() if v} == expected
    m = b.metric("falls65")
    assert (m["actual_q"], m["actual_ytd"], m["plan_ytd"], m["assessment"]) == (8, 8, 8, ON_TRACK)
    m2 = b.metric("falls65", Q2)
    assert (m2["actual_q"], m2["actual_ytd"], m2["plan_ytd"], m2["assessment"]) == (0, 8, 8, ON_TRACK)
    assert b.metric("falls65", "2018-10-01")["assessment"] == NA  # no Q3 plan


def test_falls65_crude_rate_and_dsr_by_hand(build):
    # population: 0-64 100 each; 65-69 200 each (1000); 70-74 100 each (500); 75-79 none (0);
    # 80-84 40 each (200); 85-89 20 each (100); 90+ 50  => 65+ = 1850
    ages = {}
    for a in POPULATION_AGES:
        n = 90 if a == "90+" else int(a)
        ages[a] = (100 if n < 65 else 200 if n < 70 else 100 if n < 75 else 0 if n < 80
                   else 40 if n < 85 else 20 if n < 90 else 50)
    s = Scenario()
    s.population(2017, HWB_A, ages)
    for age in (66, 69, 72, 77, 88, 92):  # bands 65-69 x2, 70-74, 75-79 (population 0), 85-89, 90+
        s.episode("2018-05-10", startage=age, diag_4_01="S720", diag_4_02="W19X")
    s.target("falls65", 1, 5)
    b = build(s)
    m = b.metric("falls65")
    # crude = 6 / 1850 x 100000 = 324.32 -> 324.3
    # DSR = 100000 x (5500x2/1000 + 5000x1/500 + 0 (p=0) + 2500x0/200 + 1500x1/100 + 1000x1/50) / 19500
    #     = 100000 x (11 + 10 + 15 + 20) / 19500 = 287.179 -> 287.2
    assert (m["actual_q"], m["population_denominator"], m["rate_q"], m["dsr_q"]) == (6, 1850, 324.3, 287.2)
    assert m["assessment"] == NOT_ON_TRACK  # 6 > 5
    cells = b.cells()
    assert (cells["FALLS65_RATE_Q"], cells["FALLS65_DSR_Q"], cells["FALLS65_PLAN_YTD"],
            cells["FALLS65_ASSESSMENT"]) == (324.3, 287.2, 5, NOT_ON_TRACK)


E10 = dict(diag_4_01="E10X")
ACSC_ROWS = {
    # B18 hepatitis: only when no diagnosis is D57x
    "B180": (True, dict(diag_4_01="B180")),
    "B181": (True, dict(diag_4_01="B181")),
    "B180_D57_SLOT2": (False, dict(diag_4_01="B180", diag_4_02="D571")),
    "B181_D57_SLOT5": (False, dict(diag_4_01="B181", diag_4_05="D57X")),
    "B182": (False, dict(diag_4_01="B182")),
    "E10": (True, E10), "E14": (True, dict(diag_4_01="E149")), "E15": (False, dict(diag_4_01="E15X")),
    "D501": (True, dict(diag_4_01="D501")), "D508": (True, dict(diag_4_01="D508")),
    "D509": (True, dict(diag_4_01="D509")), "D500": (False, dict(diag_4_01="D500")),
    "D51": (True, dict(diag_4_01="D51X")), "D52": (True, dict(diag_4_01="D529")), "D53": (False, dict(diag_4_01="D53X")),
    "F00": (True, dict(diag_4_01="F00X")), "F03": (True, dict(diag_4_01="F039")), "F04": (False, dict(diag_4_01="F04X")),
    "G40": (True, dict(diag_4_01="G40X")), "G41": (True, dict(diag_4_01="G419")), "G42": (False, dict(diag_4_01="G42X")),
    "I10": (True, dict(diag_4_01="I10X")), "I110": (True, dict(diag_4_01="I110")), "I119": (True, dict(diag_4_01="I119")),
    "I111": (False, dict(diag_4_01="I111")), "I130": (True, dict(diag_4_01="I130")), "I131": (False, dict(diag_4_01="I131")),
    "I20": (True, dict(diag_4_01="I20X")), "I25": (True, dict(diag_4_01="I259")), "I48": (True, dict(diag_4_01="I48X")),
    "I50": (True, dict(diag_4_01="I509")), "I21": (False, dict(diag_4_01="I21X")),
    "J41": (True, dict(diag_4_01="J41X")), "J42": (True, dict(diag_4_01="J42X")), "J43": (True, dict(diag_4_01="J43X")),
    "J44": (True, dict(diag_4_01="J449")), "J45": (True, dict(diag_4_01="J45X")), "J46": (True, dict(diag_4_01="J46X")),
    "J47": (True, dict(diag_4_01="J47X")), "J81": (True, dict(diag_4_01="J81X")),
    "J40": (False, dict(diag_4_01="J40X")), "J48": (False, dict(diag_4_01="J48X")),
    # J20 only with a secondary J41-J44 or J47
    "J20_J44": (True, dict(diag_4_01="J20X", diag_4_02="J44X")),
    "J20_J47_SLOT3": (True, dict(diag_4_01="J209", diag_4_03="J47X")),
    "J20_J45": (False, dict(diag_4_01="J20X", diag_4_02="J45X")),
    "J20_ALONE": (False, dict(diag_4_01="J20X")),
    "SECONDARY_ONLY": (False, dict(diag_4_01="", diag_4_02="I10X")),
    # ADMISORC 51-53 excluded; other sources and empty included; emergency only
    "SORC51": (False, dict(E10, admisorc="51")), "SORC52": (False, dict(E10, admisorc="52")),
    "SORC53": (False, dict(E10, admisorc="53")), "SORC54": (True, dict(E10, admisorc="54")),
    "SORC19": (True, dict(E10, admisorc="19")),
    "ELECTIVE": (False, dict(E10, admimeth="11")), "ADMIMETH81": (False, dict(E10, admimeth="81")),
    "ADMIMETH2D": (True, dict(E10, admimeth="2D")), "EPIORDER2": (False, dict(E10, epiorder=2)),
}


def test_acsc_code_families_and_clauses(build):
    s = Scenario()
    for key, (_, values) in ACSC_ROWS.items():
        s.episode("2018-05-10", epikey=key, **values)
    b = build(s)
    expected = {k for k, (counted, _) in ACSC_ROWS.items() if counted}
    assert {k for k, v in b.flags(*ACSC).items() if v} == expected
    m = b.metric("acsc")
    # default all-age population 100,000: the crude rate equals the count
    assert (m["actual_q"], m["rate_q"]) == (len(expected), float(len(expected)))
    assert (b.cells()["ACSC_ACTUAL_Q"], b.cells()["ACSC_RATE_Q"]) == (len(expected), len(expected))


NEL_RESP_ROWS = {
    "AGE4_J": (True, dict(startage=4, diag_4_01="J459")),
    "INFANT_J": (True, dict(startage=7001, diag_4_01="J219")),
    "AGE2_81_J": (True, dict(startage=2, admimeth="81", diag_4_01="J180")),
    "AGE5_J": (False, dict(startage=5, diag_4_01="J459")),
    "AGE4_I": (False, dict(startage=4, diag_4_01="I10X")),
    "AGE4_ELECTIVE": (False, dict(startage=4, admimeth="11", diag_4_01="J459")),
    "AGE4_TRET700": (False, dict(startage=4, tretspef="700", diag_4_01="J459")),
    "AGE4_EPIORDER2": (False, dict(startage=4, epiorder=2, diag_4_01="J459")),
}


def test_dash_nel_resp_0_4(build):
    s = Scenario()
    for key, (_, values) in NEL_RESP_ROWS.items():
        s.episode("2018-05-10", epikey=key, **values)
    b = build(s)
    flags = b.flags("int_hes_apc__first_episodes_resident", "epikey", "is_dash_nel_resp_0_4")
    assert {k for k, v in flags.items() if v} == {"AGE4_J", "INFANT_J", "AGE2_81_J"}
    assert b.dash("dash_nel_resp_0_4")["actual_q"] == 3
    assert b.dash("dash_nel")["actual_q"] == 5  # the three plus AGE5_J and AGE4_I


CH_ROWS = {
    "SORC54": (True, dict(admisorc="54")), "SORC55": (True, dict(admisorc="55")),
    "SORC56": (True, dict(admisorc="56")), "SORC65": (True, dict(admisorc="65")),
    "SORC85": (True, dict(admisorc="85", lsoa11=LSOA_A3)), "SORC54_2D": (True, dict(admisorc="54", admimeth="2D")),
    "SORC19": (False, dict(admisorc="19")), "SORC51": (False, dict(admisorc="51")),
    "SORC98": (False, dict(admisorc="98")), "SORC_EMPTY": (False, dict(admisorc="")),
    "SORC54_ELECTIVE": (False, dict(admisorc="54", admimeth="11")),
    "SORC54_81": (False, dict(admisorc="54", admimeth="81")),
    "SORC54_EPIORDER2": (False, dict(admisorc="54", epiorder=2)),
    "SORC54_NONRESIDENT": (False, dict(admisorc="54", lsoa11=LSOA_UNKNOWN)),
}


def test_dash_ch_admit(build):
    s = Scenario()
    for key, (_, values) in CH_ROWS.items():
        s.episode("2018-05-10", epikey=key, **values)
    b = build(s)
    flags = b.flags("int_hes_apc__first_episodes_resident", "epikey", "is_dash_ch_admit")
    assert {k for k, v in flags.items() if v} == {k for k, (c, _) in CH_ROWS.items() if c}
    assert (b.dash("dash_ch_admit", locality="AN")["actual_q"], b.dash("dash_ch_admit", locality="AS")["actual_q"],
            b.dash("dash_ch_admit")["actual_q"]) == (5, 1, 6)


def test_diagnosis_codes_are_normalised_in_staging(build):
    s = Scenario()
    codes = {"I10X": "I10", "J45.9": "J459", "S72-": "S72", "I10XD": "I10", "K25A": "K25", "R69X": "None",
             "R69": "None", "-": "None", "i10x": "I10", " E11X ": "E11", "D509": "D509"}
    for i, raw in enumerate(codes):
        s.episode("2018-05-10", epikey=f"N{i}", diag_4_01=raw)
    b = build(s)
    got = b.flags("stg_hes_apc__episodes", "epikey", "diag_4_01")
    assert {raw: str(got[f"N{i}"]) for i, raw in enumerate(codes)} == codes
