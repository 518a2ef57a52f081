"""Fuzzed deliveries through the real ingest engine (DuckDB): whatever arrives, the engine either
rejects the whole file with a reason that names what would fix it, or loads it with every row in
exactly one place, and the reconciliation check passes. Expected counts are worked out by hand
from the bytes written here."""

import random

import pytest

from cb_pipeline.lib.ingest import ingest_feed
from cb_pipeline.quality.ingest_checks import ingest_check_results

from .conftest import APC_HEADER, KEY, apc, write

DELIVERY = "20180601T0200_RC9_apc.csv"


def ingest(w, landing):
    report = ingest_feed(w, "hes_apc", landing, key=KEY)
    assert len(report.deliveries) == 1
    return report.deliveries[0]


def check(w, name):
    return next(r for r in ingest_check_results(w, "hes_apc") if r.check_name == name)


def assert_reconciles(w):
    result = check(w, "reconciliation")
    assert result.passed, result.metadata.get("failure")


def assert_rejected_cleanly(w, d, *words):
    assert d.status == "rejected", d
    for word in words:
        assert word in d.reason, d.reason
    assert w.scalar("select count(*) from ingest_hes_apc") == 0
    assert w.scalar("select count(*) from quarantine_hes_apc") == 0
    assert w.scalar("select status from ingest_deliveries where delivery = :d", {"d": DELIVERY}) == "rejected"
    assert_reconciles(w)
    # a rejected delivery warns (rules check) but never blocks
    rules = check(w, "rules")
    assert not rules.passed and rules.severity.value == "WARN"


def test_random_bytes_are_rejected(duck):
    w, landing = duck
    path = landing / "hes_apc" / DELIVERY
    path.parent.mkdir(parents=True)
    path.write_bytes(random.Random(20181105).randbytes(64 << 10))
    assert_rejected_cleanly(w, ingest(w, landing), "UTF-8")


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_another_encoding_is_rejected_with_the_fix(duck, encoding):
    w, landing = duck
    write(landing / "hes_apc" / DELIVERY, APC_HEADER, [apc("1", TRETSPEF="é30"), apc("2")], encoding=encoding)
    assert_rejected_cleanly(w, ingest(w, landing), "not UTF-8", "save it as UTF-8")


def test_truncated_last_line_is_quarantined_with_its_row_number(duck):
    w, landing = duck
    path = write(landing / "hes_apc" / DELIVERY, APC_HEADER, [apc("1"), apc("2"), apc("3")])
    data = path.read_bytes()
    # cut the last record after its 5th field (a transfer that stopped half way), no newline
    last_start = data.rstrip(b"\r\n").rfind(b"\n") + 1
    path.write_bytes(data[:last_start] + b",".join(data[last_start:].split(b",")[:5]))
    d = ingest(w, landing)
    assert (d.status, d.rows_in, d.valid, d.quarantined) == ("loaded", 3, 2, 1)
    q = w.query_df("select _row_number, _rules, _reasons, _raw_line from quarantine_hes_apc")
    assert q["_row_number"].tolist() == [3] and q["_rules"].tolist() == ["row_malformed"]
    assert q["_reasons"][0] == f"row_malformed: the record has 5 fields, the header has {len(APC_HEADER)}"
    assert VALID_NHS_NOT_IN(q["_raw_line"][0])
    assert_reconciles(w)


def VALID_NHS_NOT_IN(text: str) -> bool:
    return "9434765919" not in text and "[10-digit number removed]" in text


def test_ragged_rows_are_quarantined_and_the_rest_loads(duck):
    w, landing = duck
    path = landing / "hes_apc" / DELIVERY
    path.parent.mkdir(parents=True)
    good = [",".join(apc(str(i))) for i in range(1, 5)]
    lines = [",".join(APC_HEADER), good[0], good[1] + ",extra,fields", good[2], "4,RC9", good[3]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    d = ingest(w, landing)
    # rows 2 (16 fields) and 4 (2 fields) malformed; rows 1, 3, 5 valid
    assert (d.rows_in, d.valid, d.quarantined) == (5, 3, 2)
    assert sorted(w.query_df("select _row_number from ingest_hes_apc")["_row_number"]) == [1, 3, 5]
    assert sorted(w.query_df("select _row_number from quarantine_hes_apc")["_row_number"]) == [2, 4]
    assert_reconciles(w)


def test_a_one_megabyte_field_loads_without_harm(duck):
    w, landing = duck
    big = "X" * (1 << 20)
    write(landing / "hes_apc" / DELIVERY, APC_HEADER, [apc("1"), apc("2", TRETSPEF=big), apc("3", EPIKEY=big)])
    d = ingest(w, landing)
    # TRETSPEF is free text (loaded as sent); a 1 MB key is still a key
    assert (d.status, d.rows_in, d.valid, d.quarantined) == ("loaded", 3, 3, 0)
    assert w.scalar("select max(length(tretspef)) from ingest_hes_apc") == 1 << 20
    assert_reconciles(w)


def test_header_only_is_an_empty_delivery(duck):
    w, landing = duck
    write(landing / "hes_apc" / DELIVERY, APC_HEADER, [])
    d = ingest(w, landing)
    assert (d.status, d.rows_in, d.valid, d.quarantined) == ("loaded", 0, 0, 0)
    assert_reconciles(w)
    assert check(w, "rules").passed


def test_an_empty_file_is_rejected(duck):
    w, landing = duck
    path = landing / "hes_apc" / DELIVERY
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert_rejected_cleanly(w, ingest(w, landing), "empty", "header row")


def test_duplicate_column_names_are_rejected(duck):
    w, landing = duck
    write(landing / "hes_apc" / DELIVERY, APC_HEADER + ["admidate"], [apc("1") + ["2018-01-01"]])
    assert_rejected_cleanly(w, ingest(w, landing), "duplicate column names", "admidate")


def test_nul_bytes_and_a_binary_header_are_rejected(duck):
    w, landing = duck
    path = landing / "hes_apc" / DELIVERY
    path.parent.mkdir(parents=True)
    path.write_bytes(b"EPIKEY\x00,PROCODE3\n1,RC9\n")
    assert_rejected_cleanly(w, ingest(w, landing), "NUL")


def test_formula_text_in_every_text_field_stays_text(duck):
    w, landing = duck
    formula = '=HYPERLINK("http://example.invalid","x")'
    row = apc("=1+1", **{c: formula for c in ("PROCODE3", "PSEUDO_HESID", "LSOA11", "TRETSPEF", "DIAG_4_01")},
              NHSNUMBER="")
    write(landing / "hes_apc" / DELIVERY, APC_HEADER, [row, apc("2", ADMIMETH="=SUM(A1:A9)")])
    d = ingest(w, landing)
    # row 1 loads (free text, unknown LSOA is a warning); row 2's ADMIMETH is not a code: quarantined as text
    assert (d.rows_in, d.valid, d.quarantined) == (2, 1, 1)
    loaded = w.query_df("select epikey, procode3, person_key, tretspef, diag_4_01, lsoa11 from ingest_hes_apc").iloc[0]
    assert loaded["epikey"] == "=1+1" and loaded["tretspef"] == formula and loaded["person_key"] == formula
    assert w.scalar("select admimeth from quarantine_hes_apc") == "=SUM(A1:A9)"


def test_a_bad_byte_deep_in_a_staged_delivery_rejects_all_of_it(duck, monkeypatch):
    """Batches already staged when the bad byte is reached must not be published."""
    w, landing = duck
    monkeypatch.setenv("CB_INGEST_STAGE_ABOVE_BYTES", "1")
    monkeypatch.setenv("CB_INGEST_BLOCK_BYTES", str(64 << 10))
    # past the first 1 MB, which the header check decodes: only the batch reader meets the bad byte
    rows = [apc(str(i)) for i in range(1, 16000)] + [apc("16000", TRETSPEF="\udce9")]
    path = landing / "hes_apc" / DELIVERY
    path.parent.mkdir(parents=True)
    text = "\n".join(",".join(r) for r in [APC_HEADER] + rows) + "\n"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))  # a lone 0xE9 byte in the last row
    assert path.stat().st_size > (1 << 20) + (64 << 10)
    assert_rejected_cleanly(w, ingest(w, landing), "not UTF-8")
