"""Spell-based figures: spell attributes (feeds.md), dupr with every exclusion, dash_readm30."""

import pytest

from cb_pipeline_tests.metrics.scenario import (
    HWB_A, HWB_B, LSOA_A1, LSOA_A3, LSOA_B1, LSOA_UNKNOWN, NA, NOT_ON_TRACK, ON_TRACK, Q1, Q2, Scenario,
)

ADM, DIS = "2018-05-01", "2018-05-05"

# single-episode spells (no person key: each episode is its own spell), discharged in Q1 unless given
DUPR_SPELLS = {
    # key: (in denominator?, in numerator?, values)
    "DEST19": (True, True, dict(disdest="19")),
    "DEST29": (True, False, dict(disdest="29")),
    "DEST54": (True, False, dict(disdest="54")),
    "DISMETH_EMPTY": (True, True, dict(disdest="19", dismeth="")),
    "DISMETH1": (True, True, dict(disdest="19", dismeth="1")),
    "DISMETH4": (False, False, dict(disdest="19", dismeth="4")),
    "DISMETH5": (False, False, dict(disdest="19", dismeth="5")),
    "DEST79": (False, False, dict(disdest="79")),
    "DEST98": (False, False, dict(disdest="98")),
    "DEST99": (False, False, dict(disdest="99")),
    "DEST_EMPTY": (False, False, dict(disdest="")),
    "ADMIMETH31": (False, False, dict(disdest="19", admimeth="31")),
    "ADMIMETH32": (False, False, dict(disdest="19", admimeth="32")),
    "ADMIMETH82": (False, False, dict(disdest="19", admimeth="82")),
    "ADMIMETH83": (False, False, dict(disdest="19", admimeth="83")),
    "ELECTIVE": (True, True, dict(disdest="19", admimeth="11")),
    "TRET650": (False, False, dict(disdest="19", tretspef="650")),
    "TRET920": (False, False, dict(disdest="19", tretspef="920")),
    "TRET_EMPTY": (True, True, dict(disdest="19", tretspef="")),
    "NONRESIDENT": (False, False, dict(disdest="19", lsoa11=LSOA_UNKNOWN)),
    "STILL_IN": (False, False, dict(disdest="19", disdate="")),
    "LAST_DAY_Q1": (True, True, dict(disdest="19", admidate="2018-06-29", disdate="2018-06-30")),
    "DISCHARGED_Q2": (False, False, dict(disdest="19", admidate="2018-06-20", disdate="2018-07-02")),
}


def _dupr_scenario() -> Scenario:
    s = Scenario()
    for key, (_, _, values) in DUPR_SPELLS.items():
        v = dict(admidate=ADM, disdate=DIS, spelend="Y")
        v.update(values)
        s.episode(v.pop("admidate"), epikey=key, **v)
    s.episode(ADM, epikey="HWB_B", lsoa11=LSOA_B1, disdate=DIS, disdest="19", spelend="Y")

    # multi-episode spells (linked by PSEUDO_HESID): attributes from the right episode
    # S1: admission attributes from EPIORDER 1 (resident A, TRETSPEF 300), discharge from SPELEND=Y (19),
    #     not from the highest EPIORDER (79) -> A denominator and numerator
    s.episode(ADM, epikey="S1E1", pseudo_hesid="S1", epiorder=1, lsoa11=LSOA_A1, tretspef="300", disdate=DIS, disdest="")
    s.episode(ADM, epikey="S1E2", pseudo_hesid="S1", epiorder=2, lsoa11=LSOA_B1, tretspef="650", disdate=DIS,
              disdest="19", spelend="Y")
    s.episode(ADM, epikey="S1E3", pseudo_hesid="S1", epiorder=3, lsoa11=LSOA_B1, disdate=DIS, disdest="79")
    # S2: first episode maternity (31) -> excluded although the later episode is emergency
    s.episode(ADM, epikey="S2E1", pseudo_hesid="S2", epiorder=1, admimeth="31", disdate=DIS)
    s.episode(ADM, epikey="S2E2", pseudo_hesid="S2", epiorder=2, admimeth="21", disdate=DIS, disdest="19", spelend="Y")
    # S3: first-episode TRETSPEF excluded -> spell excluded
    s.episode(ADM, epikey="S3E1", pseudo_hesid="S3", epiorder=1, tretspef="650", disdate=DIS)
    s.episode(ADM, epikey="S3E2", pseudo_hesid="S3", epiorder=2, tretspef="300", disdate=DIS, disdest="19", spelend="Y")
    # S4: no SPELEND: the highest EPIORDER (19) decides, not EPIORDER 1 (79)
    s.episode(ADM, epikey="S4E2", pseudo_hesid="S4", epiorder=2, disdate=DIS, disdest="19")
    s.episode(ADM, epikey="S4E1", pseudo_hesid="S4", epiorder=1, disdate=DIS, disdest="79")
    # S5: no SPELEND: the highest EPIORDER is 79 -> excluded
    s.episode(ADM, epikey="S5E2", pseudo_hesid="S5", epiorder=2, disdate=DIS, disdest="79")
    s.episode(ADM, epikey="S5E1", pseudo_hesid="S5", epiorder=1, disdate=DIS, disdest="19")
    # S6: first episode not resident (later episode is) -> excluded
    s.episode(ADM, epikey="S6E1", pseudo_hesid="S6", epiorder=1, lsoa11=LSOA_UNKNOWN, disdate=DIS)
    s.episode(ADM, epikey="S6E2", pseudo_hesid="S6", epiorder=2, lsoa11=LSOA_A1, disdate=DIS, disdest="19", spelend="Y")
    # S7: a later-episode TRETSPEF in the list does not exclude
    s.episode(ADM, epikey="S7E1", pseudo_hesid="S7", epiorder=1, tretspef="300", disdate=DIS)
    s.episode(ADM, epikey="S7E2", pseudo_hesid="S7", epiorder=2, tretspef="700", disdate=DIS, disdest="29", spelend="Y")
    s.target("dupr", 1, 70)
    s.target("dupr", 2, 100)
    return s


@pytest.fixture(scope="module")
def dupr_built(tmp_path_factory):
    """_dupr_scenario built once for the tests that only read it."""
    return _dupr_scenario().build(tmp_path_factory.mktemp("dupr"))


def test_spell_attributes_come_from_the_right_episode(dupr_built):
    b = dupr_built
    spells = {r["first_epikey"]: r for r in b.rows("select * from int_hes_apc__spells")}
    s1 = spells["S1E1"]
    assert (s1["episode_count"], s1["hwb_code"], s1["tretspef"], s1["discharge_epikey"], s1["disdest"]) == (
        3, HWB_A, "300", "S1E2", "19")
    assert spells["S2E1"]["admimeth"] == "31"
    assert (spells["S4E1"]["discharge_epikey"], spells["S4E1"]["disdest"]) == ("S4E2", "19")
    assert (spells["S5E1"]["discharge_epikey"], spells["S5E1"]["disdest"]) == ("S5E2", "79")
    assert spells["S6E1"]["hwb_code"] is None
    # without a person key every episode is its own spell
    assert spells["DEST19"]["episode_count"] == 1


def test_dupr_denominator_numerator_and_exclusions(dupr_built):
    b = dupr_built
    den = [k for k, (d, _, _) in DUPR_SPELLS.items() if d] + ["S1E1", "S4E1", "S7E1"]
    num = [k for k, (_, n, _) in DUPR_SPELLS.items() if n] + ["S1E1", "S4E1"]
    assert (len(den), len(num)) == (11, 8)
    m = b.metric("dupr")
    # 8 / 11 = 72.727 -> 72.7
    assert (m["denominator_q"], m["numerator_q"], m["pct_q"]) == (11, 8, 72.7)
    assert m["assessment"] == ON_TRACK  # 72.7 >= 70
    m2 = b.metric("dupr", Q2)
    assert (m2["denominator_q"], m2["numerator_q"], m2["pct_q"], m2["assessment"]) == (1, 1, 100.0, ON_TRACK)
    mb = b.metric("dupr", Q1, HWB_B)
    assert (mb["denominator_q"], mb["numerator_q"], mb["pct_q"], mb["assessment"]) == (1, 1, 100.0, NA)
    # a quarter with no discharges: 0 / 0 -> empty percentage
    m3 = b.metric("dupr", "2018-10-01")
    assert (m3["denominator_q"], m3["numerator_q"], m3["pct_q"]) == (0, 0, None)
    cells = b.cells()
    assert (cells["DUPR_DENOMINATOR_Q"], cells["DUPR_NUMERATOR_Q"], cells["DUPR_PCT_Q"]) == (11, 8, 72.7)


def test_dupr_percentage_rounds_half_away_from_zero(build):
    s = Scenario()
    s.episode(ADM, disdate=DIS, disdest="19", spelend="Y")
    for _ in range(15):
        s.episode(ADM, disdate=DIS, disdest="29", spelend="Y")
    s.target("dupr", 1, 6.3)
    b = build(s)
    m = b.metric("dupr")
    # 1 / 16 = 6.25 % -> 6.3 (round-half-even and float rounding give 6.2); the assessment uses the
    # unrounded 6.25 < 6.3
    assert (m["denominator_q"], m["numerator_q"], m["pct_q"], m["assessment"]) == (16, 1, 6.3, NOT_ON_TRACK)


# ---- dash_readm30 --------------------------------------------------------------------------

def _readmission_scenario() -> Scenario:
    s = Scenario()

    def previous(person, admidate, disdate, **kw):  # an elective spell P (never itself an R)
        v = dict(pseudo_hesid=person, admimeth="11", disdate=disdate, dismeth="1", disdest="19", spelend="Y")
        v.update(kw)
        return s.episode(admidate, **v)

    def readmission(key, person, admidate, **kw):  # an emergency spell R
        v = dict(pseudo_hesid=person, admimeth="21", spelend="Y")
        v.update(kw)
        return s.episode(admidate, epikey=key, **v)

    previous("P1", "2018-06-01", "2018-06-15")
    readmission("DAY30", "P1", "2018-07-15")                                  # counted (30 days)
    previous("P2", "2018-06-01", "2018-06-15")
    readmission("DAY31", "P2", "2018-07-16")                                  # not counted (31 days)
    previous("P3", "2018-07-01", "2018-07-05")
    readmission("DAY0", "P3", "2018-07-05", procode3="RXB")                   # counted (0 days)
    previous("P4", "2018-07-01", "2018-07-01", dismeth="4")
    readmission("AFTER_DEATH", "P4", "2018-07-10")                            # not counted (P died)
    previous("P4B", "2018-07-01", "2018-07-01", dismeth="5")
    readmission("AFTER_STILLBIRTH", "P4B", "2018-07-10")                      # not counted
    previous("P5", "2018-07-01", "2018-07-01")
    readmission("TRANSFER51", "P5", "2018-07-02", admisorc="51")              # not counted (R from NHS hospital)
    previous("P5B", "2018-07-01", "2018-07-01")
    readmission("TRANSFER53", "P5B", "2018-07-02", admisorc="53")             # not counted
    s.episode("2018-07-01", admimeth="11", disdate="2018-07-01", spelend="Y")  # no person key
    readmission("NO_KEY", "", "2018-07-03")                                   # not counted (cannot link)
    readmission("SELF", "P6", "2018-07-20", disdate="2018-07-20", dismeth="1")  # a day case alone: not its own P
    previous("P7", "2018-06-20", "2018-07-01")
    previous("P7", "2018-07-03", "2018-07-05")
    readmission("TWO_P", "P7", "2018-07-10")                                  # counted once
    previous("P8", "2018-06-20", "2018-07-01")
    readmission("ELECTIVE_R", "P8", "2018-07-05", admimeth="11")              # not counted (not emergency)
    previous("P9", "2018-06-20", "2018-07-01")
    readmission("NONRESIDENT_R", "P9", "2018-07-05", lsoa11=LSOA_UNKNOWN)     # not counted (R not resident)
    previous("P10", "2018-06-20", "2018-07-01", lsoa11=LSOA_UNKNOWN)
    readmission("NONRESIDENT_P", "P10", "2018-07-05", lsoa11=LSOA_A3)         # counted (P may be anywhere), AS
    s.episode("2018-07-01", pseudo_hesid="P11", admimeth="11")                # still in hospital (no DISDATE)
    readmission("P_STILL_IN", "P11", "2018-07-05")                            # not counted
    previous("P12", "2018-06-01", "2018-06-20")
    readmission("IN_Q1", "P12", "2018-06-30")                                 # counted in Q1
    previous("P13", "2018-06-20", "2018-07-01")
    readmission("MULTI_EPISODE", "P13", "2018-07-05", spelend="")              # one spell of two episodes
    s.episode("2018-07-05", epikey="MULTI_EPISODE_2", pseudo_hesid="P13", epiorder=2, spelend="Y")
    previous(None, "2018-06-20", "2018-07-01", nhsnumber="9434765919")
    readmission("BY_NHS_NUMBER", None, "2018-07-08", nhsnumber="943 476 5919")  # counted (person_key from NHS no.)
    return s


def test_dash_readm30(build):
    b = build(_readmission_scenario())
    counted = {r["procode3"] + "/" + str(r["admidate"]) + "/" + r["locality_code"]
               for r in b.rows("select * from int_hes_apc__readmissions_30d")}
    assert counted == {
        "RXA/2018-07-15/AN", "RXB/2018-07-05/AN", "RXA/2018-07-10/AN", "RXA/2018-07-05/AS",
        "RXA/2018-06-30/AN", "RXA/2018-07-05/AN", "RXA/2018-07-08/AN",
    }
    two_p = b.rows("select previous_spell_count from int_hes_apc__readmissions_30d where admidate = :d "
                   "and days_since_previous_discharge = 5", d="2018-07-10")
    assert [r["previous_spell_count"] for r in two_p] == [2]
    q2 = b.dash("dash_readm30", Q2)
    assert (q2["actual_q"], q2["actual_ytd"]) == (6, 7)
    assert (b.dash("dash_readm30", Q2, "AN")["actual_q"], b.dash("dash_readm30", Q2, "AS")["actual_q"]) == (5, 1)
    assert b.dash("dash_readm30", Q1)["actual_q"] == 1
