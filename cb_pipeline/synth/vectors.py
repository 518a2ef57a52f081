"""Vectorised building blocks for the generator: random streams, dates, ages, codes, identifiers.

Belongs here: small numpy/pandas helpers used by several feed modules (named random streams,
month calendars and seasonal monthly counts, date and age arithmetic on datetime64 arrays,
string formatting of whole columns, weighted categorical draws, NHS numbers with a valid
modulus 11 check digit). Does not: anything that knows about one feed's columns or rules.
Everything works on whole arrays; nothing loops per row.
"""

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY = np.timedelta64(1, "D")


def stream(seed: int, *parts: int | str) -> np.random.Generator:
    """An independent, reproducible random stream for (seed, part, part, ...).

    String parts are hashed with CRC32 (stable across processes, unlike hash()).
    """
    words = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF]
    for part in parts:
        words.append(zlib.crc32(part.encode("utf-8")) if isinstance(part, str) else int(part) & 0xFFFFFFFF)
    return np.random.default_rng(np.random.SeedSequence(words))


# ---------------------------------------------------------------- calendar


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def start(self) -> np.datetime64:
        return np.datetime64(f"{self.year:04d}-{self.month:02d}-01", "D")

    @property
    def next_start(self) -> np.datetime64:
        return (np.datetime64(f"{self.year:04d}-{self.month:02d}", "M") + 1).astype("M8[D]")

    @property
    def days(self) -> int:
        return int((self.next_start - self.start) / DAY)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def fy_start_year(self) -> int:
        return self.year if self.month >= 4 else self.year - 1

    @property
    def fy_quarter(self) -> int:
        return (self.month - 4) % 12 // 3 + 1


def parse_month(text: str) -> Month:
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        if not 1 <= month <= 12 or year < 1900:
            raise ValueError
    except ValueError:
        raise ValueError(f"{text!r} is not a month: use YYYY-MM, e.g. 2017-04") from None
    return Month(year, month)


def month_range(start: str, end: str) -> list[Month]:
    first, last = parse_month(start), parse_month(end)
    if (last.year, last.month) < (first.year, first.month):
        raise ValueError(f"end {end} is before start {start}")
    months, current = [], first
    while (current.year, current.month) <= (last.year, last.month):
        months.append(current)
        current = Month(current.year + current.month // 12, current.month % 12 + 1)
    return months


def fy_label(fy_start_year: int) -> str:
    return f"{fy_start_year}-{(fy_start_year + 1) % 100:02d}"


def monthly_expected(annual: float, months: list[Month], season: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """Expected events per month for an annual volume with a per-day seasonality by calendar month."""
    days = np.array([m.days for m in months], dtype=float)
    weight = np.array([season[m.month - 1] for m in months]) * days
    year_weight = float((season * np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])).sum())
    return annual * factor * weight / year_weight


def monthly_counts(rng: np.random.Generator, annual: float, months: list[Month], season: np.ndarray, factor: float = 1.0) -> np.ndarray:
    return rng.poisson(monthly_expected(annual, months, season, factor))


def dates_in_months(rng: np.random.Generator, months: list[Month], counts: np.ndarray, weekdays_only: bool = False) -> np.ndarray:
    """Random days (datetime64[D]) with counts[i] days in months[i], sorted."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.repeat(np.array([m.start for m in months], dtype="M8[D]"), counts)
    lengths = np.repeat(np.array([m.days for m in months]), counts)
    days = starts + (rng.random(counts.sum()) * lengths).astype(np.int64) * DAY
    if weekdays_only:
        weekday = (days.astype(np.int64) + 3) % 7  # 0 = Monday
        days = days - np.where(weekday == 5, 1, 0) * DAY + np.where(weekday == 6, 1, 0) * DAY
        days = np.clip(days, starts, starts + (lengths - 1) * DAY)
    return np.sort(days)


def ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dates = np.asarray(dates, dtype="M8[D]")
    years = dates.astype("M8[Y]").astype(np.int64) + 1970
    months = dates.astype("M8[M]").astype(np.int64) % 12 + 1
    days = (dates - dates.astype("M8[M]").astype("M8[D]")).astype(np.int64) + 1
    return years, months, days


def from_ymd(years: np.ndarray, months: np.ndarray, days: np.ndarray) -> np.ndarray:
    month_start = ((years - 1970) * 12 + (months - 1)).astype("M8[M]").astype("M8[D]")
    month_len = ((month_start.astype("M8[M]") + 1).astype("M8[D]") - month_start).astype(np.int64)
    return month_start + (np.minimum(days, month_len) - 1) * DAY


def age_at(dob: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Whole years of age at `when` (vectorised; birthdays on 29 February count on 1 March)."""
    y1, m1, d1 = ymd(dob)
    y2, m2, d2 = ymd(when)
    return y2 - y1 - ((m2 * 100 + d2) < (m1 * 100 + d1)).astype(np.int64)


def dob_for_age(rng: np.random.Generator, age: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A date of birth such that the person is exactly `age` on `at`."""
    at = np.asarray(at, dtype="M8[D]")
    back = at - rng.integers(0, 365, size=len(at)) * DAY
    y, m, d = ymd(back)
    dob = from_ymd(y - np.asarray(age), m, d)
    return np.minimum(dob, at)


# ---------------------------------------------------------------- formatting


def fmt_dates(dates: np.ndarray) -> np.ndarray:
    """YYYY-MM-DD strings; NaT becomes ''."""
    text = np.datetime_as_string(np.asarray(dates, dtype="M8[D]"), unit="D").astype(object)
    text[pd.isna(dates)] = ""
    return text


def fmt_ints(values: np.ndarray, width: int = 0) -> np.ndarray:
    text = pd.Series(np.asarray(values, dtype=np.int64)).astype(str)
    if width:
        text = text.str.zfill(width)
    return text.to_numpy(dtype=object)


def hex_ids(rng: np.random.Generator, n: int, width: int = 16) -> np.ndarray:
    """Random upper-case hex identifiers of `width` characters."""
    digits = rng.integers(0, 16, size=(n, width), dtype=np.uint8)
    chars = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)[digits]
    return np.ascontiguousarray(chars).view(f"S{width}").ravel().astype(str).astype(object)


def concat_str(*parts) -> np.ndarray:
    """Element-wise string concatenation of arrays and scalars."""
    result = None
    for part in parts:
        part = np.asarray(part, dtype=object)
        result = part if result is None else result + part
    return result


def choose(rng: np.random.Generator, spec: tuple[list, list], n: int) -> np.ndarray:
    values, weights = spec
    p = np.asarray(weights, dtype=float)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p / p.sum())]


def choose_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix; returns column indices."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(probs))
    return np.minimum((u[:, None] > cum).sum(axis=1), probs.shape[1] - 1)


# ---------------------------------------------------------------- NHS numbers

NHS_WEIGHTS = np.arange(10, 1, -1)


def nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` 10-digit NHS numbers passing the modulus 11 check (first digit 4-6, as in England)."""
    body = np.empty((n, 9), dtype=np.int64)
    todo = np.arange(n)
    check = np.empty(n, dtype=np.int64)
    while len(todo):
        draw = rng.integers(0, 10, size=(len(todo), 9))
        draw[:, 0] = rng.integers(4, 7, size=len(todo))
        c = 11 - (draw @ NHS_WEIGHTS) % 11
        c[c == 11] = 0
        ok = c != 10
        body[todo[ok]] = draw[ok]
        check[todo[ok]] = c[ok]
        todo = todo[~ok]
    digits = np.concatenate([body, check[:, None]], axis=1).astype(np.uint8) + ord("0")
    return np.ascontiguousarray(digits).view("S10").ravel().astype(str).astype(object)


def break_nhs_numbers(numbers: np.ndarray) -> np.ndarray:
    """The same 10-digit numbers with the check digit changed, so the modulus 11 check fails."""
    fixed = np.asarray(numbers, dtype="U10")
    if not len(fixed):
        return fixed.astype(object)
    last = fixed.view("U1").reshape(len(fixed), 10)[:, 9].astype(np.int64)
    return np.char.add(fixed.astype("U9"), ((last + 1) % 10).astype("U1")).astype(object)
