"""Vectorised value parsing shared by every feed: missing tokens, dates, ages, codes, NHS numbers.

Belongs here: turning a column of delivered text into typed values (NA where it does not parse),
without deciding whether that is fatal (the rules in spec.py decide). Does not: know any feed.
Everything works on whole columns; there is no Python loop per row (except, below, for the rare
non-ASCII values, see `fullmatch`).

Columns are pyarrow string arrays (nulls = missing) rather than pandas Series: a batch has ~40
columns and each pandas `.str`/where/mask call costs far more in overhead than the pyarrow
compute kernel it wraps. spec.prepare wraps the results in pandas Series for the rules.
The results are the same as pandas' `.str` methods on the `string[pyarrow]` dtype give (pandas
runs the same pyarrow kernels), including its switch to Python's `re` for non-ASCII text.
"""

import hashlib
import re

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MISSING_TOKENS = ("", "-", "&", "null", "NULL")

STRING = pd.StringDtype("pyarrow")  # the dtype of `astype("string")`: pyarrow storage, NA for missing


# ------------------------------------------------------------------ arrow <-> pandas


def as_arrow(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one pyarrow string array (no copy for a `string[pyarrow]` Series)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
            and values.dtype.na_value is pd.NA):
        values = values.astype(STRING)
    arr = pa.array(values.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def string_array(text: pa.Array) -> pd.arrays.ArrowStringArray:
    """Arrow strings as a pandas `string` array (the dtype the rules and tables expect)."""
    return STRING.__from_arrow__(text)


def string_series(text: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(string_array(text), index=index, copy=False)


def _null(text: pa.Array) -> pa.Scalar:
    return pa.scalar(None, type=text.type)


def _keep(text: pa.Array, mask: np.ndarray) -> pa.Array:
    """`text` where `mask`, null elsewhere."""
    return pc.if_else(pa.array(mask, type=pa.bool_()), text, _null(text))


def _bools(values: pa.Array) -> np.ndarray:
    """A pyarrow boolean array as numpy, null = False."""
    return values.fill_null(False).to_numpy(zero_copy_only=False)


def _non_ascii(text: pa.Array) -> np.ndarray:
    return ~_bools(pc.string_is_ascii(text).fill_null(True))


def fullmatch(text: pa.Array, pattern: str) -> np.ndarray:
    """pandas' `text.str.fullmatch(pattern, na=False)` as a numpy bool array.

    pandas runs RE2 (pyarrow) while a column is all ASCII and Python's `re` as soon as one value is
    not; the two differ only on non-ASCII text (RE2's `\\d` is ASCII digits, Python's any Unicode
    digit). So: RE2 for every value, then Python's `re` again for the non-ASCII values only.
    Not for patterns with `\\s`, where pandas always uses Python's `re` (see normalise_nhs_numbers).
    """
    out = _bools(pc.match_substring_regex(text, f"^({pattern})$"))
    non_ascii = np.flatnonzero(_non_ascii(text))
    if len(non_ascii):
        rx = re.compile(pattern)
        out[non_ascii] = [rx.fullmatch(s) is not None for s in text.take(non_ascii).to_pylist()]
    return out


def value_set(values: frozenset[str]) -> pa.Array:
    """A set of strings as the pyarrow array `isin` takes (build it once, use it for every batch)."""
    return pa.array(sorted(values), type=pa.large_string())


def isin(column: pd.Series, values: pa.Array) -> pd.Series:
    """`column.isin(set)` for a `string` column (missing = False), with the set built by value_set."""
    text = as_arrow(column)
    return pd.Series(_bools(pc.is_in(text, value_set=values.cast(text.type))), index=column.index)


# ------------------------------------------------------------------ text


def clean_text(raw: pd.Series | pa.Array) -> pa.Array:
    """Trimmed text (Unicode whitespace, as `str.strip`) with the spec's missing tokens as null."""
    s = pc.utf8_trim_whitespace(as_arrow(raw))
    return pc.if_else(pc.is_in(s, value_set=pa.array(MISSING_TOKENS, type=s.type)), _null(s), s)


# ------------------------------------------------------------------ dates

# The date is the first 10 characters (`YYYY-MM-DD` or `DD/MM/YYYY`); what follows must be nothing
# or a time (a clock time for datetimes). One regex per column does both checks.
_DAY = r"(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4})"
_DATE = _DAY + r"([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
_DATETIME = _DAY + r"[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?"
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def parse_dates(text: pa.Array) -> np.ndarray:
    """`YYYY-MM-DD` or `DD/MM/YYYY` (a time part after a space or `T` is ignored) -> datetime64[s], NaT else.

    A date must be the whole value or be followed by a time: "2018-01-01junk" is not a date."""
    return _day_part(text, fullmatch(text, _DATE))


def parse_datetimes(text: pa.Array) -> np.ndarray:
    """`YYYY-MM-DD HH:MM[:SS]` (or `DD/MM/YYYY HH:MM[:SS]`, `T` for the space) -> the date part as
    datetime64[s]; NaT when the time is missing or not a clock time (feeds.md asks for both parts)."""
    return _day_part(text, fullmatch(text, _DATETIME))


def _day_part(text: pa.Array, shaped: np.ndarray) -> np.ndarray:
    """The date in the first 10 characters of the values that have a date's shape (`shaped`); NaT
    where that is not a calendar date.

    The pandas version parsed with `pd.to_datetime(format=...)`; this computes the same from the
    digits: ISO dates allow year 0000 (pandas' ISO parser does), DD/MM/YYYY dates need year >= 1
    (pandas' strptime does), both need a real day of the month (2018-02-30 is NaT).
    """
    out = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[s]")
    if not shaped.any():
        return out
    # A shaped non-ASCII value has non-ASCII digits (Python's `\d`): pandas' parser has its own
    # rules for those (some parse, some not), so these few values still go through pandas.
    odd = np.flatnonzero(shaped & _non_ascii(text))
    if len(odd):
        day = pd.Series([s[:10] for s in text.take(odd).to_pylist()], dtype=STRING)
        iso = day.str.slice(4, 5) == "-"
        parsed = pd.to_datetime(day.where(iso), format="%Y-%m-%d", errors="coerce").fillna(
            pd.to_datetime(day.where(~iso), format="%d/%m/%Y", errors="coerce"))
        out[odd] = parsed.to_numpy(dtype="datetime64[s]")
        shaped = shaped.copy()
        shaped[odd] = False
    rows = np.flatnonzero(shaped)
    b = _leading_bytes(text, rows, 10).astype(np.int64) - ord("0")
    iso = b[:, 4] == ord("-") - ord("0")
    y = np.where(iso, b[:, 0] * 1000 + b[:, 1] * 100 + b[:, 2] * 10 + b[:, 3],
                 b[:, 6] * 1000 + b[:, 7] * 100 + b[:, 8] * 10 + b[:, 9])
    m = np.where(iso, b[:, 5] * 10 + b[:, 6], b[:, 3] * 10 + b[:, 4])
    d = np.where(iso, b[:, 8] * 10 + b[:, 9], b[:, 0] * 10 + b[:, 1])
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    last = _DAYS_IN_MONTH[np.clip(m, 1, 12) - 1] + ((m == 2) & leap)
    ok = (iso | (y >= 1)) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= last)
    out[rows[ok]] = (_days_from_civil(y[ok], m[ok], d[ok]) * 86400).astype("datetime64[s]")
    return out


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's days_from_civil), in integer
    arithmetic: numpy's own month -> day conversion is several times slower."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _leading_bytes(text: pa.Array, rows: np.ndarray, width: int) -> np.ndarray:
    """The first `width` bytes of text[rows] as a (len(rows), width) uint8 matrix; each of those
    values must be at least `width` bytes long. Read straight from the array's buffers."""
    if not len(rows):
        return np.zeros((0, width), dtype=np.uint8)
    _, offsets, data = text.buffers()
    kind = np.int64 if pa.types.is_large_string(text.type) else np.int32
    starts = np.frombuffer(offsets, dtype=kind)[text.offset + rows]
    return np.frombuffer(data, dtype=np.uint8)[starts[:, None] + np.arange(width)]


# ------------------------------------------------------------------ numbers


def parse_whole_numbers(text: pa.Array) -> pd.arrays.IntegerArray:
    """`42`, `42.0` -> 42; anything else (`42.5`, `abc`) -> NA. Returns nullable Int64."""
    # Non-ASCII values never parse (pandas' number parser reads ASCII digits only).
    ok = fullmatch(text, r"[+-]?\d{1,9}(\.0*)?") & ~_non_ascii(text)
    # At most 9 digits: an exact int64 once the sign `+` and a `.000` tail are removed.
    digits = pc.replace_substring_regex(_keep(text, ok), r"^\+|\.0*$", "")
    num = digits.cast(pa.int64())
    return pd.arrays.IntegerArray(num.fill_null(0).to_numpy(), ~ok)


def parse_ages(text: pa.Array) -> pd.arrays.IntegerArray:
    """Ages in years with the HES infant codes 7001-7007 mapped to 0; outside 0..120 -> NA."""
    whole = parse_whole_numbers(text)
    age = whole.to_numpy(dtype="int64", na_value=-1)
    age = np.where((age >= 7001) & (age <= 7007), 0, age)
    return pd.arrays.IntegerArray(age, whole.isna() | (age < 0) | (age > 120))


def parse_numbers(text: pa.Array) -> pd.arrays.FloatingArray:
    """Decimal numbers (`1,234` is not accepted: a CSV field with a comma is ambiguous) -> Float64."""
    ok = fullmatch(text, r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
    # pandas' own number parser, as before (its rounding, `-0`, huge exponents): rare enough a kind.
    kept = pd.Series(STRING.__from_arrow__(_keep(text, ok)))
    return pd.to_numeric(kept, errors="coerce").astype("Float64").array


# ------------------------------------------------------------------ codes, times, NHS numbers


def normalise_codes(text: pa.Array, codes: frozenset[str]) -> pa.Array:
    """Codes in the list's case; a one-digit value where the list is zero-padded (`1` for `01`) is padded."""
    if not all(c == c.lower() for c in codes) and not all(c == c.upper() for c in codes):
        # A list spelt in mixed case (`Service User`, `D(ii)`): match case-insensitively and store
        # the list's own spelling, so the SQL compares with the values feeds.md prints.
        canonical = {c.upper(): c for c in codes}
        upper = pc.utf8_upper(text)
        at = pc.index_in(upper, value_set=pa.array(list(canonical), type=text.type))
        spelt = pa.array(list(canonical.values()), type=text.type).take(at)
        return pc.if_else(pc.is_null(at), upper, spelt)
    s = pc.utf8_lower(text) if all(c == c.lower() for c in codes) else pc.utf8_upper(text)
    if any(len(c) == 2 and c[0] == "0" for c in codes):
        pad = fullmatch(s, r"\d")
        if pad.any():
            padded = pc.binary_join_element_wise(pa.scalar("0", type=s.type), s, pa.scalar("", type=s.type))
            s = pc.if_else(pa.array(pad, type=pa.bool_()), padded, s)
    return s


def parse_codes(text: pa.Array, codes: frozenset[str]) -> pa.Array:
    """normalise_codes, then null where the value is not in the list."""
    s = normalise_codes(text, codes)
    return pc.if_else(pc.is_in(s, value_set=pa.array(sorted(codes), type=s.type)), s, _null(s))


def parse_times(text: pa.Array) -> pa.Array:
    """`HHMM` or `HH:MM` -> `HH:MM`; anything else null."""
    digits = pc.replace_substring(text, ":", "")
    hhmm = pc.binary_join_element_wise(pc.utf8_slice_codeunits(digits, 0, 2), pc.utf8_slice_codeunits(digits, 2, 4),
                                       pa.scalar(":", type=text.type))
    return _keep(hhmm, fullmatch(text, r"([01]\d|2[0-3]):?[0-5]\d"))


# Python's `\s` (what pandas uses for `[\s-]`, always via `re`) on ASCII text: str.isspace() characters.
_ASCII_SPACE_OR_DASH = r"[\t\n\x0b\x0c\r\x1c-\x1f \-]"
_SPACE_OR_DASH = re.compile(r"[\s-]")


def normalise_nhs_numbers(text: pa.Array) -> pa.Array:
    """Whitespace (Unicode, as Python's `\\s`) and dashes removed."""
    out = pc.replace_substring_regex(text, _ASCII_SPACE_OR_DASH, "")
    non_ascii = _non_ascii(text)
    if non_ascii.any():
        fixed = [_SPACE_OR_DASH.sub("", s) for s in text.filter(pa.array(non_ascii)).to_pylist()]
        out = pc.replace_with_mask(out, pa.array(non_ascii), pa.array(fixed, type=out.type))
    return out


def nhs_number_valid(normalised: pd.Series | pa.Array) -> np.ndarray:
    """The modulus 11 check of feeds.md, on whole columns (a numpy bool array).

    Ten ASCII digits only: the pandas version let ten non-ASCII digits through `\\d{10}` and then
    failed (UnicodeEncodeError) on them, stopping the whole ingest; they are now simply invalid."""
    text = as_arrow(normalised)
    ten = _bools(pc.match_substring_regex(text, r"^[0-9]{10}$"))
    valid = np.zeros(len(text), dtype=bool)
    if ten.any():
        digits = _leading_bytes(text, np.flatnonzero(ten), 10).astype(np.int64) - ord("0")
        total = (digits[:, :9] * np.arange(10, 1, -1)).sum(axis=1)
        check = 11 - (total % 11)
        check = np.where(check == 11, 0, check)
        valid[ten] = (check != 10) & (check == digits[:, 9])
    return valid


# ------------------------------------------------------------------ pseudonyms

_HASH_CONNECTION: duckdb.DuckDBPyConnection | None = None


def _hash_connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process for hashing (opening one costs ~10 ms per delivery)."""
    global _HASH_CONNECTION
    if _HASH_CONNECTION is None:
        _HASH_CONNECTION = duckdb.connect()
    return _HASH_CONNECTION


def hmac_sha256_hex(values: pd.Series | pa.Array, key: bytes) -> pa.Array:
    """HMAC-SHA256(key, value) as hex for every non-missing value (null for missing), computed by
    DuckDB in one pass.

    HMAC is spelt out (RFC 2104) over DuckDB's sha256 so ten million values need no Python loop.
    """
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in block)
    opad = bytes(b ^ 0x5C for b in block)
    text = as_arrow(values).cast(pa.string())
    if text.null_count == len(text):
        return pa.nulls(len(text), type=pa.string())
    # Each distinct value is hashed once (a person has several episodes in a delivery), then the
    # hashes are put back in row order; a missing value stays missing (its index is null).
    encoded = pc.dictionary_encode(text)
    table = pa.table({"v": encoded.dictionary})
    con = _hash_connection().cursor()  # a cursor per call: safe across threads
    try:
        con.register("v_in", table)
        # A projection of one scan keeps the rows' order (DuckDB's preserve_insertion_order).
        hashed = con.execute(
            "select sha256($o::blob || unhex(sha256($i::blob || encode(v)))) as h from v_in", {"o": opad, "i": ipad}
        ).fetch_arrow_table()
    finally:
        con.close()
    return hashed.column("h").combine_chunks().cast(pa.string()).take(encoded.indices)
