"""Ingest of ambulance, social_care, dtoc and finance on small hand-written deliveries: each rule of
feeds.md quarantines or flags the rows worked out by hand below; person keys; ages at the 64/65
boundary from a date of birth that is stored nowhere; dtoc supersede; counts that reconcile. The
last test loads the synthetic generator's landing zone (with and without planted defects)."""

import hashlib
import hmac
from pathlib import Path

import pytest
import sqlalchemy as sa

from cb_pipeline.lib.ingest import FEEDS, ingest_feed
from cb_pipeline.lib.ingest.engine import output_columns
from cb_pipeline.reference import load_reference
from cb_pipeline_tests.lib.test_ingest import KEY, VALID_NHS, env, rows, write  # noqa: F401 (env is a fixture)

NHS_KEY = hmac.new(KEY, VALID_NHS.encode(), hashlib.sha256).hexdigest()


def quarantined(w, feed: str) -> dict[int, str]:
    return {r["_row_number"]: r["_rules"] for r in rows(w, f"select _row_number, _rules from quarantine_{feed}")}


def ledger(w, feed: str) -> list[dict]:
    return rows(w, f"""select d.delivery, d.rows_in, d.valid, d.quarantined, d.warning_rows,
                              (select count(*) from ingest_{feed} t where t._delivery = d.delivery
                               and t._superseded_by is not null) as superseded
                       from ingest_deliveries d where d.feed = '{feed}' order by d.delivery""")


def test_tables_have_exactly_the_documented_columns():
    meta = ["_delivery", "_row_number", "_run_date", "_warnings", "_superseded_by"]
    documented = {  # docs/architecture.md
        "ambulance": "incident_id person_key person_key_source call_datetime patient_age patient_sex incident_lsoa11 "
                     "location_type care_home_id category outcome destination_site",
        "social_care": "la_code la_person_unique_identifier person_key person_key_source gender lsoa11 date_of_death "
                       "client_type event_type event_reference event_start_date event_end_date service_type "
                       "service_component route_of_access hospital_discharge_date event_outcome age_at_event_start "
                       "age_at_hospital_discharge",
        "dtoc": "period period_start provider_code la_code agency type_of_care reason delayed_days",
        "finance": "hwb_code financial_year quarter scheme_id scheme_name line_type funding_source plan_amount "
                   "actual_amount",
    }
    for feed, cols in documented.items():
        assert sorted(c for c, _ in output_columns(FEEDS[feed])) == sorted(cols.split() + meta), feed
    types = dict(output_columns(FEEDS["social_care"])) | dict(output_columns(FEEDS["dtoc"]))
    assert (types["age_at_event_start"], types["period_start"], types["delayed_days"]) == ("integer", "date", "bigint")


# ------------------------------------------------------------------ ambulance

AMB_HEADER = ["INCIDENT_ID", "CALL_DATETIME", "NHSNUMBER", "PATIENT_AGE", "PATIENT_SEX", "INCIDENT_LSOA11",
              "LOCATION_TYPE", "CARE_HOME_ID", "CATEGORY", "OUTCOME", "DESTINATION_SITE"]


def amb(incident, **kw):
    row = {"INCIDENT_ID": incident, "CALL_DATETIME": "2018-05-01 10:15:00", "NHSNUMBER": VALID_NHS, "PATIENT_AGE": "80",
           "PATIENT_SEX": "2", "INCIDENT_LSOA11": "E01000001", "LOCATION_TYPE": "CARE_HOME", "CARE_HOME_ID": "1-123456789",
           "CATEGORY": "2", "OUTCOME": "CONVEY_ED", "DESTINATION_SITE": "RC9"}
    row.update(kw)
    return [row[c] for c in AMB_HEADER]


def test_ambulance_rules(env):
    w, landing = env
    write(landing / "ambulance" / "20180601T0300_EEAST_incidents.csv", AMB_HEADER, [
        amb("A1"),                                              # 1 valid
        amb(""),                                                # 2 key_missing
        amb("A3", CALL_DATETIME="2018-02-30 10:00"),            # 3 date_invalid (no such day)
        amb("A4", CALL_DATETIME="2018-05-01"),                  # 4 date_invalid (no time: feeds.md wants HH:MM)
        amb("A5", CALL_DATETIME="2018-05-01 25:00"),            # 5 date_invalid (no such hour)
        amb("A6", CALL_DATETIME="2018-06-02 00:01"),            # 6 date_future (run date 2018-06-01)
        amb("A7", LOCATION_TYPE="NURSING_HOME"),                # 7 code_invalid
        amb("A8", OUTCOME=""),                                  # 8 code_invalid (required)
        amb("A9", CATEGORY="6"),                                # 9 code_unknown -> NULL
        amb("A10", PATIENT_AGE="150"),                          # 10 age_invalid is a warning here -> NULL
        amb("A11", NHSNUMBER="9434765918"),                     # 11 nhs_number_invalid -> no person_key
        amb("A12", INCIDENT_LSOA11=""),                         # 12 residence_unknown (empty)
        amb("A13", INCIDENT_LSOA11="E01999999"),                # 13 residence_unknown (not in lookup)
        amb("A14"), amb("A14"),                                 # 14, 15 key_duplicate_in_delivery
        amb("A16", CALL_DATETIME="01/05/2018 23:59", LOCATION_TYPE="home", OUTCOME="see_and_treat",
            CATEGORY="hcp", NHSNUMBER="", PATIENT_AGE="7002"),  # 16 valid: DD/MM/YYYY, lower-case codes
    ])
    d = ingest_feed(w, "ambulance", landing, key=KEY).deliveries[0]
    assert (d.status, d.rows_in, d.valid, d.quarantined, d.warning_rows) == ("loaded", 16, 7, 9, 5)
    assert quarantined(w, "ambulance") == {2: "key_missing", 3: "date_invalid", 4: "date_invalid", 5: "date_invalid",
                                           6: "date_future", 7: "code_invalid", 8: "code_invalid",
                                           14: "key_duplicate_in_delivery", 15: "key_duplicate_in_delivery"}
    valid = {r["incident_id"]: r for r in rows(w, "select * from ingest_ambulance")}
    assert sorted(valid) == ["A1", "A10", "A11", "A12", "A13", "A16", "A9"]
    a1 = valid["A1"]
    assert (str(a1["call_datetime"]), a1["patient_age"], a1["location_type"], a1["outcome"], a1["category"]) == (
        "2018-05-01", 80, "CARE_HOME", "CONVEY_ED", "2")
    assert (a1["person_key"], a1["person_key_source"], a1["_warnings"]) == (NHS_KEY, "nhs_number", None)
    assert (valid["A9"]["category"], valid["A9"]["_warnings"]) == (None, "code_unknown")
    assert (valid["A10"]["patient_age"], valid["A10"]["_warnings"]) == (None, "age_invalid")
    assert (valid["A11"]["person_key"], valid["A11"]["person_key_source"]) == (None, None)
    assert valid["A12"]["_warnings"] == valid["A13"]["_warnings"] == "residence_unknown"
    a16 = valid["A16"]
    assert (str(a16["call_datetime"]), a16["location_type"], a16["outcome"], a16["category"], a16["patient_age"],
            a16["person_key"]) == ("2018-05-01", "HOME", "SEE_AND_TREAT", "HCP", 0, None)
    counts = {(r["rule_id"], r["kind"]): r["rows"] for r in rows(w, "select * from ingest_rule_counts")}
    assert counts == {("key_missing", "fatal"): 1, ("date_invalid", "fatal"): 3, ("date_future", "fatal"): 1,
                      ("code_invalid", "fatal"): 2, ("key_duplicate_in_delivery", "fatal"): 2,
                      ("code_unknown", "warning"): 1, ("age_invalid", "warning"): 1,
                      ("nhs_number_invalid", "warning"): 1, ("residence_unknown", "warning"): 2}


# ------------------------------------------------------------------ social care

SC_HEADER = ["LA_Code", "LA_Person_Unique_Identifier", "NHS_Number", "Date_of_Birth", "Gender", "LSOA11",
             "Date_of_Death", "Client_Type", "Event_Type", "Event_Reference", "Event_Start_Date", "Event_End_Date",
             "Service_Type", "Service_Component", "Route_of_Access", "Hospital_Discharge_Date", "Event_Outcome"]
# Every date of birth used below: none may appear in any table.
DOBS = ("1953-07-01", "1953-07-02", "1952-02-29", "2018-07-05", "01/07/1953", "1940-01-01")


def sc(ref, **kw):
    row = {"LA_Code": "E06000099", "LA_Person_Unique_Identifier": "P1", "NHS_Number": VALID_NHS,
           "Date_of_Birth": "1940-01-01", "Gender": "2", "LSOA11": "E01000001", "Date_of_Death": "",
           "Client_Type": "Service User", "Event_Type": "Service", "Event_Reference": ref,
           "Event_Start_Date": "2018-07-01", "Event_End_Date": "", "Service_Type": "Long Term Support: Residential Care",
           "Service_Component": "", "Route_of_Access": "Community / Other Route", "Hospital_Discharge_Date": "",
           "Event_Outcome": ""}
    row.update(kw)
    return [row[c] for c in SC_HEADER]


def test_social_care_rules_person_keys_and_ages_without_storing_the_date_of_birth(env):
    w, landing = env
    write(landing / "social_care" / "20190101T0100_E06000099_cld.csv", SC_HEADER, [
        # 1: 65th birthday on the event start; the day before discharge it was 64.
        sc("E1", Date_of_Birth="1953-07-01", Event_Start_Date="2018-07-01", Hospital_Discharge_Date="2018-06-30"),
        # 2: one day short of 65 at the start, 65 on the discharge day; no NHS number -> council id.
        sc("E2", Date_of_Birth="1953-07-02", Event_Start_Date="2018-07-01", Hospital_Discharge_Date="2018-07-02",
           NHS_Number="", LA_Person_Unique_Identifier="P2"),
        # 3: born 29 February: 64 on 28 February 2017, 65 on 1 March; an invalid NHS number -> council id.
        sc("E3", Date_of_Birth="1952-02-29", Event_Start_Date="2017-02-28", Hospital_Discharge_Date="2017-03-01",
           NHS_Number="9434765918", LA_Person_Unique_Identifier="P3"),
        sc(""),                                                             # 4 key_missing
        sc("E5", Date_of_Birth="2018-07-05"),                               # 5 born after the event started
        sc("E6", Event_End_Date="2018-06-30"),                              # 6 date_order
        sc("E7", Event_Type="Enquiry"),                                     # 7 code_invalid
        sc("E8", Client_Type="Visitor"),                                    # 8 code_invalid
        sc("E9", Service_Type=""),                                          # 9 a service needs its type
        sc("E10", Service_Type="Respite"),                                  # 10 ... from the list
        sc("E11", Event_Type="Request", Service_Type="Respite"),            # 11 not a service: code_unknown
        sc("E12", Event_Type="assessment", Client_Type="carer", Service_Type=""),  # 12 valid, list spelling
        sc("E13", Date_of_Birth=""),                                        # 13 date_invalid (required)
        sc("E14", Event_Start_Date="2019-01-02"),                           # 14 date_future (run date 2019-01-01)
        sc("E15", Date_of_Birth="01/07/1953", Gender="M", Route_of_Access="Walk-in", LSOA11=""),  # 15 valid, 3 warnings
        sc("E16"), sc("E16"),                                               # 16, 17 key_duplicate_in_delivery
        sc("E1", LA_Code="E06000098"),                                      # 18 valid: the key is LA_Code + reference
        sc("E19", Date_of_Death="2019-02-01"),                              # 19 date_future (an optional date)
        sc("E20", Date_of_Birth="1953-07-01") + ["an extra field"],        # 20 row_malformed
    ])
    d = ingest_feed(w, "social_care", landing, key=KEY).deliveries[0]
    assert (d.status, d.rows_in, d.valid, d.quarantined, d.warning_rows) == ("loaded", 20, 7, 13, 3)
    assert quarantined(w, "social_care") == {
        4: "key_missing", 5: "date_of_birth_after_event", 6: "date_order", 7: "code_invalid", 8: "code_invalid",
        9: "code_invalid", 10: "code_invalid", 13: "date_invalid", 14: "date_future", 16: "key_duplicate_in_delivery",
        17: "key_duplicate_in_delivery", 19: "date_future", 20: "row_malformed"}
    assert w.scalar("select _reasons from quarantine_social_care where _row_number = 9") == (
        "code_invalid: Service_Type is missing or not one of: Long Term Support: Community, Long Term Support: "
        "Nursing Care, Long Term Support: Prison, Long Term Support: Residential Care, Short Term Support: Other "
        "Short Term, Short Term Support: ST-Max (required when Event_Type is Service)")
    valid = {(r["la_code"], r["event_reference"]): r for r in rows(w, "select * from ingest_social_care")}
    assert sorted(ref for _, ref in valid) == ["E1", "E1", "E11", "E12", "E15", "E2", "E3"]
    ages = {ref: (r["age_at_event_start"], r["age_at_hospital_discharge"]) for (la, ref), r in valid.items()
            if la == "E06000099"}
    assert ages == {"E1": (65, 64), "E2": (64, 65), "E3": (64, 65), "E11": (78, None), "E12": (78, None),
                    "E15": (65, None)}
    keys = {ref: (r["person_key"], r["person_key_source"], r["_warnings"]) for (la, ref), r in valid.items()}
    assert keys["E1"] == (NHS_KEY, "nhs_number", None)
    assert keys["E2"] == ("E06000099:P2", "la_person_id", None)
    assert keys["E3"] == ("E06000099:P3", "la_person_id", "nhs_number_invalid")
    assert keys["E11"][2] == "code_unknown" and valid[("E06000099", "E11")]["service_type"] is None
    e12 = valid[("E06000099", "E12")]
    assert (e12["event_type"], e12["client_type"], e12["service_type"]) == ("Assessment", "Carer", None)
    e15 = valid[("E06000099", "E15")]
    assert (e15["gender"], e15["route_of_access"], e15["_warnings"]) == (None, None, "code_unknown,residence_unknown")
    assert str(valid[("E06000098", "E1")]["event_start_date"]) == "2018-07-01"

    # The date of birth is in no table, no column, no quarantined raw line, no ledger.
    for table in ("ingest_social_care", "quarantine_social_care", "ingest_deliveries", "ingest_rule_counts"):
        cells = " ".join(str(v) for r in rows(w, f"select * from {table}") for v in r.values())
        assert not any(dob in cells for dob in DOBS), table
        assert not any("birth" in c for c in rows(w, f"select * from {table} limit 1")[0]), table
    assert "[date removed]" in w.scalar("select _raw_line from quarantine_social_care where _row_number = 20")
    assert not any(dob in repr(d.first_problems) for dob in DOBS)
    if w.dialect == "duckdb":
        w.dispose()
        blob = Path(w.engine.url.database).read_bytes()
        assert not any(dob.encode() in blob for dob in DOBS) and VALID_NHS.encode() not in blob


def test_social_care_delivery_without_service_type_column_loads_its_non_service_events(env):
    w, landing = env
    header = [c for c in SC_HEADER if c != "Service_Type"]
    drop = SC_HEADER.index("Service_Type")
    write(landing / "social_care" / "20190101T0100_E06000099_cld.csv", header, [
        r[:drop] + r[drop + 1:] for r in (sc("E1", Event_Type="Request"), sc("E2"))])
    d = ingest_feed(w, "social_care", landing, key=KEY).deliveries[0]
    assert (d.status, d.valid, d.quarantined) == ("loaded", 1, 1)
    assert quarantined(w, "social_care") == {2: "code_invalid"}


# ------------------------------------------------------------------ dtoc

DTOC_HEADER = ["Period", "Provider_Code", "LA_Code", "Agency", "Type_of_Care", "Reason", "Delayed_Days"]


def dtoc(agency="NHS", care="Acute", reason="A", days="10", period="2018-05", provider="RC9"):
    return [period, provider, "E06000099", agency, care, reason, days]


def test_dtoc_rules_and_a_later_delivery_supersedes(env):
    w, landing = env
    write(landing / "dtoc" / "20180612T0930_dtoc_2018-05.csv", DTOC_HEADER, [
        dtoc(),                                               # 1 valid
        dtoc("social care", reason="d(ii)", days="5"),        # 2 valid, stored as feeds.md spells it
        dtoc("Both", "Non-Acute", "Other", "0"),              # 3 valid: 0 days
        dtoc(reason="B", days="-1"),                          # 4 value_invalid (negative)
        dtoc(reason="C", days="2.5"),                         # 5 value_invalid (not whole)
        dtoc(reason="D(i)", days=""),                         # 6 value_invalid (missing)
        dtoc(period="2018-13"),                               # 7 date_invalid
        dtoc(period=""),                                      # 8 key_missing + date_invalid
        dtoc("Council"),                                      # 9 code_invalid
        dtoc(reason="Z"),                                     # 10 code_invalid
        dtoc(provider=""),                                    # 11 key_missing + value_missing
        dtoc(reason="E", days="1"), dtoc(reason="E", days="2"),  # 12, 13 key_duplicate_in_delivery
    ])
    write(landing / "dtoc" / "20180711T1200_dtoc_2018-05_revised.csv", DTOC_HEADER, [
        dtoc(days="12"),                                      # supersedes delivery 1 row 1
        dtoc("Social Care", reason="D(ii)", days="x"),        # quarantined: delivery 1 row 2 stays current
        dtoc(reason="C", days="3"),                           # new
    ])
    report = ingest_feed(w, "dtoc", landing, key=None)
    assert [d.status for d in report.deliveries] == ["loaded", "loaded"]
    assert quarantined(w, "dtoc") == {
        4: "value_invalid", 5: "value_invalid", 6: "value_invalid", 7: "date_invalid", 8: "key_missing,date_invalid",
        9: "code_invalid", 10: "code_invalid", 11: "key_missing,value_missing", 12: "key_duplicate_in_delivery",
        13: "key_duplicate_in_delivery", 2: "value_invalid"}
    current = {(r["agency"], r["type_of_care"], r["reason"]): (r["delayed_days"], str(r["period_start"]), r["_delivery"][:8])
               for r in rows(w, "select * from ingest_dtoc where _superseded_by is null")}
    assert current == {("NHS", "Acute", "A"): (12, "2018-05-01", "20180711"),
                       ("Social Care", "Acute", "D(ii)"): (5, "2018-05-01", "20180612"),
                       ("Both", "Non-Acute", "Other"): (0, "2018-05-01", "20180612"),
                       ("NHS", "Acute", "C"): (3, "2018-05-01", "20180711")}
    # rows_in = valid + quarantined, and valid = current + superseded, per delivery.
    assert ledger(w, "dtoc") == [
        {"delivery": "20180612T0930_dtoc_2018-05.csv", "rows_in": 13, "valid": 3, "quarantined": 10, "warning_rows": 0,
         "superseded": 1},
        {"delivery": "20180711T1200_dtoc_2018-05_revised.csv", "rows_in": 3, "valid": 2, "quarantined": 1,
         "warning_rows": 0, "superseded": 0}]


# ------------------------------------------------------------------ finance

FIN_HEADER = ["hwb_code", "financial_year", "quarter", "scheme_id", "scheme_name", "line_type", "funding_source",
              "plan_amount", "actual_amount"]


def fin(scheme, **kw):
    row = {"hwb_code": "E06000099", "financial_year": "2018-19", "quarter": "3", "scheme_id": scheme,
           "scheme_name": "Reablement", "line_type": "EXPENDITURE", "funding_source": "CCG_MINIMUM",
           "plan_amount": "1000.00", "actual_amount": "950.5"}
    row.update(kw)
    return [row[c] for c in FIN_HEADER]


def test_finance_rules(env):
    w, landing = env
    write(landing / "finance" / "20190125T1000_pooled_budget_2018-19-Q3.csv", FIN_HEADER, [
        fin("S1"),                                                # 1 valid
        fin("S2", actual_amount=""),                              # 2 valid: actual not known yet
        fin("S3", plan_amount="100000000", actual_amount="0"),    # 3 valid: both bounds
        fin("S4", plan_amount="100000000.01"),                    # 4 value_invalid: above the maximum
        fin("S5", plan_amount="-500.00"),                         # 5 value_invalid: negative
        fin("S6", plan_amount="12.345"),                          # 6 value_invalid: 3 decimal places
        fin("S7", actual_amount="abc"),                           # 7 value_invalid
        fin("S8", funding_source="LOTTERY"),                      # 8 code_invalid
        fin("S9", line_type="TRANSFER"),                          # 9 code_invalid
        fin("S10", quarter="5"),                                  # 10 value_invalid
        fin("S11", financial_year="2018-20"),                     # 11 value_invalid
        fin(""),                                                  # 12 key_missing + value_missing
        fin("S13", scheme_name=""),                               # 13 value_missing
        fin("S14", plan_amount="1e3"),                            # 14 value_invalid: not plain pounds
        fin("S15", plan_amount=""),                               # 15 value_invalid: required
        fin("S1", funding_source="dfg", line_type="income"),      # 16 valid: another line of scheme S1
    ])
    d = ingest_feed(w, "finance", landing, key=None).deliveries[0]
    assert (d.status, d.rows_in, d.valid, d.quarantined) == ("loaded", 16, 4, 12)
    assert quarantined(w, "finance") == {
        4: "value_invalid", 5: "value_invalid", 6: "value_invalid", 7: "value_invalid", 8: "code_invalid",
        9: "code_invalid", 10: "value_invalid", 11: "value_invalid", 12: "key_missing,value_missing",
        13: "value_missing", 14: "value_invalid", 15: "value_invalid"}
    got = {(r["scheme_id"], r["funding_source"]): (r["line_type"], r["quarter"], r["plan_amount"], r["actual_amount"])
           for r in rows(w, "select * from ingest_finance")}
    assert got == {("S1", "CCG_MINIMUM"): ("EXPENDITURE", 3, 1000.0, 950.5),
                   ("S2", "CCG_MINIMUM"): ("EXPENDITURE", 3, 1000.0, None),
                   ("S3", "CCG_MINIMUM"): ("EXPENDITURE", 3, 100_000_000.0, 0.0),
                   ("S1", "DFG"): ("INCOME", 3, 1000.0, 950.5)}


# ------------------------------------------------------------------ the synthetic landing zone


@pytest.mark.parametrize("defects", [0.0, 0.03])
def test_synthetic_landing_zone_loads_for_every_feed(tmp_path, defects):
    """Clean synthetic data loads without a quarantined row; with planted defects each new feed
    quarantines a small share, rejects its one incomplete delivery, and the warehouse agrees with
    the ledger. (Figures are ranges: the generator's output is not hand-checked.)"""
    from cb_pipeline.lib.warehouse import Warehouse
    from cb_pipeline.synth import generate_landing_zone

    generate_landing_zone(tmp_path, start="2018-04", end="2018-09", scale=0.1, defects=defects, progress=None)
    w = Warehouse(f"duckdb:///{tmp_path}/warehouse.duckdb")
    load_reference(w, tmp_path / "reference")
    for feed in ("ambulance", "social_care", "dtoc", "finance"):
        report = ingest_feed(w, feed, tmp_path / "landing", key=KEY, progress=lambda _: None)
        rows_in, bad = report.total("rows_in"), report.total("quarantined")
        rejected = [d.delivery for d in report.deliveries if d.status == "rejected"]
        if defects:
            # At least one row of each planted kind: small feeds (dtoc, finance) can exceed the rate.
            assert 0 < bad <= max(0.1 * rows_in, 15) and len(rejected) == 1 and "_incomplete" in rejected[0], feed
        else:
            assert bad == 0 and rejected == [] and rows_in > 0, feed
        stored = w.scalar(f"select count(*) from ingest_{feed}") + w.scalar(f"select count(*) from quarantine_{feed}")
        assert stored == rows_in, feed
    ages = rows(w, "select min(age_at_event_start) lo, max(age_at_event_start) hi, count(*) n, "
                   "count(age_at_event_start) aged from ingest_social_care")[0]
    assert 18 <= ages["lo"] and ages["hi"] <= 110 and ages["n"] == ages["aged"]
    w.dispose()
