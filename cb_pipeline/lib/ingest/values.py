"""Vectorised value parsing shared by every feed: missing tokens, dates, ages, codes, NHS numbers.

Belongs here: turning a column of delivered text into typed values (NA where it does not parse),
without deciding whether that is fatal (the rules in rules.py decide). Does not: know any feed.
Everything works on whole pandas Series; there is no Python loop per row.
"""

import hashlib

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

MISSING_TOKENS = ("", "-", "&", "null", "NULL")


def clean_text(raw: pd.Series) -> pd.Series:
    """Trimmed text with the spec's missing tokens as NA."""
    s = raw.astype("string").str.strip()
    return s.mask(s.isin(MISSING_TOKENS))


def parse_dates(text: pd.Series) -> pd.Series:
    """`YYYY-MM-DD` or `DD/MM/YYYY` (a time part after a space or `T` is ignored) -> datetime64, NaT else."""
    day = text.str.slice(0, 10)
    iso = pd.to_datetime(day.where(day.str.fullmatch(r"\d{4}-\d{2}-\d{2}", na=False)), format="%Y-%m-%d", errors="coerce")
    uk = pd.to_datetime(day.where(day.str.fullmatch(r"\d{2}/\d{2}/\d{4}", na=False)), format="%d/%m/%Y", errors="coerce")
    rest = text.str.slice(10)
    # A date must be the whole value or be followed by a time: "2018-01-01junk" is not a date.
    tail_ok = rest.isna() | (rest == "") | rest.str.fullmatch(r"[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", na=False)
    out = iso.fillna(uk)
    return out.where(tail_ok.fillna(False).astype(bool)).astype("datetime64[s]")


def parse_datetimes(text: pd.Series) -> pd.Series:
    """`YYYY-MM-DD HH:MM[:SS]` (or `DD/MM/YYYY HH:MM[:SS]`, `T` for the space) -> the date part as
    datetime64; NaT when the time is missing or not a clock time (feeds.md asks for both parts)."""
    rest = text.str.slice(10)
    clock = rest.str.fullmatch(r"[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?", na=False)
    return parse_dates(text).where(clock.fillna(False).astype(bool))


def parse_whole_numbers(text: pd.Series) -> pd.Series:
    """`42`, `42.0` -> 42; anything else (`42.5`, `abc`) -> NA. Returns nullable Int64."""
    ok = text.str.fullmatch(r"[+-]?\d{1,9}(\.0*)?", na=False)
    num = pd.to_numeric(text.where(ok), errors="coerce")
    return num.astype("Int64")


def parse_ages(text: pd.Series) -> pd.Series:
    """Ages in years with the HES infant codes 7001-7007 mapped to 0; outside 0..120 -> NA."""
    age = parse_whole_numbers(text)
    age = age.mask(age.between(7001, 7007).fillna(False).astype(bool), 0)
    return age.where(age.between(0, 120).fillna(False).astype(bool))


def parse_numbers(text: pd.Series) -> pd.Series:
    """Decimal numbers (`1,234` is not accepted: a CSV field with a comma is ambiguous) -> Float64."""
    ok = text.str.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", na=False)
    return pd.to_numeric(text.where(ok), errors="coerce").astype("Float64")


def normalise_codes(text: pd.Series, codes: frozenset[str]) -> pd.Series:
    """Codes in the list's case; a one-digit value where the list is zero-padded (`1` for `01`) is padded."""
    if not all(c == c.lower() for c in codes) and not all(c == c.upper() for c in codes):
        # A list spelt in mixed case (`Service User`, `D(ii)`): match case-insensitively and store
        # the list's own spelling, so the SQL compares with the values feeds.md prints.
        canonical = {c.upper(): c for c in codes}
        upper = text.str.upper()
        return upper.map(canonical, na_action="ignore").astype("string").where(upper.isin(canonical), upper)
    s = text.str.lower() if all(c == c.lower() for c in codes) else text.str.upper()
    if any(len(c) == 2 and c[0] == "0" for c in codes):
        s = s.mask(s.str.fullmatch(r"\d", na=False), "0" + s)
    return s


def parse_times(text: pd.Series) -> pd.Series:
    """`HHMM` or `HH:MM` -> `HH:MM`; anything else NA."""
    digits = text.str.replace(":", "", regex=False)
    ok = text.str.fullmatch(r"([01]\d|2[0-3]):?[0-5]\d", na=False)
    return (digits.str.slice(0, 2) + ":" + digits.str.slice(2, 4)).where(ok)


def normalise_nhs_numbers(text: pd.Series) -> pd.Series:
    return text.str.replace(r"[\s-]", "", regex=True)


def nhs_number_valid(normalised: pd.Series) -> pd.Series:
    """The modulus 11 check of feeds.md, on whole columns."""
    ten = normalised.str.fullmatch(r"\d{10}", na=False).to_numpy(dtype=bool)
    valid = np.zeros(len(normalised), dtype=bool)
    if ten.any():
        digits = np.frombuffer("".join(normalised[ten].tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 10) - 48
        total = (digits[:, :9].astype(np.int64) * np.arange(10, 1, -1)).sum(axis=1)
        check = 11 - (total % 11)
        check = np.where(check == 11, 0, check)
        valid[ten] = (check != 10) & (check == digits[:, 9])
    return pd.Series(valid, index=normalised.index)


_HASH_CONNECTION: duckdb.DuckDBPyConnection | None = None


def _hash_connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process for hashing (opening one costs ~10 ms per delivery)."""
    global _HASH_CONNECTION
    if _HASH_CONNECTION is None:
        _HASH_CONNECTION = duckdb.connect()
    return _HASH_CONNECTION


def hmac_sha256_hex(values: pd.Series, key: bytes) -> pd.Series:
    """HMAC-SHA256(key, value) as hex for every non-missing value, computed by DuckDB in one pass.

    HMAC is spelt out (RFC 2104) over DuckDB's sha256 so ten million values need no Python loop.
    """
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in block)
    opad = bytes(b ^ 0x5C for b in block)
    present = values.notna().to_numpy(dtype=bool)
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    if present.any():
        table = pa.table({"v": pa.array(values[present].astype(str).tolist(), type=pa.string())})
        con = _hash_connection().cursor()  # a cursor per call: safe across threads
        try:
            con.register("v_in", table)
            hashed = con.execute(
                "select sha256($o::blob || unhex(sha256($i::blob || encode(v)))) from v_in", {"o": opad, "i": ipad}
            ).fetchnumpy()
        finally:
            con.close()
        out[present] = list(hashed.values())[0]
    return out
