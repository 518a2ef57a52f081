"""Planting bad input (`--defects RATE`): every kind of problem feeds.md says ingest must handle.

Belongs here: for each feed, the kinds of bad row (missing key, duplicate key in a delivery,
invalid date, valid DD/MM/YYYY date, end before start, future date, required code outside its
list, optional code outside its list, invalid ages, NHS numbers failing modulus 11, unknown
LSOA, date of birth after the event, negative or non-integer delayed days, population total
mismatch, ...), replacing a share of rows vectorised, and the one delivery per feed that lacks
a required column. Does not: decide what ingest does with them (that is the spec and ingest).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .vectors import DAY, break_nhs_numbers, fmt_dates

NAT = np.datetime64("NaT", "D")


class _Ctx:
    """The rows chosen for one kind of defect, with helpers that edit whole columns at once."""

    def __init__(self, frame: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator, cache: dict):
        self.frame, self.rows, self.rng, self._cache = frame, rows, rng, cache

    def get(self, col: str) -> np.ndarray:
        if col not in self._cache:
            self._cache[col] = self.frame[col].to_numpy(dtype=object).copy()
        return self._cache[col]

    def set(self, col: str, values, rows: np.ndarray | None = None) -> None:
        self.get(col)[self.rows if rows is None else rows] = values

    def cycle(self, options: list[str]) -> np.ndarray:
        return np.asarray(options, dtype=object)[np.arange(len(self.rows)) % len(options)]

    def dates(self, col: str) -> np.ndarray:
        text = pd.Series(self.get(col)[self.rows], dtype=object).str.slice(0, 10)
        return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").to_numpy().astype("M8[D]")

    def run(self) -> np.ndarray:
        return self.frame["_run"].to_numpy()[self.rows].astype("M8[D]")

    def days(self, lo: int, hi: int) -> np.ndarray:
        return self.rng.integers(lo, hi + 1, len(self.rows)) * DAY


# ---------------------------------------------------------------- kinds shared by feeds


def key_missing(key):
    return lambda c: c.set(key, "")


def key_duplicate(*key_cols):
    """Give each chosen row the key of a neighbouring row of the same delivery."""

    def plant(c: _Ctx):
        deliveries = c.frame["_delivery"].to_numpy()
        rows = c.rows
        prev_ok = (rows > 0) & (deliveries[np.maximum(rows - 1, 0)] == deliveries[rows])
        nxt = np.minimum(rows + 1, len(deliveries) - 1)
        next_ok = (rows + 1 < len(deliveries)) & (deliveries[nxt] == deliveries[rows])
        source = np.where(prev_ok, rows - 1, np.where(next_ok, nxt, -1))
        ok = source >= 0
        for col in key_cols:
            values = c.get(col)
            c.set(col, values[source[ok]], rows[ok])
    return plant


def date_invalid(col, with_time=False):
    def plant(c: _Ctx):
        years = pd.Series(c.get(col)[c.rows], dtype=object).str.slice(0, 4).to_numpy(dtype=object)
        years = np.where(pd.Series(years).str.fullmatch(r"\d{4}").to_numpy(dtype=bool), years, "2018").astype(object)
        bad = c.cycle(["-02-30", "-13-01", "/31/12", "-00-10"])
        value = years + bad
        value = np.where(bad == "/31/12", "31/13/" + years, value).astype(object)
        if with_time:
            value = value + " 10:15:00"
        c.set(col, value)
    return plant


def date_ddmmyyyy(*cols):
    def plant(c: _Ctx):
        for col in cols:
            text = pd.Series(c.get(col)[c.rows], dtype=object)
            iso = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").to_numpy(dtype=bool)
            swapped = (text.str.slice(8, 10) + "/" + text.str.slice(5, 7) + "/" + text.str.slice(0, 4)).to_numpy(dtype=object)
            c.set(col, np.where(iso, swapped, text.to_numpy(dtype=object)))
    return plant


def date_order(start_col, end_col):
    def plant(c: _Ctx):
        start = c.dates(start_col)
        c.set(end_col, fmt_dates(start - c.days(1, 10)))
    return plant


def date_future(col, with_time=False, blank=()):
    def plant(c: _Ctx):
        text = fmt_dates(c.run() + c.days(1, 60))
        if with_time:
            text = text + " 12:00:00"
        c.set(col, text)
        for other in blank:
            c.set(other, "")
    return plant


def code(col, options):
    return lambda c: c.set(col, c.cycle(options))


def code_one_of(pairs):
    """Each chosen row gets a bad value in one of several columns, taking turns."""
    def plant(c: _Ctx):
        turn = np.arange(len(c.rows)) % len(pairs)
        for i, (col, value) in enumerate(pairs):
            c.set(col, value, c.rows[turn == i])
    return plant


def ages(col):
    return lambda c: c.set(col, c.cycle(["-2", "150", "abc"]))


def nhs_invalid(col):
    def plant(c: _Ctx):
        values = c.get(col)[c.rows].astype(str)
        ten = pd.Series(values).str.fullmatch(r"\d{10}").to_numpy(dtype=bool)
        out = np.full(len(values), "123456789", dtype=object)  # 9 digits
        out[ten] = break_nhs_numbers(values[ten])
        c.set(col, out)
    return plant


def lsoa_unknown(col):
    return lambda c: c.set(col, c.cycle(["E01899999", "W01000123", "E01999998"]))


def dob_after_start(dob_col, start_col):
    def plant(c: _Ctx):
        c.set(dob_col, fmt_dates(c.dates(start_col) + c.days(1, 900)))
    return plant


def population_total_mismatch(c: _Ctx):
    total = pd.to_numeric(pd.Series(c.get("total_population")[c.rows]), errors="coerce").fillna(0).to_numpy()
    c.set("total_population", np.char.mod("%.1f", total + c.rng.integers(25, 200, len(c.rows))).astype(object))


def population_bad_count(value):
    def plant(c: _Ctx):
        age_cols = [str(a) for a in range(90)] + ["90+"]
        which = c.rng.integers(0, len(age_cols), len(c.rows))
        for i in np.unique(which):
            c.set(age_cols[i], value, c.rows[which == i])
    return plant


@dataclass(frozen=True)
class FeedDefects:
    kinds: tuple[tuple[str, Callable[[_Ctx], None]], ...]
    missing_column: str


FEEDS: dict[str, FeedDefects] = {
    "hes_apc": FeedDefects((
        ("key_missing", key_missing("EPIKEY")),
        ("key_duplicate_in_delivery", key_duplicate("EPIKEY")),
        ("date_invalid", date_invalid("ADMIDATE")),
        ("date_ddmmyyyy_valid", date_ddmmyyyy("ADMIDATE", "EPISTART", "EPIEND", "DISDATE")),
        ("date_order", date_order("ADMIDATE", "DISDATE")),
        ("date_future", date_future("DISDATE")),
        ("code_invalid", code("ADMIMETH", ["77", "2X", "E1"])),
        ("code_unknown", code_one_of([("DISMETH", "7"), ("DISDEST", "97")])),
        ("age_invalid", ages("STARTAGE")),
        ("nhs_number_invalid", nhs_invalid("NHSNUMBER")),
        ("residence_unknown", lsoa_unknown("LSOA11")),
        ("epiorder_invalid", code("EPIORDER", ["0", "1.5"])),
    ), missing_column="ADMIDATE"),
    "hes_ae": FeedDefects((
        ("key_missing", key_missing("AEKEY")),
        ("key_duplicate_in_delivery", key_duplicate("AEKEY")),
        ("date_invalid", date_invalid("ARRIVALDATE")),
        ("date_ddmmyyyy_valid", date_ddmmyyyy("ARRIVALDATE")),
        ("date_future", date_future("ARRIVALDATE")),
        ("code_unknown", code_one_of([("AEATTENDCAT", "5"), ("AEDEPTTYPE", "07")])),
        ("age_invalid", ages("ARRIVALAGE")),
        ("nhs_number_invalid", nhs_invalid("NHSNUMBER")),
        ("residence_unknown", lsoa_unknown("LSOA11")),
    ), missing_column="ARRIVALDATE"),
    "ambulance": FeedDefects((
        ("key_missing", key_missing("INCIDENT_ID")),
        ("key_duplicate_in_delivery", key_duplicate("INCIDENT_ID")),
        ("date_invalid", date_invalid("CALL_DATETIME", with_time=True)),
        ("date_future", date_future("CALL_DATETIME", with_time=True)),
        ("code_invalid", code_one_of([("LOCATION_TYPE", "NURSING_HOME"), ("OUTCOME", "CONVEYED")])),
        ("code_unknown", code("CATEGORY", ["6"])),
        ("age_invalid", ages("PATIENT_AGE")),
        ("nhs_number_invalid", nhs_invalid("NHSNUMBER")),
        ("residence_unknown", lsoa_unknown("INCIDENT_LSOA11")),
    ), missing_column="OUTCOME"),
    "social_care": FeedDefects((
        ("key_missing", key_missing("Event_Reference")),
        ("key_duplicate_in_delivery", key_duplicate("Event_Reference")),
        ("date_invalid", date_invalid("Event_Start_Date")),
        ("date_ddmmyyyy_valid", date_ddmmyyyy("Event_Start_Date", "Event_End_Date", "Date_of_Birth", "Hospital_Discharge_Date",
                                              "Date_of_Death")),
        ("date_order", date_order("Event_Start_Date", "Event_End_Date")),
        ("date_future", date_future("Event_Start_Date", blank=("Event_End_Date", "Date_of_Death"))),
        ("code_invalid", code_one_of([("Event_Type", "Enquiry"), ("Client_Type", "Visitor")])),
        ("code_unknown", code_one_of([("Route_of_Access", "Walk-in"), ("Gender", "M")])),
        ("nhs_number_invalid", nhs_invalid("NHS_Number")),
        ("residence_unknown", lsoa_unknown("LSOA11")),
        ("dob_after_start", dob_after_start("Date_of_Birth", "Event_Start_Date")),
    ), missing_column="Event_Type"),
    "dtoc": FeedDefects((
        ("key_duplicate_in_delivery", key_duplicate("Provider_Code", "Agency", "Type_of_Care", "Reason")),
        ("required_missing", code("Reason", [""])),
        ("code_invalid", code_one_of([("Agency", "Council"), ("Type_of_Care", "Sub-Acute"), ("Reason", "Z")])),
        ("days_negative", code("Delayed_Days", ["-4", "-1"])),
        ("days_non_integer", code("Delayed_Days", ["2.5", "0.5"])),
        ("date_invalid", code("Period", ["2018-13"])),
    ), missing_column="Delayed_Days"),
    "population": FeedDefects((
        ("total_mismatch", population_total_mismatch),
        ("count_negative", population_bad_count("-5.0")),
        ("count_non_numeric", population_bad_count("x")),
    ), missing_column="total_population"),
    "finance": FeedDefects((
        ("code_invalid", code_one_of([("funding_source", "LOTTERY"), ("line_type", "TRANSFER")])),
        ("amount_out_of_range", code("plan_amount", ["-500.00", "250000000.00"])),
        ("quarter_invalid", code("quarter", ["5"])),
        ("required_missing", code("scheme_id", [""])),
    ), missing_column="plan_amount"),
    "plan": FeedDefects((
        ("quarter_invalid", code("quarter", ["0"])),
        ("metric_unknown", code("metric_id", ["dash_unknown"])),
        ("target_non_numeric", code("target", ["tbc"])),
        ("required_missing", code("metric_id", [""])),
    ), missing_column="target"),
}


def plant(feed: str, frame: pd.DataFrame, rate: float, rng: np.random.Generator,
          protect: np.ndarray | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Replace about `rate` of the rows (at least one of each kind) with bad rows."""
    spec = FEEDS[feed]
    counts = {name: 0 for name, _ in spec.kinds}
    candidates = np.arange(len(frame)) if protect is None else np.flatnonzero(~protect)
    if rate <= 0 or not len(candidates):
        return frame, counts
    k = len(spec.kinds)
    n = min(len(candidates), max(k, int(round(rate * len(frame)))))
    rows = np.sort(rng.choice(candidates, size=n, replace=False))
    which = rng.permutation(n) % k
    cache: dict[str, np.ndarray] = {}
    for i, (name, fn) in enumerate(spec.kinds):
        chosen = rows[which == i]
        if len(chosen):
            fn(_Ctx(frame, chosen, rng, cache))
            counts[name] = len(chosen)
    frame = frame.copy()
    for col, values in cache.items():
        frame[col] = values
    return frame, counts


def missing_column_delivery(feed: str, frame: pd.DataFrame, rng: np.random.Generator, move: bool = True,
                            rows: int = 20) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Split a few rows of the first delivery into an extra delivery that lacks a required column.

    Returns (remaining frame, rejected delivery frame, dropped column). Its file name is the source
    delivery's with `_incomplete` before `.csv` (and a later time of day when it has a timestamp).
    """
    column = FEEDS[feed].missing_column
    first = frame["_delivery"].min()
    idx = np.flatnonzero((frame["_delivery"] == first).to_numpy())
    take = np.sort(rng.choice(idx, size=min(rows, len(idx)), replace=False))
    bad = frame.iloc[take].drop(columns=[column]).copy()
    name = first[:-4] + "_incomplete.csv"
    if len(name) > 14 and name[:8].isdigit() and name[8] == "T":
        name = name[:9] + "2300" + name[13:]
    bad["_delivery"] = name
    remaining = frame.drop(index=frame.index[take]).reset_index(drop=True) if move else frame
    return remaining, bad, column
