"""Synthetic pooled budget (feed `finance`) and plan trajectories / dashboard targets (feed `plan`).

Belongs here: the BCF schemes' quarterly planned and actual income and expenditure of one
unit, and the quarterly targets (in each metric's plan unit: counts per quarter, `reab` a
percentage) derived from the calibration volumes with a little ambition. Does not: metric
definitions (metrics.md and the SQL models), defects (defects.py) or writing (writer.py).
"""

import numpy as np
import pandas as pd

from . import calibration as cal
from .unit import Unit, timestamp
from .vectors import DAY, Month, fy_label, monthly_expected

FINANCE_COLUMNS = ["hwb_code", "financial_year", "quarter", "scheme_id", "scheme_name", "line_type", "funding_source",
                   "plan_amount", "actual_amount"]
PLAN_COLUMNS = ["hwb_code", "financial_year", "quarter", "metric_id", "target"]
FUNDING_SOURCES = list(cal.FUNDING_ANNUAL)


def _money(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.2f", np.round(values, 2)).astype(object)


def _quarters(unit: Unit) -> list[int]:
    return sorted({m.fy_quarter for m in unit.months})


def finance(unit: Unit) -> pd.DataFrame:
    rng = unit.rng("finance")
    size = unit.hwb.volume_factor(unit.fy) * (1.03 ** (unit.fy - cal.FIRST_CALIBRATED_FY))
    parts = []
    for q in _quarters(unit):
        rows = []
        for source, annual in cal.FUNDING_ANNUAL.items():
            plan = annual * size / 4
            rows.append(("INC", "Pooled fund contributions", "INCOME", source, plan, plan * rng.normal(1.0, 0.005)))
        for scheme_id, name, source, share in cal.SCHEMES:
            plan = cal.FUNDING_ANNUAL[source] * share * size / 4 * rng.normal(1.0, 0.03)
            rows.append((scheme_id, name, "EXPENDITURE", source, plan, plan * rng.normal(1.0, 0.05)))
        frame = pd.DataFrame(rows, columns=["scheme_id", "scheme_name", "line_type", "funding_source", "plan", "actual"])
        frame.insert(0, "quarter", str(q))
        frame.insert(0, "financial_year", unit.fy_label)
        frame.insert(0, "hwb_code", unit.hwb.la_code)
        frame["plan_amount"] = _money(frame.pop("plan").to_numpy())
        frame["actual_amount"] = _money(np.clip(frame.pop("actual").to_numpy(), 0, None))
        q_end = Month(unit.fy + (q * 3 + 3 - 1) // 12, (q * 3 + 3 - 1) % 12 + 1)
        run = q_end.next_start + 24 * DAY
        frame["_delivery"] = f"{timestamp(run, '1000')}_pooled_budget_{unit.fy_label}-Q{q}.csv"
        frame["_run"] = run
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _quarter_months(fy: int, q: int) -> list[Month]:
    months = []
    for i in range(3):
        m = 4 + 3 * (q - 1) + i
        months.append(Month(fy + (m - 1) // 12, (m - 1) % 12 + 1))
    return months


def plan(unit: Unit) -> pd.DataFrame:
    """Targets for every quarter of the unit's FY (plans are set for the whole year)."""
    rng = unit.rng("plan")
    f = unit.factor
    ch_admit = cal.CH_CALLOUTS * cal.CH_CONVEY_ED_SHARE * cal.CH_ADMIT_FROM_CONVEY_ED * 1.15 + cal.FALLS_65 * cal.FALLS_FROM_CARE_HOME
    counts = {  # metric id: (annual volume, seasonality, ambition)
        "nea": (cal.EMERGENCY_FIRST_EPISODES * 0.97 + cal.TRANSFERS_81, cal.SEASON_NEL, 0.98),
        "res65": (cal.RES65_ADMISSIONS + cal.REABLEMENT_FROM_HOSPITAL_65 * cal.REAB_CARE_HOME, cal.SEASON_FLAT, 0.97),
        "dtoc": (cal.DELAYED_DAYS, cal.SEASON_DTOC, 0.95),
        "falls65": (cal.FALLS_65 * 1.05, cal.SEASON_FALLS, 0.98),
        "dash_ae_att": (cal.AE_ATTENDANCES * 0.975, cal.SEASON_AE, 0.99),
        "dash_ed_resp_0_4": (cal.AE_RESP_0_4, cal.SEASON_RESP, 1.0),
        "dash_nel": (cal.EMERGENCY_FIRST_EPISODES * 0.97 + cal.TRANSFERS_81, cal.SEASON_NEL, 0.98),
        "dash_nel_resp_0_4": (cal.NEL_RESP_0_4, cal.SEASON_RESP, 0.98),
        "dash_readm30": (cal.READMISSIONS_30D, cal.SEASON_NEL, 0.97),
        "dash_dtoc": (cal.DELAYED_DAYS, cal.SEASON_DTOC, 0.95),
        "dash_ch_callout": (cal.CH_CALLOUTS, cal.SEASON_AMBULANCE, 0.98),
        "dash_ch_convey": (cal.CH_CALLOUTS * (cal.CH_CONVEY_ED_SHARE + cal.CH_CONVEY_OTHER_SHARE), cal.SEASON_AMBULANCE, 0.98),
        "dash_ch_admit": (ch_admit, cal.SEASON_NEL, 0.98),
    }
    rows = []
    for q in range(1, 5):
        months = _quarter_months(unit.fy, q)
        for metric, (annual, season, ambition) in counts.items():
            expected = monthly_expected(annual, months, season, f).sum()
            rows.append((metric, q, str(int(round(expected * ambition * rng.normal(1.0, 0.01))))))
        rows.append(("reab", q, f"{cal.REAB_PLAN_PCT + rng.normal(0, 0.5):.1f}"))
    frame = pd.DataFrame(rows, columns=["metric_id", "quarter", "target"])
    frame = frame.sort_values(["quarter", "metric_id"], kind="stable").reset_index(drop=True)
    frame.insert(0, "financial_year", unit.fy_label)
    frame.insert(0, "hwb_code", unit.hwb.la_code)
    frame["quarter"] = frame["quarter"].astype(str)
    frame = frame[PLAN_COLUMNS]
    run = Month(unit.fy, 3).start + 11 * DAY
    frame["_delivery"] = f"{timestamp(run, '0900')}_bcf_plan_{fy_label(unit.fy)}.csv"
    frame["_run"] = run
    return frame
