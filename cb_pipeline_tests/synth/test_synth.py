"""Tests of the synthetic landing zone generator (cb_pipeline.synth).

What belongs here: checks of the files the generator writes, read back with pandas exactly as
an outsider would - headers against feeds.md, volumes against the Central Bedfordshire figures
in the brief and the 2018/19 place based plan dashboard, quirks, links between feeds, defects,
determinism. What does not: anything imported from the generator besides its entry point (the
expected figures, column lists, code lists and the modulus 11 check are written out here,
independently, from the spec).
"""

import datetime as dt
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cb_pipeline.synth import generate_landing_zone
from cb_pipeline_tests.shared_data import SHARED

REAL_REFERENCE = SHARED / "reference"

# ---------------------------------------------------------------- the contract, typed from feeds.md

DIAGS = [f"DIAG_4_{i:02d}" for i in range(1, 21)]
SPEC_COLUMNS = {
    "hes_apc": ["EPIKEY", "PROCODE3", "NHSNUMBER", "PSEUDO_HESID", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE", "EPIORDER",
                "SPELEND", "ADMIMETH", "ADMISORC", "CLASSPAT", "DISMETH", "DISDEST", "STARTAGE", "SEX", "LSOA11", "GPPRAC",
                "TRETSPEF", *DIAGS],
    "hes_ae": ["AEKEY", "PROCODE3", "NHSNUMBER", "PSEUDO_HESID", "ARRIVALDATE", "ARRIVALTIME", "ARRIVALAGE", "SEX", "LSOA11",
               "GPPRAC", "AEATTENDCAT", "AEARRIVALMODE", "AEDEPTTYPE", "AEATTENDDISP", "DIAG2_01", "DIAG3_01"],
    "ambulance": ["INCIDENT_ID", "CALL_DATETIME", "NHSNUMBER", "PATIENT_AGE", "PATIENT_SEX", "INCIDENT_LSOA11",
                  "LOCATION_TYPE", "CARE_HOME_ID", "CATEGORY", "OUTCOME", "DESTINATION_SITE"],
    "social_care": ["LA_Code", "LA_Person_Unique_Identifier", "NHS_Number", "Date_of_Birth", "Gender", "LSOA11",
                    "Date_of_Death", "Client_Type", "Event_Type", "Event_Reference", "Event_Start_Date", "Event_End_Date",
                    "Service_Type", "Service_Component", "Route_of_Access", "Hospital_Discharge_Date", "Event_Outcome"],
    "dtoc": ["Period", "Provider_Code", "LA_Code", "Agency", "Type_of_Care", "Reason", "Delayed_Days"],
    "finance": ["hwb_code", "financial_year", "quarter", "scheme_id", "scheme_name", "line_type", "funding_source",
                "plan_amount", "actual_amount"],
    "plan": ["hwb_code", "financial_year", "quarter", "metric_id", "target"],
}
REQUIRED = {
    "hes_apc": ["EPIKEY", "PROCODE3", "ADMIDATE", "EPIORDER", "ADMIMETH", "STARTAGE"],
    "hes_ae": ["AEKEY", "PROCODE3", "ARRIVALDATE", "ARRIVALAGE"],
    "ambulance": ["INCIDENT_ID", "CALL_DATETIME", "INCIDENT_LSOA11", "LOCATION_TYPE", "OUTCOME"],
    "social_care": ["LA_Code", "LA_Person_Unique_Identifier", "Date_of_Birth", "Client_Type", "Event_Type", "Event_Reference",
                    "Event_Start_Date"],
    "dtoc": ["Period", "Provider_Code", "LA_Code", "Agency", "Type_of_Care", "Reason", "Delayed_Days"],
    "population": ["total_population"],
    "finance": ["hwb_code", "financial_year", "quarter", "scheme_id", "scheme_name", "line_type", "funding_source",
                "plan_amount", "actual_amount"],
    "plan": ["hwb_code", "financial_year", "quarter", "metric_id", "target"],
}
AGES = [str(a) for a in range(90)] + ["90+"]
LOOKUP_COLUMNS = ["lsoa11_code", "lsoa11_name", "msoa11_code", "msoa11_name", "la_code", "la_name", "locality_code",
                  "locality_name"]
ADMIMETH = {"11", "12", "13", "21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D", "31", "32", "81", "82", "83", "98", "99"}
DISMETH = {"1", "2", "3", "4", "5", "8", "9"}
DISDEST = {"19", "29", "30", "37", "38", "40", "42", "48", "49", "50", "51", "52", "53", "54", "55", "56", "65", "66", "79",
           "84", "85", "87", "88", "89", "98", "99"}
LOCATION_TYPES = {"HOME", "CARE_HOME", "PUBLIC_PLACE", "HEALTHCARE_SETTING", "OTHER"}
OUTCOMES = {"HEAR_AND_TREAT", "SEE_AND_TREAT", "CONVEY_ED", "CONVEY_OTHER"}
CARE_HOME_SOURCES = {"54", "55", "56", "65", "85"}
PROVIDERS = {"RC9", "RD8", "RWH", "RWG", "RGT", "RGN", "RXQ"}
DASH_IDS = ["dash_ae_att", "dash_ed_resp_0_4", "dash_nel", "dash_nel_resp_0_4", "dash_readm30", "dash_dtoc", "dash_ch_callout",
            "dash_ch_convey", "dash_ch_admit"]
MATURITY = {"Not yet established", "Plans in place", "Established", "Mature", "Exemplary"}
HICM = ["early_discharge_planning", "systems_to_monitor_patient_flow", "multi_disciplinary_discharge_teams",
        "home_first_discharge_to_assess", "seven_day_service", "trusted_assessors", "focus_on_choice",
        "enhancing_health_in_care_homes"]
DATE_COLUMNS = {
    "hes_apc": ["ADMIDATE", "EPISTART", "EPIEND", "DISDATE"],
    "hes_ae": ["ARRIVALDATE"],
    "ambulance": ["CALL_DATETIME"],
    "social_care": ["Date_of_Birth", "Date_of_Death", "Event_Start_Date", "Event_End_Date", "Hospital_Discharge_Date"],
}
KEYS = {"hes_apc": "EPIKEY", "hes_ae": "AEKEY", "ambulance": "INCIDENT_ID", "social_care": "Event_Reference"}


def nhs_number_valid(value: str) -> bool:
    """Modulus 11, written from feeds.md."""
    digits = value.replace(" ", "").replace("-", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def test_modulus_11_helper_matches_the_spec_example():
    assert nhs_number_valid("943 476 5919")
    assert not nhs_number_valid("9434765918")
    assert not nhs_number_valid("943476591")


# ---------------------------------------------------------------- helpers


def read_feed(root: Path, feed: str) -> pd.DataFrame:
    frames = []
    for path in sorted((root / "landing" / feed).glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame["_file"] = path.name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def current(frame: pd.DataFrame, key) -> pd.DataFrame:
    """Latest row per key (deliveries apply in lexical order of file name)."""
    return frame.sort_values("_file", kind="stable").drop_duplicates(key, keep="last")


def header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig") as handle:
        return handle.readline().rstrip("\n").split(",")


def file_date(name: str) -> dt.date | None:
    match = re.match(r"^(\d{8})T\d{4}", name)
    return dt.datetime.strptime(match[1], "%Y%m%d").date() if match else None


def age_years(text: pd.Series) -> pd.Series:
    number = pd.to_numeric(text, errors="coerce")
    return number.where(~number.between(7001, 7007), 0)


def parse_dates(text: pd.Series) -> pd.Series:
    iso = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    dmy = pd.to_datetime(text.str.slice(0, 10), format="%d/%m/%Y", errors="coerce")
    return iso.fillna(dmy)


def lookup_codes(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "reference" / "lsoa_localities.csv", dtype=str, keep_default_na=False)


def within(actual: float, target: float, share: float) -> bool:
    return abs(actual - target) <= share * target


# ---------------------------------------------------------------- zones (generated once per module)


@pytest.fixture(scope="module")
def fy_zone(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fy")
    started = time.perf_counter()
    summary = generate_landing_zone(out, start="2018-04", end="2019-03", progress=None)
    wall = time.perf_counter() - started
    print(f"\nsynth timing: one HWB, FY 2018-19, scale 1: {wall:.1f}s wall, {summary.elapsed_seconds:.1f}s reported; rows {summary.rows}")
    return out


def _small(tmp_path_factory, name, **kwargs) -> Path:
    out = tmp_path_factory.mktemp(name)
    generate_landing_zone(out, progress=None, **{"start": "2018-04", "end": "2018-06", "scale": 0.3, **kwargs})
    return out


@pytest.fixture(scope="module")
def defect_zone(tmp_path_factory) -> Path:
    return _small(tmp_path_factory, "defects", defects=0.03)


@pytest.fixture(scope="module")
def multi_zone(tmp_path_factory) -> Path:
    return _small(tmp_path_factory, "multi", start="2018-10", end="2018-12", hwbs=3, scale=0.3)


# ---------------------------------------------------------------- determinism


def _all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path_factory):
    a = _all_files(_small(tmp_path_factory, "seed_a", seed=7))
    b = _all_files(_small(tmp_path_factory, "seed_b", seed=7))
    c = _all_files(_small(tmp_path_factory, "seed_c", seed=8))
    assert a.keys() == b.keys()
    assert [name for name in a if a[name] != b[name]] == []
    landing = [name for name in a if name.startswith("landing/") and name.endswith(".csv")]
    assert len(landing) > 50
    differing = [name for name in landing if c.get(name) != a[name]]
    assert len(differing) > 0.9 * len(landing), "a different seed should change (nearly) every delivery"


def test_rerun_replaces_its_own_output_but_refuses_foreign_files(tmp_path):
    generate_landing_zone(tmp_path, start="2018-04", end="2018-04", scale=0.05, progress=None)
    first = _all_files(tmp_path)
    generate_landing_zone(tmp_path, start="2018-04", end="2018-04", scale=0.05, progress=None)
    assert _all_files(tmp_path) == first
    (tmp_path / "landing" / "hes_apc" / "20990101T0000_XYZ_apc.csv").write_text("EPIKEY\n1\n")
    with pytest.raises(FileExistsError, match="did not write"):
        generate_landing_zone(tmp_path, start="2018-04", end="2018-04", scale=0.05, progress=None)


# ---------------------------------------------------------------- shape: folders, headers, lookup, population


def test_every_feed_folder_has_deliveries_with_the_spec_headers(fy_zone):
    for feed, columns in SPEC_COLUMNS.items():
        files = sorted((fy_zone / "landing" / feed).glob("*.csv"))
        assert files, f"no deliveries in {feed}"
        for path in files:
            names = header(path)
            if feed.startswith("hes_"):
                assert names[: len(columns)] == columns, path.name
                assert len(names) > len(columns), f"{path.name}: HES extracts carry extra columns to ignore"
            else:
                assert names == columns, path.name
            assert file_date(path.name) is not None, f"{path.name} has no leading timestamp"
    names = sorted(p.name for p in (fy_zone / "landing" / "population").glob("*.csv"))
    assert names == ["ons_mye_mid-2017_lsoa11_synthetic.csv", "ons_mye_mid-2017_utla_E06000056.csv"]
    pop = fy_zone / "landing" / "population"
    assert header(pop / names[0]) == ["lsoa11_name", "lsoa11_code", "total_population", *AGES]
    assert header(pop / names[1]) == ["utla20_code", "utla20_name", "total_population", *AGES]


def test_synthetic_lookup_has_four_localities_and_synthetic_codes(fy_zone):
    lookup = lookup_codes(fy_zone)
    assert list(lookup.columns) == LOOKUP_COLUMNS
    assert set(lookup["la_code"]) == {"E06000056"}
    assert set(lookup["la_name"]) == {"Central Bedfordshire"}
    localities = dict(zip(lookup["locality_code"], lookup["locality_name"]))
    assert localities == {"CV": "Chiltern Vale", "LB": "Leighton Buzzard", "WMB": "West Mid Beds", "IV": "Ivel Valley"}
    assert 150 <= len(lookup) <= 165 and lookup["lsoa11_code"].is_unique
    assert lookup["lsoa11_code"].str.fullmatch(r"E01\d{6}").all()
    # real England LSOA 2011 codes run E01000001..E01035xxx (Central Bedfordshire: E0101xxxx, E0103xxxx)
    assert (lookup["lsoa11_code"] > "E01040000").all()
    assert (lookup["msoa11_code"] > "E02010000").all()
    if REAL_REFERENCE.is_dir():
        real = pd.concat(pd.read_csv(p, dtype=str) for p in REAL_REFERENCE.glob("*.csv"))
        assert not set(real["lsoa11_code"]) & set(lookup["lsoa11_code"])


def test_population_is_ons_shaped_and_calibrated(fy_zone):
    pop_dir = fy_zone / "landing" / "population"
    lsoa = pd.read_csv(pop_dir / "ons_mye_mid-2017_lsoa11_synthetic.csv", dtype=str)
    utla = pd.read_csv(pop_dir / "ons_mye_mid-2017_utla_E06000056.csv", dtype=str)
    assert set(lsoa["lsoa11_code"]) == set(lookup_codes(fy_zone)["lsoa11_code"])
    for frame in (lsoa, utla):
        assert frame[["total_population", *AGES]].apply(lambda c: c.str.fullmatch(r"\d+\.0")).all().all(), "counts look like 17.0"
        values = frame[["total_population", *AGES]].astype(float)
        assert (values["total_population"] == values[AGES].sum(axis=1)).all()
    total = float(utla["total_population"].iloc[0])
    over_65 = utla[AGES[65:]].astype(float).sum(axis=1).iloc[0]
    assert within(total, 290_000, 0.05), total
    assert within(over_65, 50_000, 0.10), over_65
    assert lsoa["total_population"].astype(float).sum() == total


# ---------------------------------------------------------------- volumes for one FY (Central Bedfordshire 2017-19)


@pytest.fixture(scope="module")
def apc(fy_zone) -> pd.DataFrame:
    return current(read_feed(fy_zone, "hes_apc"), "EPIKEY")


def test_emergency_first_episodes_about_30000(apc):
    emergency = apc[(apc["EPIORDER"] == "1") & apc["ADMIMETH"].str.startswith("2")]
    assert within(len(emergency), 30_000, 0.15), len(emergency)
    assert set(apc["PROCODE3"]) == PROVIDERS
    assert set(apc["ADMIMETH"]) <= ADMIMETH and set(apc["DISMETH"]) <= DISMETH and set(apc["DISDEST"]) <= DISDEST
    assert (apc["ADMIMETH"].isin(["11", "12", "13"]) & (apc["EPIORDER"] == "1")).sum() > 10_000, "electives and day cases"
    assert (apc.groupby(["PSEUDO_HESID", "PROCODE3", "ADMIDATE"]).size() > 1).sum() > 2_000, "multi-episode spells"


def test_thirty_day_emergency_readmissions_about_4000(fy_zone, apc):
    residents = set(lookup_codes(fy_zone)["lsoa11_code"])
    valid = apc["NHSNUMBER"].map(nhs_number_valid)
    apc = apc.assign(person=apc["NHSNUMBER"].where(valid, apc["PSEUDO_HESID"]))
    first = apc[apc["EPIORDER"] == "1"]
    ends = apc[apc["SPELEND"] == "Y"][["person", "PROCODE3", "ADMIDATE", "DISDATE", "DISMETH"]]
    spells = first[["person", "PROCODE3", "ADMIDATE", "ADMIMETH", "ADMISORC", "LSOA11"]].merge(
        ends, on=["person", "PROCODE3", "ADMIDATE"], how="left")
    spells["adm"] = pd.to_datetime(spells["ADMIDATE"])
    spells["dis"] = pd.to_datetime(spells["DISDATE"].replace("", None))
    spells["spell"] = range(len(spells))
    r = spells[spells["ADMIMETH"].str.startswith("2") & ~spells["ADMISORC"].isin(["51", "52", "53"])
               & (spells["person"] != "") & spells["LSOA11"].isin(residents)]
    p = spells[spells["dis"].notna() & ~spells["DISMETH"].isin(["4", "5"])]
    pairs = r.merge(p, on="person", suffixes=("", "_p"))
    gap = (pairs["adm"] - pairs["dis_p"]).dt.days
    readmitted = pairs[(pairs["spell"] != pairs["spell_p"]) & gap.between(0, 30)]["spell"].nunique()
    assert within(readmitted, 4_000, 0.15), readmitted


def test_care_home_admissions_falls_respiratory_and_acsc(apc):
    first = apc[(apc["EPIORDER"] == "1") & apc["ADMIMETH"].str.startswith("2")]
    from_care_homes = first["ADMISORC"].isin(CARE_HOME_SOURCES).sum()
    assert within(from_care_homes, 1_100, 0.15), from_care_homes
    age = age_years(first["STARTAGE"])
    secondary = first[DIAGS[1:]].apply(lambda c: c.str.match(r"W(0\d|1\d)"))
    injury = first["DIAG_4_01"].str.match(r"S|T([0-8]\d|9[0-8])")
    falls = ((age >= 65) & injury & secondary.any(axis=1)).sum()
    assert 700 <= falls <= 2_000, falls
    resp = ((age <= 4) & first["DIAG_4_01"].str.startswith("J")).sum()
    assert within(resp, 1_150, 0.25), resp  # 2017/18 dashboard: 1,150
    code = first["DIAG_4_01"].str.rstrip("X-DA").str.replace(".", "", regex=False)
    acsc = code.str.match(r"E1[0-4]|F0[0-3]|G4[01]|I10|I11[09]|I130|I2[05]|I48|I50|J4[1-7]|J81|D50[189]|D5[12]").sum()
    assert 1_000 <= acsc <= 5_000, acsc


def test_ae_attendances_about_67000_with_respiratory_0_4(fy_zone):
    ae = current(read_feed(fy_zone, "hes_ae"), "AEKEY")
    attendances = ae[ae["AEATTENDCAT"] != "2"]
    assert within(len(attendances), 67_000, 0.15), len(attendances)
    diag = attendances["DIAG2_01"].where(attendances["DIAG2_01"] != "", attendances["DIAG3_01"]).str.slice(0, 2)
    resp = ((age_years(attendances["ARRIVALAGE"]) <= 4) & (diag == "25")).sum()
    assert within(resp, 567, 0.25), resp  # 2017/18 dashboard: 567
    assert (ae["AEATTENDDISP"] == "01").sum() > 15_000, "attendances that led to an admission"


def test_ambulance_care_home_call_outs_and_conveyances(fy_zone):
    amb = current(read_feed(fy_zone, "ambulance"), "INCIDENT_ID")
    assert set(amb["LOCATION_TYPE"]) <= LOCATION_TYPES and set(amb["OUTCOME"]) <= OUTCOMES
    care = amb[amb["LOCATION_TYPE"] == "CARE_HOME"]
    conveyed = care["OUTCOME"].isin(["CONVEY_ED", "CONVEY_OTHER"]).sum()
    assert within(len(care), 1_900, 0.15), len(care)
    assert within(conveyed, 1_400, 0.15), conveyed
    assert (care["CARE_HOME_ID"].str.fullmatch(r"1-\d{9,10}")).all()


def test_delayed_days_about_5000(fy_zone):
    dtoc = current(read_feed(fy_zone, "dtoc"), ["Period", "Provider_Code", "LA_Code", "Agency", "Type_of_Care", "Reason"])
    days = dtoc["Delayed_Days"].astype(int)
    assert (days >= 0).all()
    assert within(days.sum(), 5_000, 0.15), days.sum()
    assert sorted(dtoc["Period"].unique()) == [f"{y}-{m:02d}" for y, m in [(2018, m) for m in range(4, 13)] + [(2019, m) for m in (1, 2, 3)]]
    assert set(dtoc["Agency"]) <= {"NHS", "Social Care", "Both"}
    assert set(dtoc["Type_of_Care"]) <= {"Acute", "Non-Acute"}
    assert set(dtoc["Reason"]) <= {"A", "B", "C", "D(i)", "D(ii)", "E", "F", "G", "H", "I", "Other"}


def test_winter_is_busier_than_summer(apc):
    emergency = apc[(apc["EPIORDER"] == "1") & apc["ADMIMETH"].str.startswith("2")]
    month = emergency["ADMIDATE"].str.slice(5, 7)
    per_day_jan = (month == "01").sum() / 31
    per_day_aug = (month == "08").sum() / 31
    assert per_day_jan > per_day_aug * 1.05


# ---------------------------------------------------------------- identifiers, quirks, delivery dates, supersede


def test_nhs_numbers_pass_modulus_11_and_hes_rows_have_pseudo_ids(fy_zone):
    columns = {"hes_apc": "NHSNUMBER", "hes_ae": "NHSNUMBER", "ambulance": "NHSNUMBER", "social_care": "NHS_Number"}
    for feed, column in columns.items():
        values = read_feed(fy_zone, feed)[column]
        present = values[values != ""]
        assert present.map(nhs_number_valid).all(), feed
        assert len(present) < len(values), f"{feed}: some rows have no NHS number"
        if feed.startswith("hes_"):
            assert len(present) >= 0.9 * len(values), feed
    for feed in ("hes_apc", "hes_ae"):
        assert (read_feed(fy_zone, feed)["PSEUDO_HESID"] != "").all()


def test_hes_quirks_are_present(apc, fy_zone):
    diags = apc[DIAGS].stack()
    assert diags.str.fullmatch(r"[A-Z]\d\dX").any(), "3-character codes padded with X"
    assert (diags == "-").any(), "'-' in empty diagnosis slots"
    assert apc["STARTAGE"].isin([str(c) for c in range(7001, 7008)]).any()
    assert apc["STARTAGE"].str.fullmatch(r"\d+\.0").any()
    assert apc["GPPRAC"].isin(["&"]).any() and apc["GPPRAC"].isin(["V81999"]).any()
    empty_lsoa = (apc["LSOA11"] == "").mean()
    assert 0.002 <= empty_lsoa <= 0.03, empty_lsoa
    ae = read_feed(fy_zone, "hes_ae")
    assert ae["ARRIVALTIME"].str.fullmatch(r"\d{2}:\d{2}").any() and ae["ARRIVALTIME"].str.fullmatch(r"\d{4}").any()
    boms = [p for p in (fy_zone / "landing" / "hes_ae").glob("*.csv") if p.read_bytes()[:3] == b"\xef\xbb\xbf"]
    assert boms, "some supplier writes a UTF-8 byte order mark"


def test_no_date_after_the_delivery_date(fy_zone):
    for feed, columns in DATE_COLUMNS.items():
        frame = read_feed(fy_zone, feed)
        delivered = pd.to_datetime(frame["_file"].str.slice(0, 8), format="%Y%m%d")
        for column in columns:
            dates = pd.to_datetime(frame[column].str.slice(0, 10).replace("", None), format="%Y-%m-%d")
            assert not (dates > delivered).any(), f"{feed}.{column}"
    for feed in ("dtoc", "finance"):
        assert all(file_date(p.name) >= dt.date(2018, 5, 1) for p in (fy_zone / "landing" / feed).glob("*.csv"))


def test_later_deliveries_resend_keys_with_a_corrected_value(fy_zone):
    for feed, key in {**KEYS, "dtoc": ["Period", "Provider_Code", "LA_Code", "Agency", "Type_of_Care", "Reason"]}.items():
        frame = read_feed(fy_zone, feed)
        repeated = frame[frame.duplicated(key, keep=False)]
        assert repeated["_file"].nunique() >= 2, f"{feed}: no key is re-sent in a later delivery"
        changed = repeated.drop(columns="_file").drop_duplicates()
        assert changed.duplicated(key, keep=False).any(), f"{feed}: re-sent rows carry no changed value"
        within_delivery = frame.duplicated([*([key] if isinstance(key, str) else key), "_file"])
        assert not within_delivery.any(), f"{feed}: a key repeats within one delivery"


# ---------------------------------------------------------------- social care: placements, reablement linked to hospital


def test_social_care_events_and_reablement_linked_to_hospital_discharges(fy_zone, apc):
    sc = current(read_feed(fy_zone, "social_care"), "Event_Reference")
    assert set(sc["Event_Type"]) == {"Request", "Assessment", "Service", "Review"}
    assert set(sc["Client_Type"]) == {"Service User", "Carer"}
    homes = sc[sc["Service_Type"].isin(["Long Term Support: Residential Care", "Long Term Support: Nursing Care"])]
    start = pd.to_datetime(homes["Event_Start_Date"])
    age = (start - pd.to_datetime(homes["Date_of_Birth"])).dt.days / 365.25
    new_65 = homes[(age >= 65) & (start >= "2018-04-01") & (homes["Event_Outcome"] != "NFA - Self-funded")]
    assert 150 <= len(new_65) <= 800, len(new_65)
    assert (homes["Event_Outcome"] == "NFA - Self-funded").any()
    assert (homes.groupby("LA_Person_Unique_Identifier").size() > 1).sum() >= 10, "moves between homes"
    assert (sc["Date_of_Death"] != "").sum() > 50 and (sc["NHS_Number"] == "").any()

    reab = sc[(sc["Service_Type"] == "Short Term Support: ST-Max") & (sc["Service_Component"] == "Reablement")
              & (sc["Route_of_Access"] == "Discharge from Hospital")]
    discharge = pd.to_datetime(reab["Hospital_Discharge_Date"])
    age = (discharge - pd.to_datetime(reab["Date_of_Birth"])).dt.days / 365.25
    cohort = reab[age >= 65]
    assert 250 <= len(cohort) <= 700, len(cohort)
    linked = cohort[cohort["NHS_Number"] != ""].merge(
        apc[["NHSNUMBER", "DISDATE"]].drop_duplicates(), left_on=["NHS_Number", "Hospital_Discharge_Date"],
        right_on=["NHSNUMBER", "DISDATE"], how="left", indicator=True)
    share = (linked.drop_duplicates("Event_Reference")["_merge"] == "both").mean()
    assert share >= 0.9, share


# ---------------------------------------------------------------- plan, finance, commissioner answers


def test_plan_has_quarterly_targets_for_every_metric(fy_zone):
    plan = read_feed(fy_zone, "plan")
    needed = {(m, str(q)) for m in ["nea", "res65", "reab", "dtoc", "falls65", *DASH_IDS] for q in range(1, 5)}
    assert needed <= set(zip(plan["metric_id"], plan["quarter"]))
    assert set(plan["financial_year"]) == {"2018-19"} and set(plan["hwb_code"]) == {"E06000056"}
    target = plan["target"].astype(float)
    assert (target > 0).all()
    reab = target[plan["metric_id"] == "reab"]
    assert reab.between(50, 100).all()
    nea = target[plan["metric_id"] == "nea"].sum()
    assert within(nea, 30_000, 0.2), nea


def test_finance_lines_are_valid(fy_zone):
    fin = read_feed(fy_zone, "finance")
    assert set(fin["line_type"]) == {"INCOME", "EXPENDITURE"}
    assert set(fin["funding_source"]) == {"CCG_MINIMUM", "DFG", "IBCF", "ADDITIONAL_LA", "ADDITIONAL_CCG"}
    assert set(fin["quarter"]) == {"1", "2", "3", "4"}
    for column in ("plan_amount", "actual_amount"):
        assert fin[column].str.fullmatch(r"\d+\.\d\d").all()
        assert fin[column].astype(float).between(0, 100_000_000).all()


def test_commissioner_answers_are_complete_and_valid(fy_zone):
    for q in range(1, 5):
        path = fy_zone / "landing" / "inputs" / "E06000056" / f"2018-19-Q{q}.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert {"completed_by", "email", "phone", "signed_off_by_hwb", "national_conditions", "hicm", "metric_commentary",
                "narrative"} <= set(doc)
        assert doc["signed_off_by_hwb"] in ("Yes", "No")
        if doc["signed_off_by_hwb"] == "Yes":
            assert isinstance(doc["sign_off_date"], dt.date)
        assert sorted(doc["national_conditions"]) == ["nc1", "nc2", "nc3", "nc4"]
        for condition in doc["national_conditions"].values():
            assert condition["met"] in ("Yes", "No", "No - In Progress")
        assert sorted(doc["hicm"]) == sorted(HICM)
        for change in doc["hicm"].values():
            assert set(change) == {"previous", "now", "planned_year_end", "justification", "challenges", "milestones",
                                   "support_needs"}
            assert {change["previous"], change["now"], change["planned_year_end"]} <= MATURITY
            if change["now"] in ("Mature", "Exemplary"):
                assert change["justification"].strip()
            assert all(len(str(v)) <= 2_000 for v in change.values())
            # the Checklist requires every support-needs answer, so the demo's return can be complete
            assert change["support_needs"].strip()
        assert {"nea", "res65", "reab", "dtoc", "falls65"} <= set(doc["metric_commentary"])
        assert all(c["support_needs"].strip() and c["challenges"].strip() for c in doc["metric_commentary"].values())
        assert len(doc["narrative"]) <= 10_000


# ---------------------------------------------------------------- real reference lookup


def test_real_reference_is_used_when_given(tmp_path_factory):
    if not REAL_REFERENCE.is_dir():
        pytest.skip(f"{REAL_REFERENCE} is not available on this machine")
    source = next(p for p in sorted(REAL_REFERENCE.glob("*.csv")))
    zone = _small(tmp_path_factory, "real", reference_dir=REAL_REFERENCE)
    assert (zone / "reference" / "lsoa_localities.csv").read_bytes() == source.read_bytes()
    real = set(pd.read_csv(source, dtype=str)["lsoa11_code"])
    for feed, column in {"hes_apc": "LSOA11", "hes_ae": "LSOA11", "ambulance": "INCIDENT_LSOA11", "social_care": "LSOA11"}.items():
        values = set(read_feed(zone, feed)[column]) - {""}
        assert values and values <= real, feed
    pop = pd.read_csv(zone / "landing" / "population" / "ons_mye_mid-2017_lsoa11_synthetic.csv", dtype=str)
    assert set(pop["lsoa11_code"]) == real


# ---------------------------------------------------------------- defects


def test_defects_produce_rows_of_every_kind(defect_zone):
    residents = set(lookup_codes(defect_zone)["lsoa11_code"])
    apc = read_feed(defect_zone, "hes_apc")
    ae = read_feed(defect_zone, "hes_ae")
    amb = read_feed(defect_zone, "ambulance")
    sc = read_feed(defect_zone, "social_care")
    dtoc = read_feed(defect_zone, "dtoc")
    found = {}
    for name, frame, key in (("apc", apc, "EPIKEY"), ("ae", ae, "AEKEY"), ("amb", amb, "INCIDENT_ID"), ("sc", sc, "Event_Reference")):
        found[f"{name} missing key"] = (frame[key] == "").any()
        found[f"{name} duplicate key in a delivery"] = frame[frame[key] != ""].duplicated([key, "_file"]).any()
    found["invalid date"] = (apc["ADMIDATE"].ne("") & parse_dates(apc["ADMIDATE"]).isna()).any()
    found["dd/mm/yyyy date (valid)"] = apc["ADMIDATE"].str.fullmatch(r"\d{2}/\d{2}/\d{4}").any() and parse_dates(
        apc.loc[apc["ADMIDATE"].str.contains("/"), "ADMIDATE"]).notna().any()
    found["end before start"] = (parse_dates(apc["DISDATE"]) < parse_dates(apc["ADMIDATE"])).any()
    found["social care end before start"] = (parse_dates(sc["Event_End_Date"]) < parse_dates(sc["Event_Start_Date"])).any()
    delivered = pd.to_datetime(ae["_file"].str.slice(0, 8), format="%Y%m%d")
    found["future date"] = (parse_dates(ae["ARRIVALDATE"]) > delivered).any()
    found["required code outside list"] = (~apc["ADMIMETH"].isin(ADMIMETH)).any() and (
        ~amb["LOCATION_TYPE"].isin(LOCATION_TYPES) | ~amb["OUTCOME"].isin(OUTCOMES)).any()
    found["optional code outside list"] = (~apc["DISMETH"].isin(DISMETH) | ~apc["DISDEST"].isin(DISDEST)).any()
    for bad in ("-2", "150", "abc"):
        found[f"age {bad}"] = (apc["STARTAGE"] == bad).any() and (ae["ARRIVALAGE"] == bad).any()
    found["NHS number failing modulus 11"] = all(
        (f[c].ne("") & ~f[c].map(nhs_number_valid)).any() for f, c in ((apc, "NHSNUMBER"), (ae, "NHSNUMBER"), (sc, "NHS_Number")))
    found["unknown LSOA"] = (apc["LSOA11"].ne("") & ~apc["LSOA11"].isin(residents)).any()
    found["DOB after event start"] = (parse_dates(sc["Date_of_Birth"]) > parse_dates(sc["Event_Start_Date"])).any()
    days = pd.to_numeric(dtoc["Delayed_Days"], errors="coerce")
    found["negative dtoc days"] = (days < 0).any()
    found["non-integer dtoc days"] = (days % 1 != 0).any()
    pop = pd.read_csv(defect_zone / "landing" / "population" / "ons_mye_mid-2017_lsoa11_synthetic.csv", dtype=str)
    ages = pop[AGES].apply(pd.to_numeric, errors="coerce")
    found["population total mismatch"] = ((pop["total_population"].astype(float) - ages.sum(axis=1)).abs() > 1).any()
    missing = [kind for kind, ok in found.items() if not ok]
    assert missing == []
    for feed, required in REQUIRED.items():
        rejected = [p.name for p in (defect_zone / "landing" / feed).glob("*.csv") if not set(required) <= set(header(p))]
        assert rejected, f"{feed}: no delivery lacking a required column"
    share = (~apc["ADMIMETH"].isin(ADMIMETH)).mean()
    assert 0 < share < 0.03


# ---------------------------------------------------------------- several HWBs


def test_three_hwbs_add_two_synthetic_areas(multi_zone):
    lookup = lookup_codes(multi_zone)
    codes = list(dict.fromkeys(lookup["la_code"]))
    assert len(codes) == 3 and codes[0] == "E06000056"
    for code in codes[1:]:
        rows = lookup[lookup["la_code"] == code]
        assert sorted(rows["locality_code"].unique()) == ["L1", "L2", "L3", "L4"]
        assert not code.startswith("E06000") and rows["lsoa11_code"].gt("E01040000").all()
    assert lookup["lsoa11_code"].is_unique
    pop_files = {p.name for p in (multi_zone / "landing" / "population").glob("*utla*.csv")}
    assert pop_files == {f"ons_mye_mid-2017_utla_{code}.csv" for code in codes}
    apc = read_feed(multi_zone, "hes_apc")
    la_of = dict(zip(lookup["lsoa11_code"], lookup["la_code"]))
    emergency = apc[(apc["EPIORDER"] == "1") & apc["ADMIMETH"].str.startswith("2")]
    per_hwb = emergency["LSOA11"].map(la_of).value_counts()
    population = {code: float(pd.read_csv(multi_zone / "landing" / "population" / f"ons_mye_mid-2017_utla_{code}.csv")
                              ["total_population"].iloc[0]) for code in codes}
    rates = {code: per_hwb.get(code, 0) / population[code] for code in codes}
    for code in codes[1:]:
        assert within(rates[code], rates[codes[0]], 0.25), rates  # volumes follow each HWB's population
    for feed, column in (("social_care", "LA_Code"), ("dtoc", "LA_Code"), ("plan", "hwb_code"), ("finance", "hwb_code")):
        assert set(read_feed(multi_zone, feed)[column]) == set(codes), feed
    assert sorted(p.name for p in (multi_zone / "landing" / "inputs").iterdir()) == sorted(codes)
