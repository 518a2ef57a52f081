"""Synthetic ambulance incidents (feed `ambulance`) and the HWB's care homes.

Belongs here: the care home register of each HWB (CQC ids, LSOA, the ADMISORC code a
resident's admission carries), care home call-outs and their outcomes, all other incidents,
and the monthly EEAST deliveries. Also hands the conveyed care home residents to hospital.py
(so admissions from care homes are the same people on the same day).
Does not: hospital admissions themselves, defects (defects.py), writing (writer.py).
"""

import numpy as np
import pandas as pd

from . import calibration as cal
from .unit import Unit, monthly_delivery, timestamp
from .vectors import DAY, age_at, choose, choose_rows, concat_str, dates_in_months, fmt_dates, fmt_ints, monthly_counts, stream

COLUMNS = ["INCIDENT_ID", "CALL_DATETIME", "NHSNUMBER", "PATIENT_AGE", "PATIENT_SEX", "INCIDENT_LSOA11", "LOCATION_TYPE",
           "CARE_HOME_ID", "CATEGORY", "OUTCOME", "DESTINATION_SITE"]
KEY = "INCIDENT_ID"


def care_homes(unit: Unit) -> dict[str, np.ndarray]:
    """The HWB's care homes (same for every unit of the HWB)."""
    hwb = unit.hwb
    rng = stream(unit.seed, "care_homes", hwb.la_code)
    n = max(3, int(round(50 * hwb.volume_factor(2017))))
    pop75 = hwb.population(2016)[:, 75:].sum(axis=1).astype(float)
    lsoa = rng.choice(len(pop75), size=n, p=pop75 / pop75.sum())
    return {
        "cqc_id": concat_str("1-", fmt_ints(rng.integers(100_000_000, 9_999_999_999, size=n))),
        "lsoa": lsoa,
        "admisorc": choose(rng, cal.CARE_HOME_ADMISORC, n),
        "size": rng.lognormal(3.3, 0.5, size=n),
    }


def _times(rng: np.random.Generator, dates: np.ndarray) -> np.ndarray:
    n = len(dates)
    hours = rng.choice(24, size=n, p=cal.HOUR_WEIGHTS / cal.HOUR_WEIGHTS.sum())
    minutes = rng.integers(0, 60, size=n)
    seconds = rng.integers(0, 60, size=n)
    return concat_str(fmt_dates(dates), " ", fmt_ints(hours, 2), ":", fmt_ints(minutes, 2), ":", fmt_ints(seconds, 2))


def generate(unit: Unit) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ambulance frame, conveyed care home residents: pid, date, provider index, admisorc)."""
    rng = unit.rng("ambulance")
    people = unit.people
    homes = care_homes(unit)

    # care home call-outs
    counts = monthly_counts(rng, cal.CH_CALLOUTS, unit.months, cal.SEASON_AMBULANCE, unit.factor)
    ch_dates = dates_in_months(rng, unit.months, counts)
    n_ch = len(ch_dates)
    home = rng.choice(len(homes["size"]), size=n_ch, p=homes["size"] / homes["size"].sum())
    _, ch_age = people.sample(n_ch, cal.RATE_CARE_HOME, unit.mid_year)
    ch_pid = people.add(homes["lsoa"][home], ch_age, ch_dates)
    p = [cal.CH_CONVEY_ED_SHARE, cal.CH_CONVEY_OTHER_SHARE, 1 - cal.CH_CONVEY_ED_SHARE - cal.CH_CONVEY_OTHER_SHARE - cal.CH_HEAR_TREAT_SHARE,
         cal.CH_HEAR_TREAT_SHARE]
    ch_outcome = choose(rng, (["CONVEY_ED", "CONVEY_OTHER", "SEE_AND_TREAT", "HEAR_AND_TREAT"], p), n_ch)

    # all other incidents
    counts = monthly_counts(rng, cal.AMBULANCE_OTHER_INCIDENTS, unit.months, cal.SEASON_AMBULANCE, unit.factor)
    ot_dates = dates_in_months(rng, unit.months, counts)
    n_ot = len(ot_dates)
    lsoa, age = people.sample(n_ot, cal.RATE_AMBULANCE, unit.mid_year)
    ot_pid = people.add(lsoa, age, ot_dates)
    ot_outcome = choose(rng, cal.AMB_OUTCOME, n_ot)

    pid = np.concatenate([ch_pid, ot_pid])
    dates = np.concatenate([ch_dates, ot_dates])
    n = len(pid)
    t = people.table
    is_ch = np.arange(n) < n_ch
    outcome = np.concatenate([ch_outcome, ot_outcome])
    location = np.concatenate([np.full(n_ch, "CARE_HOME", dtype=object), choose(rng, cal.AMB_LOCATION_OTHER, n_ot)])
    provider = choose_rows(rng, cal.PROVIDER_MIX[t["pattern"][pid]])
    conveyed = np.isin(outcome, ["CONVEY_ED", "CONVEY_OTHER"])
    sites = np.array([cal.DESTINATION_SITES[p] for p in cal.ACUTE_PROVIDERS], dtype=object)
    ages = age_at(t["dob"][pid], dates)
    age_text = fmt_ints(ages)
    age_text[rng.random(n) < 0.04] = ""
    sex = t["sex"][pid].copy()
    sex[rng.random(n) < 0.01] = "9"
    nhs = np.where(t["u_health"][pid] < cal.AMBULANCE_NO_NHS, "", t["nhs"][pid]).astype(object)
    lsoa_text = t["lsoa"][pid].copy()
    lsoa_text[rng.random(n) < cal.ROW_NO_LSOA] = ""
    home_id = np.full(n, "", dtype=object)
    home_id[:n_ch] = homes["cqc_id"][home]
    serial = unit.state.take("incident", n)
    frame = pd.DataFrame({
        "INCIDENT_ID": concat_str(f"{unit.hwb.index + 1:03d}", fmt_ints(serial, 9)),
        "CALL_DATETIME": _times(rng, dates),
        "NHSNUMBER": nhs,
        "PATIENT_AGE": age_text,
        "PATIENT_SEX": sex,
        "INCIDENT_LSOA11": lsoa_text,
        "LOCATION_TYPE": location,
        "CARE_HOME_ID": home_id,
        "CATEGORY": choose(rng, cal.AMB_CATEGORY, n),
        "OUTCOME": outcome,
        "DESTINATION_SITE": np.where(conveyed, sites[provider], "").astype(object),
    })
    frame["_delivery"], frame["_run"] = monthly_delivery(dates, unit.all_months, 4, "0300", "{ts}_{supplier}_incidents.csv",
                                                         cal.AMBULANCE_SUPPLIER)
    frame["_date"] = dates
    frame = frame.sort_values(["_delivery", "CALL_DATETIME", "INCIDENT_ID"], kind="stable").reset_index(drop=True)

    convey_ed = is_ch & (outcome == "CONVEY_ED")
    to_hospital = pd.DataFrame({
        "pid": pid[convey_ed], "date": dates[convey_ed], "provider": provider[convey_ed],
        "admisorc": homes["admisorc"][home][convey_ed[:n_ch]],
    })
    return frame, to_hospital


def correction(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blank DESTINATION_SITE on a few conveyed incidents of the first delivery; resend them corrected."""
    first = frame["_delivery"] == frame["_delivery"].min()
    pick = first & (frame["DESTINATION_SITE"] != "") & (rng.random(len(frame)) < 0.01)
    resend = frame[pick].copy()
    run = resend["_run"].max() + 20 * DAY if len(resend) else None
    if run is not None:
        resend["_delivery"] = f"{timestamp(run, '1200')}_{cal.AMBULANCE_SUPPLIER}_incidents_resubmission.csv"
        resend["_run"] = run
    frame = frame.copy()
    frame.loc[pick, "DESTINATION_SITE"] = ""
    return frame, resend
