"""Synthetic delayed transfers of care (feed `dtoc`): the monthly situation report in long form.

Belongs here: delayed days by month, provider, council, agency, type of care and reason for
one unit, the monthly deliveries, and the revised delivery that re-sends a few keys with
corrected days. Does not: defects (defects.py) or writing (writer.py).
"""

import numpy as np
import pandas as pd

from . import calibration as cal
from .unit import Unit, timestamp
from .vectors import DAY, choose, fmt_ints, monthly_counts

COLUMNS = ["Period", "Provider_Code", "LA_Code", "Agency", "Type_of_Care", "Reason", "Delayed_Days"]
KEY_COLUMNS = COLUMNS[:-1]


def _delivery(month) -> tuple[str, np.datetime64]:
    run = month.next_start + 11 * DAY
    return f"{timestamp(run, '0930')}_dtoc_{month.label}.csv", run


def generate(unit: Unit) -> pd.DataFrame:
    rng = unit.rng("dtoc")
    totals = monthly_counts(rng, cal.DELAYED_DAYS, unit.months, cal.SEASON_DTOC, unit.factor)
    pop = unit.hwb.population(unit.mid_year).sum(axis=1).astype(float)
    acute_mix = (cal.PROVIDER_MIX[unit.hwb.pattern] * pop[:, None]).sum(axis=0)
    acute_mix /= acute_mix.sum()
    parts = []
    for month, total in zip(unit.months, totals):
        k = 6 + int(rng.poisson(14))
        non_acute = rng.random(k) < cal.DTOC_NON_ACUTE_SHARE
        provider = np.where(non_acute, np.asarray(cal.NON_ACUTE_PROVIDERS, dtype=object)[rng.integers(0, len(cal.NON_ACUTE_PROVIDERS), k)],
                            np.asarray(cal.ACUTE_PROVIDERS, dtype=object)[rng.choice(len(acute_mix), size=k, p=acute_mix)])
        combos = pd.DataFrame({
            "Provider_Code": provider, "Agency": choose(rng, cal.DTOC_AGENCY, k),
            "Type_of_Care": np.where(non_acute, "Non-Acute", "Acute"), "Reason": choose(rng, cal.DTOC_REASONS, k),
        }).drop_duplicates().reset_index(drop=True)
        days = rng.multinomial(int(total), rng.dirichlet(np.full(len(combos), 0.8)))
        combos["Delayed_Days"] = days
        combos = combos[combos["Delayed_Days"] > 0]
        combos.insert(0, "Period", month.label)
        combos.insert(2, "LA_Code", unit.hwb.la_code)
        combos["_delivery"], combos["_run"] = _delivery(month)
        parts.append(combos)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS + ["_delivery", "_run"])
    frame["Delayed_Days"] = fmt_ints(frame["Delayed_Days"].to_numpy())
    frame["_run"] = frame["_run"].astype("datetime64[s]")
    return frame.sort_values(["_delivery", "Provider_Code", "Agency", "Type_of_Care", "Reason"], kind="stable").reset_index(drop=True)


def correction(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A revised return for the first month: a few rows re-sent with corrected days."""
    first = frame["_delivery"] == frame["_delivery"].min()
    idx = np.flatnonzero(first.to_numpy())
    pick = np.sort(rng.choice(idx, size=min(5, len(idx)), replace=False)) if len(idx) else idx
    resend = frame.iloc[pick].copy()
    if len(resend):
        run = resend["_run"].max() + 30 * DAY
        period = resend["Period"].iloc[0]
        resend["_delivery"] = f"{timestamp(run, '1200')}_dtoc_{period}_revised.csv"
        resend["_run"] = run
        days = resend["Delayed_Days"].astype(int).to_numpy()
        resend["Delayed_Days"] = fmt_ints(np.maximum(days + rng.integers(-3, 6, len(days)), 0))
    return frame, resend
