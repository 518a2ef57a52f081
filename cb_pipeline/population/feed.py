"""The population contract of feeds.md: ONS single-year-of-age tables (wide), loaded long.

Belongs here: finding the area, name, total and age columns in the shapes ONS publishes, the
mid-year from a column or the file name, the count and total rules, and the wide-to-long reshape.
Does not: choosing which mid-year a metric uses (dbt_like_sql/intermediate/int_population__*).
"""

import re

import numpy as np
import pandas as pd

from cb_pipeline.lib.ingest.spec import Column, Context, FeedSpec, Rule

AGES = [str(a) for a in range(90)] + ["90"]
AGE_COLUMNS = tuple(Column(f"AGE_{a}", "number", required=True, generic_rules=False) for a in AGES)
TOTAL_NAMES = ("all_ages", "total_population", "all ages")
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")


def _resolve_header(header: list[str], file_name: str) -> tuple[dict[str, str], list[str]]:
    by_lower = {h.strip().lower(): h for h in header}
    mapping: dict[str, str] = {}
    code = by_lower.get("area_code") or next((h for lo, h in by_lower.items() if lo.endswith("_code")), None) \
        or by_lower.get("code")
    if code:
        mapping["AREA_CODE"] = code
    name = by_lower.get("area_name") or next((h for lo, h in by_lower.items() if lo.endswith("_name")), None) \
        or by_lower.get("name")
    if name:
        mapping["AREA_NAME"] = name
    total = next((by_lower[t] for t in TOTAL_NAMES if t in by_lower), None)
    if total:
        mapping["TOTAL"] = total
    if "mid_year" in by_lower:
        mapping["MID_YEAR"] = by_lower["mid_year"]
    for age in AGES:
        delivered = by_lower.get("90+") if age == "90" and "90+" in by_lower else by_lower.get(age)
        if delivered:
            mapping[f"AGE_{age}"] = delivered
    missing = []
    if "AREA_CODE" not in mapping:
        missing.append("an area code column (area_code, *_code or Code)")
    if "TOTAL" not in mapping:
        missing.append("a total column (all_ages, total_population or All ages)")
    missing += [("90+ (or 90)" if a == "90" else a) for a in AGES if f"AGE_{a}" not in mapping]
    return mapping, missing


def _file_defaults(file_name: str) -> dict:
    years = _YEAR.findall(file_name)
    match = _YEAR.search(file_name)
    return {"MID_YEAR": match.group(0) if years else None}


def _ages(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[f"age_{a}" for a in AGES]]


def _rules(spec: FeedSpec, ctx: Context) -> list[Rule]:
    def counts_ok(f: pd.DataFrame) -> pd.Series:
        values = pd.concat([_ages(f), f[["total"]]], axis=1)
        return (values.notna() & (values >= 0)).all(axis=1).astype(bool)

    def total_ok(f: pd.DataFrame) -> pd.Series:
        diff = (f["total"] - _ages(f).sum(axis=1, skipna=False)).abs()
        return (diff <= 1).fillna(True).astype(bool)  # a non-numeric count is count_invalid's to report

    return [
        Rule("count_invalid", "fatal", "", "a count (an age or the total) is missing, not a number or negative",
             "send every count as a number 0 or more", counts_ok),
        Rule("total_mismatch", "fatal", "TOTAL", "the total differs from the sum of the ages by more than 1",
             "send the total that the single years of age add up to", total_ok),
        Rule("value_invalid", "fatal", "MID_YEAR", "mid_year is not a year", "send mid_year as a four-digit year",
             lambda f: f["mid_year"].between(1900, 2100).fillna(False).astype(bool)),
    ]


def _reshape(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per area and single year of age (90 = 90 and over)."""
    n = len(frame)
    ages = _ages(frame).to_numpy(dtype=float)
    return pd.DataFrame({
        "_source_index": np.repeat(frame.index.to_numpy(), len(AGES)),
        "area_code": np.repeat(frame["area_code"].str.upper().to_numpy(dtype=object), len(AGES)),
        "area_name": np.repeat(frame["area_name"].to_numpy(dtype=object, na_value=None), len(AGES)),
        "mid_year": np.repeat(frame["mid_year"].to_numpy(dtype="int64"), len(AGES)),
        "age": np.tile(np.arange(len(AGES), dtype=np.int64), n),
        "population": ages.reshape(-1),
    })


SPEC = FeedSpec(
    name="population",
    description="ONS mid-year population estimates by single year of age, one input row per area (loaded long).",
    key=("AREA_CODE", "MID_YEAR"),
    patient_level=False,
    extra_rules=_rules,
    resolve_header=_resolve_header,
    file_defaults=_file_defaults,
    reshape=_reshape,
    reshape_columns=(("area_code", "varchar"), ("area_name", "varchar"), ("mid_year", "integer"), ("age", "integer"),
                     ("population", "double precision")),
    supersede_key=("area_code", "mid_year"),
    columns=(
        Column("AREA_CODE", required=True, mandatory=True),
        Column("AREA_NAME"),
        Column("MID_YEAR", "whole", generic_rules=False),
        Column("TOTAL", "number", required=True, generic_rules=False),
    ) + AGE_COLUMNS,
)
