"""metrics.md's common rules end to end: valid rows only (quarantined never count, warning rows
do, a later delivery's valid row replaces the earlier one), coverage from any HWB, the whole-HWB
`ALL` unit, all-age rates, and the reconciliation of deliveries (feeds.md)."""

from cb_pipeline_tests.metrics.scenario import (
    APC_HEADER, HWB_A, HWB_A_NAME, HWB_B, LSOA_A1, LSOA_B1, LSOA_UNKNOWN, POPULATION_AGES, Q1, Q2, Q3,
    REFERENCE_ROWS, Scenario, flat_population, months,
)

LATER_APC = "20220402T0000_RXA_apc_fix.csv"
LSOA_A_NO_LOCALITY = "E01090005"


def _apc_row(epikey: str, admidate: str, **values) -> dict:
    row = {"EPIKEY": epikey, "PROCODE3": "RXA", "ADMIDATE": admidate, "EPIORDER": "1", "ADMIMETH": "21",
           "STARTAGE": "50", "LSOA11": LSOA_A1, "TRETSPEF": "300"}
    row.update({k.upper(): str(v) for k, v in values.items()})
    return row


def test_valid_rows_only_warnings_count_and_later_deliveries_replace(build):
    # hes_apc misses November in the fillers: only a valid row could cover it
    s = Scenario(cover_apc=[m for m in months("2018-04", "2018-12") if m != "2018-11"])
    s.episode("2018-11-10", epikey="QUARANTINED", startage="abc")       # age_invalid: never counts or covers
    s.episode("2018-05-10", epikey="BAD_NHS", nhsnumber="1234567890")   # nhs_number_invalid warning: counts
    s.episode("2018-05-11", epikey="SORC_UNKNOWN", admisorc="77", diag_4_01="E10X")  # code_unknown -> missing
    s.episode("2018-05-12", epikey="MOVED")                             # re-sent later with an August date
    s.episode("2018-05-13", epikey="KEPT")                              # re-sent later as a quarantined row
    # dupr: DISDEST outside its list is treated as empty (excluded); DISMETH outside its list as
    # missing (not excluded)
    s.episode("2018-05-01", epikey="DEST_UNKNOWN", admimeth="11", disdate="2018-05-02", disdest="77", spelend="Y")
    s.episode("2018-05-01", epikey="METH_UNKNOWN", admimeth="11", disdate="2018-05-02", disdest="19", dismeth="7",
              spelend="Y")
    s.attendance("2018-05-10", aekey="CAT_UNKNOWN", aeattendcat="7")    # code_unknown -> missing: counts
    s.raw_deliveries.append(("hes_apc", LATER_APC, APC_HEADER, [
        _apc_row("MOVED", "2018-08-10"),
        _apc_row("KEPT", "2018-08-13", startage="-1"),                  # quarantined: KEPT stays in May
    ]))
    b = build(s)

    # nea Q1: BAD_NHS, SORC_UNKNOWN, KEPT (MOVED now counts in Q2; QUARANTINED nowhere)
    assert [(b.metric("nea", q)["actual_q"], b.metric("nea", q)["actual_ytd"]) for q in (Q1, Q2)] == [(3, 3), (1, 4)]
    assert b.metric("nea", Q3)["actual_q"] is None  # November is still not covered
    assert b.metric("acsc")["actual_q"] == 1        # SORC_UNKNOWN: an unknown source is not 51-53
    assert b.dash("dash_ch_admit")["actual_q"] == 0
    dupr = b.metric("dupr")
    assert (dupr["denominator_q"], dupr["numerator_q"]) == (1, 1)  # METH_UNKNOWN only
    assert b.dash("dash_ae_att")["actual_q"] == 1

    recon = {(r["feed"], r["delivery"]): (r["rows_in"], r["valid"], r["quarantined"], r["superseded"])
             for r in b.rows("select * from fct_ingest_reconciliation where feed = 'hes_apc'")}
    # delivery 1: 8 fillers + 7 rows; QUARANTINED out, MOVED superseded; delivery 2: MOVED valid, KEPT quarantined
    assert recon == {("hes_apc", "20220401T0000_RXA_apc.csv"): (15, 13, 1, 1), ("hes_apc", LATER_APC): (2, 1, 1, 0)}
    cells = b.cells()
    assert (cells["DQ_HES_APC_ROWS_IN"], cells["DQ_HES_APC_VALID"], cells["DQ_HES_APC_QUARANTINED"],
            cells["DQ_HES_APC_SUPERSEDED"]) == (17, 14, 2, 1)


def test_coverage_counts_rows_of_any_hwb(build):
    # no filler for May: only an HWB B row covers it, which makes HWB A's Q1 figures 0, not empty
    s = Scenario(cover_apc=["2018-04", "2018-06"], cover_ae=["2018-04", "2018-06"])
    s.episode("2018-05-20", lsoa11=LSOA_B1)
    s.attendance("2018-05-20", lsoa11=LSOA_B1)
    b = build(s)
    assert (b.metric("nea", hwb=HWB_A)["actual_q"], b.metric("nea", hwb=HWB_B)["actual_q"]) == (0, 1)
    assert (b.dash("dash_ae_att", hwb=HWB_A)["actual_q"], b.dash("dash_nel", hwb=HWB_A)["actual_q"]) == (0, 0)

    s2 = Scenario(cover_apc=["2018-04", "2018-06"], cover_ae=["2018-04", "2018-06"])  # May not covered at all
    b2 = build(s2)
    assert (b2.metric("nea")["actual_q"], b2.dash("dash_ae_att")["actual_q"]) == (None, None)


def test_all_counts_residents_of_lsoas_without_a_locality(build):
    s = Scenario(reference_rows=REFERENCE_ROWS + [
        (LSOA_A_NO_LOCALITY, "Alphaton 003A", "E02090009", "Alphaton Rural 1", HWB_A, HWB_A_NAME, "", "")])
    s.episode("2018-05-10", lsoa11=LSOA_A_NO_LOCALITY)
    s.episode("2018-05-10", lsoa11=LSOA_A1)
    s.attendance("2018-05-10", lsoa11=LSOA_A_NO_LOCALITY)
    b = build(s)
    assert b.metric("nea")["actual_q"] == 2
    assert [b.dash("dash_nel", locality=loc)["actual_q"] for loc in ("AN", "AS", "ALL")] == [1, 0, 2]
    assert [b.dash("dash_ae_att", locality=loc)["actual_q"] for loc in ("AN", "AS", "ALL")] == [0, 0, 1]
    cells = b.cells()
    assert (cells["DASH_NEL_LOC1_Q"], cells["DASH_NEL_LOC2_Q"], cells["DASH_NEL_ALL_Q"]) == (1, 0, 2)
    assert (cells["DASH_LOC1_CODE"], cells["DASH_LOC2_CODE"]) == ("AN", "AS")
    assert "DASH_LOC3_CODE" not in cells  # the LSOA without a locality adds no slot


def test_nea_and_acsc_rates_use_the_all_age_population(build):
    s = Scenario()
    ages = {a: 0.0 for a in POPULATION_AGES}
    ages["30"], ages["70"] = 29_000.0, 1_000.0      # all ages 30,000; 65+ 1,000
    s.population(2017, HWB_A, ages)
    s.population(2017, HWB_B, flat_population(1000))
    s.episode("2018-05-10", diag_4_01="E10X")        # acsc and nea
    s.episode("2018-05-10", diag_4_01="I10X")        # acsc and nea
    s.episode("2018-05-10")                          # nea only
    s.episode("2018-05-10", diag_4_01="E10X", lsoa11=LSOA_UNKNOWN)  # not resident: neither
    b = build(s)
    acsc, nea = b.metric("acsc"), b.metric("nea")
    # acsc 2 / 30,000 x 100,000 = 6.67 -> 6.7 (per 65+ it would be 200.0); nea 3 / 30,000 -> 10.0
    assert (acsc["actual_q"], acsc["population_denominator"], acsc["rate_q"]) == (2, 30_000, 6.7)
    assert (nea["actual_q"], nea["rate_q"]) == (3, 10.0)
    assert (b.cells()["ACSC_RATE_Q"], b.cells()["NEA_RATE_Q"]) == (6.7, 10.0)


def test_a_later_population_delivery_replaces_the_area(build):
    s = Scenario()
    s.population(2017, HWB_A, flat_population(1000), suffix="a")   # 91,000, replaced below
    s.population(2017, HWB_B, flat_population(500), suffix="a")    # 45,500, kept
    s.population(2017, HWB_A, flat_population(2000), suffix="b")   # 182,000
    for _ in range(91):
        s.episode("2018-05-10")
    b = build(s)
    # 91 / 182,000 x 100,000 = 50.0 (with the replaced 91,000 it would be 100.0)
    assert (b.metric("nea")["population_denominator"], b.metric("nea")["rate_q"]) == (182_000, 50.0)
    assert b.metric("nea", hwb=HWB_B)["population_denominator"] == 45_500
    recon = {r["delivery"]: (r["rows_in"], r["valid"], r["quarantined"], r["superseded"])
             for r in b.rows("select * from fct_ingest_reconciliation where feed = 'population'")}
    # counted in input rows (areas), not in the 91 long-form rows each
    assert recon == {"ons_mye_mid-2017_a.csv": (2, 1, 0, 1), "ons_mye_mid-2017_b.csv": (1, 1, 0, 0)}
