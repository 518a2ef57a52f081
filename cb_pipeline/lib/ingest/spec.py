"""How a feed is declared (FeedSpec, Column) and how its declaration becomes rules and pandera schemas.

Belongs here: the generic column kinds of feeds.md (dates, ages, codes, NHS numbers, LSOAs, keys)
and the common rules they imply, each rule a pandera Check named by its rule id. Does not: read
files or write tables (reader.py, engine.py), or any one feed's columns (`cb_pipeline/<feed>/feed.py`).

A rule's check receives the *prepared* frame (typed columns under the spec's lower-case names,
plus `_text_<col>` for the cleaned delivered text) and returns True where the row passes.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd
import pandera.pandas as pa
import pyarrow  # spelt out: `pa` is pandera in this module
import pyarrow.compute as pc

from . import values as v

KINDS = ("text", "code", "date", "datetime", "age", "positive_whole", "whole", "number", "time",
         "nhs_number", "lsoa", "diag")


@dataclass(frozen=True)
class Column:
    """One column of feeds.md.

    `required`: the column must be in the delivery's header (else the delivery is rejected).
    `mandatory`: a missing or invalid value is fatal (defaults to `required` for dates, ages and
    codes, the cases feeds.md makes fatal; text is never fatal unless a feed says so).
    """

    name: str
    kind: str = "text"
    required: bool = False
    mandatory: bool | None = None
    codes: frozenset[str] | None = None
    code_list_name: str = ""
    # False when the feed's own rules cover this column (population's counts), to avoid double reasons.
    generic_rules: bool = True
    # False: read for rules and `derive` only, then dropped; written to no table, not even quarantine
    # (dates of birth: feeds.md reduces them to ages at ingest).
    keep: bool = True
    # (column, value): a code column that is mandatory only on rows where that column holds that
    # value (social care's Service_Type for Event_Type = Service); elsewhere an unknown value is a warning.
    mandatory_when: tuple[str, str] | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind}")
        if self.kind == "code" and not self.codes:
            raise ValueError(f"{self.name}: a code column needs its code list")
        if self.mandatory_when is not None and self.kind != "code":
            raise ValueError(f"{self.name}: mandatory_when is implemented for code columns only")

    @property
    def field(self) -> str:
        return self.name.lower()

    @property
    def is_mandatory(self) -> bool:
        if self.mandatory is not None:
            return self.mandatory
        return self.required and self.kind in ("date", "datetime", "age", "code", "positive_whole")


@dataclass(frozen=True)
class Rule:
    """A row rule of feeds.md. `check(frame) -> bool Series`, True = the row passes."""

    id: str
    kind: str  # "fatal" or "warning"
    column: str  # the column it is about ("" for row-level rules)
    message: str  # plain words, shown with the file and row
    fix: str  # what would fix it
    check: Callable[[pd.DataFrame], pd.Series]
    # Set by FeedSpec.rules when two rules share id and column, so each keeps its own check.
    tag: str = ""

    @property
    def check_name(self) -> str:
        base = f"{self.id}:{self.column}" if self.column else self.id
        return f"{base}#{self.tag}" if self.tag else base


@dataclass
class Context:
    """What rules may depend on besides the row itself."""

    run_date: dt.date
    known_lsoas: frozenset[str] = frozenset()
    duplicate_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FeedSpec:
    """A feed of feeds.md. `key` names the columns of the record key; `fallback_person_id` the
    column used for `person_key` when there is no valid NHS number (with an optional prefix column,
    e.g. the council code for social care)."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    patient_level: bool = True
    fallback_person_id: str | None = None
    fallback_person_source: str | None = None
    fallback_prefix_column: str | None = None
    date_order: tuple[tuple[str, str], ...] = ()
    extra_rules: Callable[["FeedSpec", Context], list[Rule]] | None = None
    # Population-like feeds reshape their valid rows before loading (wide ages -> long).
    reshape: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    # Header mapping hook for feeds whose column names vary (population): (header, file) -> mapping.
    resolve_header: Callable[[list[str], str], tuple[dict[str, str], list[str]]] | None = None
    reshape_columns: tuple[tuple[str, str], ...] = ()
    # Output columns identifying "the same record" across deliveries, when not the key's columns.
    supersede_key: tuple[str, ...] = ()
    # Values a delivery's file name supplies for absent columns (population's mid-year): name -> value.
    file_defaults: Callable[[str], dict] | None = None
    # Extra output columns computed from the prepared valid rows (ages from a date of birth, a
    # period's start date): derive(frame) -> {name: Series}; their (name, SQL type) in derived_columns.
    derive: Callable[[pd.DataFrame], dict[str, pd.Series]] | None = None
    derived_columns: tuple[tuple[str, str], ...] = ()
    description: str = ""

    @property
    def table(self) -> str:
        return f"ingest_{self.name}"

    @property
    def quarantine_table(self) -> str:
        return f"quarantine_{self.name}"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def nhs_column(self) -> Column | None:
        return next((c for c in self.columns if c.kind == "nhs_number"), None)

    def map_header(self, header: list[str], file_name: str) -> tuple[dict[str, str], list[str]]:
        """Spec column name -> delivered column name (case-insensitive), and the missing required ones."""
        if self.resolve_header is not None:
            return self.resolve_header(header, file_name)
        by_lower = {h.strip().lower(): h for h in header}
        mapping = {c.name: by_lower[c.field] for c in self.columns if c.field in by_lower}
        missing = [c.name for c in self.columns if c.required and c.name not in mapping]
        return mapping, missing

    def rules(self, ctx: Context) -> list[Rule]:
        rules = common_rules(self, ctx) + (self.extra_rules(self, ctx) if self.extra_rules else [])
        seen: dict[str, int] = {}
        unique = []
        for rule in rules:
            n = seen.get(rule.check_name, 0)
            seen[rule.check_name] = n + 1
            unique.append(replace(rule, tag=str(n + 1)) if n else rule)
        return unique

    def schemas(self, ctx: Context) -> dict[str, pa.DataFrameSchema]:
        """The feed's rules as two pandera schemas, `fatal` and `warning` (checks named by rule id)."""
        out = {}
        for kind in ("fatal", "warning"):
            out[kind] = pa.DataFrameSchema(
                name=f"{self.name}_{kind}",
                checks=[pa.Check(r.check, name=r.check_name, error=r.message) for r in self.rules(ctx) if r.kind == kind],
            )
        return out


# ------------------------------------------------------------------ preparing a frame


def prepare(spec: FeedSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """Cleaned text and typed values for every column the delivery has (missing columns are NA)."""
    out = {}
    n = len(raw)
    index = raw.index
    for col in spec.columns:
        # Cleaned and parsed as pyarrow arrays (values.py), then wrapped once as pandas columns.
        text = v.clean_text(raw[col.name]) if col.name in raw else pyarrow.nulls(n, type=pyarrow.large_string())
        out[f"_text_{col.field}"] = v.string_series(text, index)
        out[col.field] = out[f"_text_{col.field}"] if col.kind == "text" else pd.Series(_typed(col, text), index=index)
    frame = pd.DataFrame(out, index=index)
    assert len(frame) == n
    return frame


def _typed(col: Column, text: pyarrow.Array):
    """The column's typed values: datetime64[s], Int64, Float64 or `string` (an array, no index)."""
    if col.kind == "datetime":
        return v.parse_datetimes(text)
    if col.kind == "date":
        return v.parse_dates(text)
    if col.kind == "age":
        return v.parse_ages(text)
    if col.kind in ("whole", "positive_whole"):
        return v.parse_whole_numbers(text)
    if col.kind == "number":
        return v.parse_numbers(text)
    if col.kind == "time":
        text = v.parse_times(text)
    elif col.kind == "code":
        text = v.parse_codes(text, col.codes)
    elif col.kind in ("lsoa", "diag"):
        text = pc.utf8_upper(text)
    elif col.kind == "nhs_number":
        text = v.normalise_nhs_numbers(text)
    return v.string_array(text)


# ------------------------------------------------------------------ the common rules


def _present(frame: pd.DataFrame, col: Column) -> pd.Series:
    return frame[f"_text_{col.field}"].notna()


def _valid(frame: pd.DataFrame, col: Column) -> pd.Series:
    return frame[col.field].notna()


def key_series(spec: FeedSpec, frame: pd.DataFrame) -> pd.Series:
    """The record key as one text value (columns joined by a unit separator); NA if any part is missing."""
    parts = [frame[f"_text_{spec.column(k).field}"] for k in spec.key]
    key = parts[0]
    for p in parts[1:]:
        key = key + "\x1f" + p
    return key


def common_rules(spec: FeedSpec, ctx: Context) -> list[Rule]:
    rules: list[Rule] = []
    key_names = "+".join(spec.key)
    rules.append(Rule(
        "key_missing", "fatal", key_names, f"the record key {key_names} is empty",
        f"give every row its {key_names}", lambda f: key_series(spec, f).notna()))
    # The set as a pyarrow array once, not per batch (pandas' isin converts a set value by value).
    dups = v.value_set(ctx.duplicate_keys)
    rules.append(Rule(
        "key_duplicate_in_delivery", "fatal", key_names,
        f"the record key {key_names} appears more than once in this delivery (every copy is quarantined)",
        "send each record once per delivery", lambda f: ~v.isin(key_series(spec, f), dups)))
    run_ts = pd.Timestamp(ctx.run_date)
    for col in spec.columns:
        if col.generic_rules:
            rules.extend(_column_rules(col, ctx, run_ts))
    for start, end in spec.date_order:
        s, e = spec.column(start), spec.column(end)
        rules.append(Rule(
            "date_order", "fatal", e.name, f"{e.name} is before {s.name}", f"correct {s.name} or {e.name}",
            lambda f, s=s, e=e: ~(f[e.field] < f[s.field]).fillna(False).astype(bool)))
    return rules


def _column_rules(col: Column, ctx: Context, run_ts: pd.Timestamp) -> list[Rule]:
    name, kind = col.name, col.kind
    present = lambda f, c=col: _present(f, c)  # noqa: E731
    bad_when_present = lambda f, c=col: ~(_present(f, c) & ~_valid(f, c))  # noqa: E731
    must_be_valid = lambda f, c=col: _valid(f, c)  # noqa: E731
    out: list[Rule] = []
    if kind in ("date", "datetime"):
        fmt = "YYYY-MM-DD" + (" HH:MM[:SS]" if kind == "datetime" else "") + " (or DD/MM/YYYY)"
        if col.is_mandatory:
            out.append(Rule("date_invalid", "fatal", name, f"{name} is missing or not a date in {fmt}",
                            f"send {name} as {fmt}", must_be_valid))
        else:
            out.append(Rule("optional_value_invalid", "warning", name,
                            f"{name} is not a date in {fmt}; treated as missing", f"send {name} as {fmt}",
                            bad_when_present))
        out.append(Rule("date_future", "fatal", name, f"{name} is after the delivery's run date {ctx.run_date}",
                        f"correct {name}, or check the run date in the file name",
                        lambda f, c=col: ~(f[c.field] > run_ts).fillna(False).astype(bool)))
    elif kind == "age":
        what = f"{name} is missing, not a whole number of years, negative or above 120 (7001-7007 mean under one)"
        if col.is_mandatory:
            out.append(Rule("age_invalid", "fatal", name, what, f"send {name} in whole years 0-120", must_be_valid))
        else:
            out.append(Rule("age_invalid", "warning", name, what + "; treated as missing",
                            f"send {name} in whole years 0-120", bad_when_present))
    elif kind == "code":
        allowed = ", ".join(sorted(col.codes))
        if col.mandatory_when is not None:
            other, value = col.mandatory_when
            when = lambda f, o=other.lower(), x=value: (f[o] == x).fillna(False).astype(bool)  # noqa: E731
            out.append(Rule("code_invalid", "fatal", name,
                            f"{name} is missing or not one of: {allowed} (required when {other} is {value})",
                            f"send one of the {col.code_list_name or name} codes", lambda f, c=col, w=when:
                            ~w(f) | _valid(f, c)))
            out.append(Rule("code_unknown", "warning", name, f"{name} is not one of: {allowed}; treated as missing",
                            f"send one of the {col.code_list_name or name} codes",
                            lambda f, c=col, w=when: w(f) | ~(_present(f, c) & ~_valid(f, c))))
        elif col.is_mandatory:
            out.append(Rule("code_invalid", "fatal", name, f"{name} is missing or not one of: {allowed}",
                            f"send one of the {col.code_list_name or name} codes", must_be_valid))
        else:
            out.append(Rule("code_unknown", "warning", name, f"{name} is not one of: {allowed}; treated as missing",
                            f"send one of the {col.code_list_name or name} codes", bad_when_present))
    elif kind in ("positive_whole", "whole", "number"):
        what = {"positive_whole": "a positive whole number", "whole": "a whole number", "number": "a number"}[kind]
        if kind == "positive_whole":
            valid = lambda f, c=col: (f[c.field] > 0).fillna(False).astype(bool)  # noqa: E731
        else:
            valid = must_be_valid
        if col.is_mandatory:
            out.append(Rule("value_invalid", "fatal", name, f"{name} is missing or not {what}",
                            f"send {name} as {what}", valid))
        else:
            out.append(Rule("optional_value_invalid", "warning", name, f"{name} is not {what}; treated as missing",
                            f"send {name} as {what}", lambda f, c=col, ok=valid: ~present(f) | ok(f)))
    elif kind == "time":
        out.append(Rule("optional_value_invalid", "warning", name, f"{name} is not a time HHMM or HH:MM; treated as missing",
                        f"send {name} as HHMM", bad_when_present))
    elif kind == "nhs_number":
        out.append(Rule("nhs_number_invalid", "warning", name,
                        f"{name} is not 10 digits passing the modulus 11 check; the fallback id is used",
                        f"check {name} with the supplier", lambda f, c=col: ~present(f) | v.nhs_number_valid(f[c.field])))
    elif kind == "lsoa":
        known = v.value_set(ctx.known_lsoas)
        out.append(Rule("residence_unknown", "warning", name,
                        f"{name} is missing or not in the reference lookup; the row counts for no HWB",
                        f"send the 2011 LSOA of residence in {name}",
                        lambda f, c=col: v.isin(f[c.field], known)))
    elif col.is_mandatory:
        out.append(Rule("value_missing", "fatal", name, f"{name} is empty", f"send {name}", present))
    return out
