"""The dtoc contract of feeds.md as a FeedSpec: delayed transfers of care, monthly, long form.

Belongs here: the columns, key, code lists and rules of the dtoc feed, and the period's start
date. Does not: how rules run (cb_pipeline/lib/ingest) or how delayed days become a metric
(dbt_like_sql).

Key: every column but Delayed_Days, so a later delivery's row for the same month, provider, local
authority, agency, type of care and reason supersedes the earlier one (a revised sitrep). Every
value is required. `Period` (`YYYY-MM`) is kept as text and also stored as `period_start`, the
first day of the month, so SQL can compare dates. feeds.md lists no date_future rule for this
aggregate feed, so none is applied.
"""

import pandas as pd

from cb_pipeline.lib.ingest.spec import Column, Context, FeedSpec, Rule

AGENCY = frozenset({"NHS", "Social Care", "Both"})
TYPE_OF_CARE = frozenset({"Acute", "Non-Acute"})
REASON = frozenset({"A", "B", "C", "D(i)", "D(ii)", "E", "F", "G", "H", "I", "Other"})


def _period_start(frame: pd.DataFrame) -> pd.Series:
    text = frame["period"]
    ok = text.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", na=False)
    return pd.to_datetime((text + "-01").where(ok), format="%Y-%m-%d", errors="coerce")


def _rules(spec: FeedSpec, ctx: Context) -> list[Rule]:
    return [
        Rule("date_invalid", "fatal", "Period", "Period is missing or not a month YYYY-MM", "send Period as YYYY-MM",
             lambda f: _period_start(f).notna()),
        # One rule for missing, non-integer and negative, so the row carries one reason for the column.
        Rule("value_invalid", "fatal", "Delayed_Days", "Delayed_Days is missing, not a whole number or negative",
             "send Delayed_Days as a whole number of days, 0 or more",
             lambda f: (f["delayed_days"] >= 0).fillna(False).astype(bool)),
    ]


SPEC = FeedSpec(
    name="dtoc",
    description="Delayed transfers of care: delayed days per month, provider, local authority, agency, type of care and reason.",
    key=("Period", "Provider_Code", "LA_Code", "Agency", "Type_of_Care", "Reason"),
    patient_level=False,
    extra_rules=_rules,
    derive=lambda f: {"period_start": _period_start(f)},
    derived_columns=(("period_start", "date"),),
    columns=(
        Column("Period", required=True, mandatory=False, generic_rules=False),  # its own date_invalid rule
        Column("Provider_Code", required=True, mandatory=True),
        Column("LA_Code", required=True, mandatory=True),
        Column("Agency", "code", required=True, codes=AGENCY, code_list_name="agency"),
        Column("Type_of_Care", "code", required=True, codes=TYPE_OF_CARE, code_list_name="type of care"),
        Column("Reason", "code", required=True, codes=REASON, code_list_name="delay reason"),
        Column("Delayed_Days", "whole", required=True, generic_rules=False),
    ),
)
