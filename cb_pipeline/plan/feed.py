"""The plan contract of feeds.md: quarterly trajectories and dashboard targets per HWB and metric.

Belongs here: columns, key and rules of the plan feed. Does not: how targets are used (SQL models).
"""

import pandas as pd

from cb_pipeline.lib.ingest import codes
from cb_pipeline.lib.ingest.spec import Column, Context, FeedSpec, Rule


def _rules(spec: FeedSpec, ctx: Context) -> list[Rule]:
    return [
        Rule("value_invalid", "fatal", "FINANCIAL_YEAR", "financial_year is not a financial year like 2018-19",
             "send financial_year as YYYY-YY",
             lambda f: _fy_ok(f["financial_year"])),
        Rule("value_invalid", "fatal", "QUARTER", "quarter is not 1, 2, 3 or 4", "send quarter as 1-4",
             lambda f: f["quarter"].isin([1, 2, 3, 4]).fillna(False).astype(bool)),
        Rule("value_invalid", "fatal", "TARGET", "target is missing, not a number or negative",
             "send target as a number in the metric's plan unit", lambda f: (f["target"] >= 0).fillna(False).astype(bool)),
    ]


def _fy_ok(fy: pd.Series) -> pd.Series:
    ok = fy.str.fullmatch(r"\d{4}-\d{2}", na=False)
    start = pd.to_numeric(fy.str.slice(0, 4).where(ok), errors="coerce")
    end = pd.to_numeric(fy.str.slice(5, 7).where(ok), errors="coerce")
    return (((start + 1) % 100) == end).fillna(False).astype(bool)


SPEC = FeedSpec(
    name="plan",
    description="Plan trajectories and dashboard targets: one row per HWB, FY quarter and metric.",
    key=("HWB_CODE", "FINANCIAL_YEAR", "QUARTER", "METRIC_ID"),
    patient_level=False,
    extra_rules=_rules,
    columns=(
        Column("HWB_CODE", required=True, mandatory=True),
        Column("FINANCIAL_YEAR", required=True, mandatory=True),
        Column("QUARTER", "whole", required=True, mandatory=True),
        Column("METRIC_ID", "code", required=True, codes=codes.METRIC_IDS, code_list_name="metric id (metrics.md)"),
        Column("TARGET", "number", required=True, mandatory=True),
    ),
)
