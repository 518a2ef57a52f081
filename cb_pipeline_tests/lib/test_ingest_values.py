"""Value parsing of the ingest engine (values.py) on its edge cases.

The expected values are what the earlier pandas implementation gave; the pyarrow one must keep them.
"""

import hashlib
import hmac

import numpy as np
import pandas as pd
import pyarrow as pa

from cb_pipeline.lib.ingest import values as v


def text(*values):
    return v.clean_text(pd.Series(list(values), dtype="string"))


def dates(values):
    return [None if np.isnat(d) else str(d)[:10] for d in values]


def test_missing_tokens_and_unicode_whitespace_are_cleaned():
    out = text(" a ", "\u00a0-\u3000", "&", "null", "NULL", "", None, "\tNull\n", "x\u2003")
    assert out.to_pylist() == ["a", None, None, None, None, None, None, "Null", "x"]


def test_dates_iso_uk_and_time_tails():
    t = text("2018-01-31", "31/01/2018", "2018-01-31 12:30", "2018-01-31T12:30:45.5", "2018-01-31junk",
             "2018-02-30", "29/02/2001", "29/02/2000", "0000-01-01", "01/01/0000", "2018-13-01", "2018-1-01",
             " 2018-01-31 ", None)
    assert dates(v.parse_dates(t)) == ["2018-01-31", "2018-01-31", "2018-01-31", "2018-01-31", None, None, None,
                                       "2000-02-29", "0000-01-01", None, None, None, "2018-01-31", None]
    assert v.parse_dates(t).dtype == np.dtype("datetime64[s]")


def test_datetimes_need_a_clock_time():
    t = text("2018-01-31 12:30", "2018-01-31", "2018-01-31 24:00", "31/01/2018T23:59:59.9", "2018-01-31 12:60")
    assert dates(v.parse_datetimes(t)) == ["2018-01-31", None, None, "2018-01-31", None]


def test_non_ascii_digits_follow_pandas():
    # Python's `\d` matches them and pandas' strptime reads some of them: kept as it was.
    t = text("１２３４-01-01", "29/02/２０００", "٢٠١٨-٠١-٠١", "2018-01-01 １２:３０")
    assert dates(v.parse_dates(t)) == ["1234-01-01", "2000-02-29", None, "2018-01-01"]
    assert v.parse_whole_numbers(text("１２")).isna().all()


def test_whole_numbers_and_ages():
    t = text("42", "+42", "42.0", "42.", "-0", "42.5", "1e3", "1234567890", "7001", "7007", "7008", "121", "-1", "abc")
    assert v.parse_whole_numbers(t).tolist() == [42, 42, 42, 42, 0, pd.NA, pd.NA, pd.NA, 7001, 7007, 7008, 121, -1,
                                                 pd.NA]
    assert v.parse_ages(t).tolist() == [42, 42, 42, 42, 0, pd.NA, pd.NA, pd.NA, 0, 0, pd.NA, pd.NA, pd.NA, pd.NA]
    assert str(v.parse_ages(t).dtype) == "Int64"


def test_numbers_keep_pandas_parsing():
    out = v.parse_numbers(text("1.5", "-0", ".5", "1e3", "1,234", "abc"))
    assert out.tolist()[:4] == [1.5, 0.0, 0.5, 1000.0] and np.signbit(out[1])
    assert out.isna().tolist() == [False, False, False, False, True, True]


def test_codes_times_and_nhs_numbers():
    padded = frozenset({"01", "02", "99"})
    assert v.parse_codes(text("1", "01", "3", "99", "x"), padded).to_pylist() == ["01", "01", None, "99", None]
    mixed = frozenset({"Service User", "Carer"})
    assert v.parse_codes(text("service user", "CARER", "carers"), mixed).to_pylist() == ["Service User", "Carer", None]
    assert v.parse_times(text("0930", "09:30", "2400", "930", "12:60")).to_pylist() == ["09:30", "09:30", None, None, None]
    nhs = v.normalise_nhs_numbers(text("943 476 5919", "943-476\u00a05919", "943\x1c476\x0b5919", "943 476 5918"))
    assert nhs.to_pylist() == ["9434765919"] * 3 + ["9434765918"]
    assert v.nhs_number_valid(nhs).tolist() == [True, True, True, False]
    assert v.nhs_number_valid(text("９４３４７６５９１９", None)).tolist() == [False, False]


def test_hmac_keeps_missing_values_missing_and_rows_in_order():
    out = v.hmac_sha256_hex(pa.array(["a", None, "b", "a"]), b"k")
    h = {s: hmac.new(b"k", s.encode(), hashlib.sha256).hexdigest() for s in ("a", "b")}
    assert out.to_pylist() == [h["a"], None, h["b"], h["a"]]
