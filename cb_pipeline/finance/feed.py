"""The finance contract of feeds.md as a FeedSpec: pooled budget income and expenditure lines.

Belongs here: the columns, key, code lists and rules of the finance feed. Does not: how rules run
(cb_pipeline/lib/ingest) or how the return reports the budget (dbt_like_sql, bcf_return).

feeds.md names no key for this feed; a line is identified by HWB, financial year, quarter,
scheme, line type and funding source (a scheme funded from two sources has two lines), and a later
delivery's line with that key supersedes the earlier one (a restated quarter). Every value is
required except `actual_amount`, which may be empty (NULL = not yet known) but, when present,
must be valid like `plan_amount`: pounds with at most 2 decimal places, 0 to 100,000,000.
"""

import pandas as pd

from cb_pipeline.lib.ingest.spec import Column, Context, FeedSpec, Rule
from cb_pipeline.plan.feed import _fy_ok

LINE_TYPE = frozenset({"INCOME", "EXPENDITURE"})
FUNDING_SOURCE = frozenset({"CCG_MINIMUM", "DFG", "IBCF", "ADDITIONAL_LA", "ADDITIONAL_CCG"})
MAX_AMOUNT = 100_000_000


def _amount_ok(f: pd.DataFrame, col: str) -> pd.Series:
    """Present values: plain pounds (`1234`, `1234.5`, `1234.56`) in 0..MAX_AMOUNT."""
    text = f[f"_text_{col}"]
    pounds = text.str.fullmatch(r"\d+(\.\d{1,2})?", na=False)
    return pounds & f[col].between(0, MAX_AMOUNT).fillna(False).astype(bool)


def _rules(spec: FeedSpec, ctx: Context) -> list[Rule]:
    what = "pounds with at most 2 decimal places, from 0 to 100,000,000"
    return [
        Rule("value_invalid", "fatal", "financial_year", "financial_year is not a financial year like 2018-19",
             "send financial_year as YYYY-YY", lambda f: _fy_ok(f["financial_year"])),
        Rule("value_invalid", "fatal", "quarter", "quarter is not 1, 2, 3 or 4", "send quarter as 1-4",
             lambda f: f["quarter"].isin([1, 2, 3, 4]).fillna(False).astype(bool)),
        Rule("value_invalid", "fatal", "plan_amount", f"plan_amount is missing or not {what}",
             f"send plan_amount as {what}", lambda f: _amount_ok(f, "plan_amount")),
        Rule("value_invalid", "fatal", "actual_amount", f"actual_amount is not {what} (it may be empty)",
             f"send actual_amount as {what}, or leave it empty",
             lambda f: f["_text_actual_amount"].isna() | _amount_ok(f, "actual_amount")),
    ]


SPEC = FeedSpec(
    name="finance",
    description="Pooled budget: planned and actual income and expenditure per HWB, quarter, scheme and funding source.",
    key=("hwb_code", "financial_year", "quarter", "scheme_id", "line_type", "funding_source"),
    patient_level=False,
    extra_rules=_rules,
    columns=(
        Column("hwb_code", required=True, mandatory=True),
        Column("financial_year", required=True, generic_rules=False),
        Column("quarter", "whole", required=True, generic_rules=False),
        Column("scheme_id", required=True, mandatory=True),
        Column("scheme_name", required=True, mandatory=True),
        Column("line_type", "code", required=True, codes=LINE_TYPE, code_list_name="line type"),
        Column("funding_source", "code", required=True, codes=FUNDING_SOURCE, code_list_name="funding source"),
        Column("plan_amount", "number", required=True, generic_rules=False),
        Column("actual_amount", "number", required=True, generic_rules=False),
    ),
)
