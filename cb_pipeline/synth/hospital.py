"""Synthetic hospital activity: admitted patient care spells and episodes (`hes_apc`), A&E (`hes_ae`).

Belongs here: the spells of one unit (emergency streams calibrated to the dashboard - general,
respiratory 0-4, falls 65+, ambulatory care sensitive conditions, admissions from care homes,
30-day readmissions of the same person - plus transfers, electives, day cases, maternity and
births), splitting spells into consultant episodes, A&E attendances (those that led to an
admission on the same day, and the rest), HES quirks, and monthly per-provider deliveries.
Does not: care home residents' call-outs (ambulance.py), reablement and the spells it adds
(social_care.py), defects (defects.py) or writing (writer.py).
"""

import numpy as np
import pandas as pd

from . import calibration as cal
from .unit import Unit, monthly_delivery, timestamp
from .vectors import (DAY, age_at, choose, choose_rows, concat_str, dates_in_months, fmt_dates, fmt_ints, monthly_counts,
                      monthly_expected)

DIAG_COLUMNS = [f"DIAG_4_{i:02d}" for i in range(1, 21)]
APC_COLUMNS = ["EPIKEY", "PROCODE3", "NHSNUMBER", "PSEUDO_HESID", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE", "EPIORDER",
               "SPELEND", "ADMIMETH", "ADMISORC", "CLASSPAT", "DISMETH", "DISDEST", "STARTAGE", "SEX", "LSOA11", "GPPRAC",
               "TRETSPEF", *DIAG_COLUMNS, "FYEAR", "ADMINCAT", "MAINSPEF", "ETHNOS"]
AE_COLUMNS = ["AEKEY", "PROCODE3", "NHSNUMBER", "PSEUDO_HESID", "ARRIVALDATE", "ARRIVALTIME", "ARRIVALAGE", "SEX", "LSOA11",
              "GPPRAC", "AEATTENDCAT", "AEARRIVALMODE", "AEDEPTTYPE", "AEATTENDDISP", "DIAG2_01", "DIAG3_01", "FYEAR",
              "AEREFSOURCE", "AEINCLOCTYPE"]
APC_KEY, AE_KEY = "EPIKEY", "AEKEY"
PROVIDERS = np.array(cal.ACUTE_PROVIDERS, dtype=object)
EMERGENCY_STREAMS = ("general", "resp04", "falls65", "acsc", "carehome", "readmission", "reab_hospital")
SHARE_VIA_AE = cal.EMERGENCY_ADMIMETH[1][0] / sum(cal.EMERGENCY_ADMIMETH[1])


def _padded(spec: tuple) -> tuple:
    """A diagnosis code list with 3-character codes padded with X, as HES delivers them (I10 -> I10X)."""
    return ([code + "X" if len(code) == 3 else code for code in spec[0]], spec[1])


DIAG_GENERAL, DIAG_RESP_0_4, DIAG_FALL_INJURY, DIAG_FALL_CODE, DIAG_ACSC, DIAG_CARE_HOME, DIAG_ELECTIVE, DIAG_MATERNITY, \
    DIAG_BIRTH, DIAG_SECONDARY, DIAG_SECONDARY_CHILD = (
        _padded(s) for s in (cal.DIAG_GENERAL, cal.DIAG_RESP_0_4, cal.DIAG_FALL_INJURY, cal.DIAG_FALL_CODE, cal.DIAG_ACSC,
                             cal.DIAG_CARE_HOME, cal.DIAG_ELECTIVE, cal.DIAG_MATERNITY, cal.DIAG_BIRTH, cal.DIAG_SECONDARY,
                             cal.DIAG_SECONDARY_CHILD))
DIAG_REGULAR_DAY = (["Z511", "Z491"], [0.7, 0.3])


def _ch_admissions_expected() -> float:
    return cal.CH_CALLOUTS * cal.CH_CONVEY_ED_SHARE * cal.CH_ADMIT_FROM_CONVEY_ED


GENERAL_EMERGENCY = (cal.EMERGENCY_FIRST_EPISODES - cal.READMISSIONS_30D - cal.NEL_RESP_0_4 - cal.FALLS_65 - cal.ACSC
                     - _ch_admissions_expected() - cal.REAB_IN_HOSPITAL * cal.REABLEMENT_FROM_HOSPITAL_65)
AE_RESP_STANDALONE = max(0.0, cal.AE_RESP_0_4 - cal.NEL_RESP_0_4 * SHARE_VIA_AE * cal.RESP_0_4_AE_CODED_SHARE)
AE_GENERAL = cal.AE_ATTENDANCES - cal.EMERGENCY_FIRST_EPISODES * SHARE_VIA_AE - AE_RESP_STANDALONE


# ---------------------------------------------------------------- spells


def _spells(unit: Unit, rng: np.random.Generator, pid: np.ndarray, dates: np.ndarray, *, stream: str, admimeth, admisorc,
            classpat, los: np.ndarray, diag1: np.ndarray, tret, provider: np.ndarray | None = None,
            fall: np.ndarray | None = None, elective: bool = False) -> pd.DataFrame:
    n = len(pid)
    t = unit.people.table
    age = age_at(t["dob"][pid], dates)
    if provider is None:
        mix = cal.PROVIDER_MIX[t["pattern"][pid]]
        if elective:
            mix = mix + cal.ELECTIVE_SPECIALIST_SHIFT[None, :]
        provider = choose_rows(rng, mix)
    if elective:
        dismeth = np.full(n, "1", dtype=object)
        disdest = choose(rng, (["19", "99", "51"], [0.98, 0.01, 0.01]), n)
    else:
        p_die = 0.001 + 0.02 * (age >= 65) + 0.03 * (age >= 80) + 0.03 * (age >= 90)
        u = rng.random(n)
        dismeth = np.where(u < p_die, "4", np.where(u < p_die + 0.006, "2", np.where(u < p_die + 0.008, "9", "1"))).astype(object)
        disdest = choose(rng, (["19", "51", "52", "29", "54", "85", "99", "98"], [0.935, 0.015, 0.003, 0.01, 0.007, 0.008, 0.017, 0.005]), n)
        disdest[dismeth == "4"] = "79"
    return pd.DataFrame({
        "pid": pid, "prov": provider, "admidate": dates, "los": los, "age": age, "stream": stream,
        "admimeth": np.broadcast_to(np.asarray(admimeth, dtype=object), (n,)).copy(),
        "admisorc": np.broadcast_to(np.asarray(admisorc, dtype=object), (n,)).copy(),
        "classpat": np.broadcast_to(np.asarray(classpat, dtype=object), (n,)).copy(),
        "dismeth": dismeth, "disdest": disdest,
        "tret": np.broadcast_to(np.asarray(tret, dtype=object), (n,)).copy(),
        "diag1": diag1, "fall": fall if fall is not None else np.full(n, "", dtype=object),
    })


def _emergency_los(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    zero = rng.random(len(age)) < np.where(age < 5, 0.45, 0.28)
    mean = 1.5 + 0.08 * np.minimum(age, 95)
    return np.where(zero, 0, np.minimum(rng.geometric(1.0 / mean), 120))


def _emergency_tret(rng: np.random.Generator, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    tret = choose(rng, cal.TRETSPEF_EMERGENCY, len(age))
    tret[(tret == "420") & (age >= 16)] = "300"
    tret[(tret == "501") & ~(female & (age >= 16) & (age <= 45))] = "300"
    tret[age < 16] = "420"
    return tret


def _new_emergency(unit: Unit, rng: np.random.Generator, stream: str, annual: float, season: np.ndarray, rate: np.ndarray,
                   diag: tuple, months: list | None = None) -> pd.DataFrame:
    months = unit.months if months is None else months
    counts = monthly_counts(rng, annual, months, season, unit.factor)
    dates = dates_in_months(rng, months, counts)
    lsoa, age = unit.people.sample(len(dates), rate, unit.mid_year)
    pid = unit.people.add(lsoa, age, dates)
    t = unit.people.table
    n = len(pid)
    diag1 = choose(rng, diag, n)
    fall = None
    admisorc = choose(rng, cal.ADMISORC_GENERAL, n)
    admisorc[admisorc == "51"] = "19"  # transfers are their own stream
    tret = _emergency_tret(rng, age, t["sex"][pid] == "2")
    if stream == "general":
        child_resp = (age <= 4) & np.char.startswith(diag1.astype(str), "J")
        diag1[child_resp] = "R509"
    if stream == "falls65":
        fall = choose(rng, DIAG_FALL_CODE, n)
        from_home = rng.random(n) < cal.FALLS_FROM_CARE_HOME
        admisorc[from_home] = choose(rng, cal.CARE_HOME_ADMISORC, int(from_home.sum()))
        tret = choose(rng, (["110", "430", "300"], [0.5, 0.3, 0.2]), n)
    if stream == "resp04":
        tret[:] = "420"
    spells = _spells(unit, rng, pid, dates, stream=stream, admimeth=choose(rng, cal.EMERGENCY_ADMIMETH, n), admisorc=admisorc,
                     classpat="1", los=_emergency_los(rng, age), diag1=diag1, tret=tret, fall=fall)
    care = spells["admisorc"].isin(cal.CARE_HOME_ADMISORC[0]) & (spells["dismeth"] != "4")
    spells.loc[care, "disdest"] = spells.loc[care, "admisorc"]
    return spells


def _care_home_spells(unit: Unit, rng: np.random.Generator, conveyed: pd.DataFrame) -> pd.DataFrame:
    admitted = conveyed[rng.random(len(conveyed)) < cal.CH_ADMIT_FROM_CONVEY_ED]
    n = len(admitted)
    pid = admitted["pid"].to_numpy()
    dates = admitted["date"].to_numpy().astype("M8[D]")
    t = unit.people.table
    age = age_at(t["dob"][pid], dates)
    diag1 = choose(rng, DIAG_CARE_HOME, n)
    fall = np.where(rng.random(n) < 0.15, "W19X", "").astype(object)
    diag1[fall != ""] = "S720"
    spells = _spells(unit, rng, pid, dates, stream="carehome", admimeth="21", admisorc=admitted["admisorc"].to_numpy(dtype=object),
                     classpat="1", los=_emergency_los(rng, age), diag1=diag1,
                     tret=choose(rng, (["430", "300"], [0.5, 0.5]), n), provider=admitted["provider"].to_numpy(), fall=fall)
    alive = spells["dismeth"] != "4"
    spells.loc[alive, "disdest"] = spells.loc[alive, "admisorc"]
    return spells


def _readmissions(unit: Unit, rng: np.random.Generator, index: pd.DataFrame) -> pd.DataFrame:
    eligible = index[~index["dismeth"].isin(["4", "5"])]
    expected = monthly_expected(cal.READMISSIONS_30D, unit.months, cal.SEASON_NEL, unit.factor).sum()
    n = min(int(rng.poisson(expected)), len(eligible))
    if n == 0:
        return eligible.iloc[:0].copy()
    weight = cal.READMIT_AGE_FACTOR[np.minimum(eligible["age"].to_numpy(), 90)]
    chosen = eligible.iloc[np.sort(rng.choice(len(eligible), size=n, replace=False, p=weight / weight.sum()))]
    gap_p = np.exp(-np.arange(31) / 9.0)
    gap = rng.choice(31, size=n, p=gap_p / gap_p.sum())
    dates = chosen["admidate"].to_numpy() + (chosen["los"].to_numpy() + gap) * DAY
    pid = chosen["pid"].to_numpy()
    t = unit.people.table
    age = age_at(t["dob"][pid], dates)
    same = rng.random(n) < 0.8
    provider = np.where(same, chosen["prov"].to_numpy(), choose_rows(rng, cal.PROVIDER_MIX[t["pattern"][pid]]))
    diag1 = np.where(rng.random(n) < 0.3, chosen["diag1"].to_numpy(), choose(rng, DIAG_GENERAL, n)).astype(object)
    diag1[(age <= 4) & np.char.startswith(diag1.astype(str), "J") & (chosen["stream"].to_numpy() != "resp04")] = "R509"
    admisorc = chosen["admisorc"].to_numpy(dtype=object).copy()
    admisorc[~np.isin(admisorc, cal.CARE_HOME_ADMISORC[0])] = "19"
    spells = _spells(unit, rng, pid, dates, stream="readmission", admimeth=choose(rng, cal.EMERGENCY_ADMIMETH, n),
                     admisorc=admisorc, classpat="1", los=_emergency_los(rng, age), diag1=diag1,
                     tret=_emergency_tret(rng, age, t["sex"][pid] == "2"), provider=provider)
    care = spells["admisorc"].isin(cal.CARE_HOME_ADMISORC[0]) & (spells["dismeth"] != "4")
    spells.loc[care, "disdest"] = spells.loc[care, "admisorc"]
    return spells


def _planned(unit: Unit, rng: np.random.Generator, stream: str, annual: float, season: np.ndarray, rate: np.ndarray, *,
             admimeth, classpat, los_fn, diag, tret, female_only: bool = False, weekdays: bool = True) -> pd.DataFrame:
    counts = monthly_counts(rng, annual, unit.months, season, unit.factor)
    dates = dates_in_months(rng, unit.months, counts, weekdays_only=weekdays)
    lsoa, age = unit.people.sample(len(dates), rate, unit.mid_year)
    n = len(dates)
    pid = unit.people.add(lsoa, age, dates, female=np.ones(n, dtype=bool) if female_only else None)
    return _spells(unit, rng, pid, dates, stream=stream, admimeth=admimeth if isinstance(admimeth, str) else choose(rng, admimeth, n),
                   admisorc="19", classpat=classpat, los=los_fn(n), diag1=choose(rng, diag, n),
                   tret=tret if isinstance(tret, str) else choose(rng, tret, n), elective=True)


def build_spells(unit: Unit, conveyed_from_care_homes: pd.DataFrame) -> pd.DataFrame:
    """Every hospital spell of the unit (before social care adds its follow-up spells)."""
    rng = unit.rng("hospital_spells")
    general = _new_emergency(unit, rng, "general", GENERAL_EMERGENCY, cal.SEASON_NEL, cal.RATE_NEL, DIAG_GENERAL)
    if unit.first_of_hwb:  # readmissions of people discharged before the range starts (their first spell is not in the data)
        extra = _new_emergency(unit, rng, "general", cal.READMISSIONS_30D * 0.55, cal.SEASON_NEL, cal.RATE_NEL, DIAG_GENERAL,
                               months=unit.months[:1])
        general = pd.concat([general, extra], ignore_index=True)
    resp = _new_emergency(unit, rng, "resp04", cal.NEL_RESP_0_4, cal.SEASON_RESP, cal.RATE_RESP_0_4, DIAG_RESP_0_4)
    falls = _new_emergency(unit, rng, "falls65", cal.FALLS_65, cal.SEASON_FALLS, cal.RATE_FALLS_65, DIAG_FALL_INJURY)
    acsc = _new_emergency(unit, rng, "acsc", cal.ACSC, cal.SEASON_NEL, cal.RATE_ACSC, DIAG_ACSC)
    care = _care_home_spells(unit, rng, conveyed_from_care_homes)
    index = pd.concat([general, resp, falls, acsc, care], ignore_index=True)
    readm = _readmissions(unit, rng, index)
    transfers = _new_emergency(unit, rng, "transfer", cal.TRANSFERS_81, cal.SEASON_NEL, cal.RATE_NEL_ADULT, DIAG_GENERAL)
    transfers["admimeth"] = "81"
    transfers["admisorc"] = choose(rng, (["51", "52", "53"], [0.8, 0.1, 0.1]), len(transfers))
    one = lambda n: np.zeros(n, dtype=np.int64)  # noqa: E731
    daycase = _planned(unit, rng, "daycase", cal.ELECTIVE_DAYCASE, cal.SEASON_ELECTIVE, cal.RATE_ELECTIVE,
                       admimeth=cal.ELECTIVE_ADMIMETH, classpat="2", los_fn=one, diag=DIAG_ELECTIVE, tret=cal.TRETSPEF_ELECTIVE)
    ordinary = _planned(unit, rng, "elective", cal.ELECTIVE_ORDINARY, cal.SEASON_ELECTIVE, cal.RATE_ELECTIVE,
                        admimeth=cal.ELECTIVE_ADMIMETH, classpat="1", los_fn=lambda n: np.minimum(rng.geometric(1 / 3.0, n), 60),
                        diag=DIAG_ELECTIVE, tret=cal.TRETSPEF_ELECTIVE)
    regular = _planned(unit, rng, "regular_day", cal.REGULAR_DAY, cal.SEASON_FLAT, cal.RATE_ELECTIVE, admimeth="13",
                       classpat="3", los_fn=one, diag=DIAG_REGULAR_DAY, tret=(["370", "361"], [0.7, 0.3]))
    mat31 = _planned(unit, rng, "maternity", cal.MATERNITY_31, cal.SEASON_FLAT, cal.RATE_WORKING_AGE_WOMEN, admimeth="31",
                     classpat="1", los_fn=lambda n: rng.integers(0, 3, n), diag=DIAG_MATERNITY, tret="501",
                     female_only=True, weekdays=False)
    mat32 = _planned(unit, rng, "maternity", cal.MATERNITY_32, cal.SEASON_FLAT, cal.RATE_WORKING_AGE_WOMEN, admimeth="32",
                     classpat="1", los_fn=lambda n: rng.integers(0, 3, n), diag=DIAG_MATERNITY, tret="501",
                     female_only=True, weekdays=False)
    births = _births(unit, rng)
    spells = pd.concat([index, readm, transfers, daycase, ordinary, regular, mat31, mat32, births], ignore_index=True)
    spells["n_eps"] = _episode_counts(rng, spells)
    return spells


def follow_up_spells(unit: Unit, rng: np.random.Generator, pid: np.ndarray, admidate: np.ndarray, los: np.ndarray,
                     provider: np.ndarray) -> pd.DataFrame:
    """Emergency spells for existing people (social care asks for these: back in hospital at 91 days)."""
    n = len(pid)
    t = unit.people.table
    age = age_at(t["dob"][pid], admidate)
    spells = _spells(unit, rng, pid, admidate, stream="reab_hospital", admimeth=choose(rng, cal.EMERGENCY_ADMIMETH, n),
                     admisorc="19", classpat="1", los=los, diag1=choose(rng, DIAG_GENERAL, n),
                     tret=_emergency_tret(rng, age, t["sex"][pid] == "2"), provider=provider)
    spells["n_eps"] = _episode_counts(rng, spells)
    return spells


def _births(unit: Unit, rng: np.random.Generator) -> pd.DataFrame:
    counts = monthly_counts(rng, cal.BIRTHS, unit.months, cal.SEASON_FLAT, unit.factor)
    dates = dates_in_months(rng, unit.months, counts)
    n = len(dates)
    lsoa, _ = unit.people.sample(n, cal.RATE_RESP_0_4, unit.mid_year)
    pid = unit.people.add(lsoa, np.zeros(n, dtype=np.int64), dates, dob=dates)
    los = np.where(rng.random(n) < 0.9, rng.integers(0, 3, n), np.minimum(rng.geometric(1 / 8.0, n), 60))
    return _spells(unit, rng, pid, dates, stream="birth", admimeth=choose(rng, (["82", "83"], [0.97, 0.03]), n), admisorc="19",
                   classpat="1", los=los, diag1=choose(rng, DIAG_BIRTH, n), tret="424", elective=True)


def _episode_counts(rng: np.random.Generator, spells: pd.DataFrame) -> np.ndarray:
    n = len(spells)
    emergency = spells["stream"].isin(EMERGENCY_STREAMS + ("transfer",)).to_numpy()
    u = rng.random(n)
    k = np.where(emergency, np.where(u < 0.78, 1, np.where(u < 0.95, 2, 3)), np.where(u < 0.93, 1, 2))
    return np.where(spells["los"].to_numpy() >= 1, k, 1)


# ---------------------------------------------------------------- episodes (hes_apc rows)


def _age_text(ages: np.ndarray, dob: np.ndarray, at: np.ndarray, provider: np.ndarray, infant_codes: np.ndarray) -> np.ndarray:
    days = (at - dob).astype("m8[D]").astype(np.int64)
    code = 7001 + np.searchsorted(np.array([1, 7, 29, 91, 182, 273]), days, side="right")
    text = fmt_ints(ages)
    floats = np.isin(provider, list(cal.FLOAT_AGE_PROVIDERS))
    text[floats] = concat_str(text[floats], ".0")
    infant = (ages == 0) & infant_codes
    text[infant] = fmt_ints(code[infant])
    return text


def _practice(rng: np.random.Generator, practice: np.ndarray) -> np.ndarray:
    practice = practice.copy()
    u = rng.random(len(practice))
    practice[u < 0.004] = "&"
    practice[(u >= 0.004) & (u < 0.009)] = "V81999"
    practice[(u >= 0.009) & (u < 0.011)] = ""
    return practice


def _row_common(rng: np.random.Generator, unit: Unit, pid: np.ndarray, no_nhs_share: float) -> dict[str, np.ndarray]:
    t = unit.people.table
    n = len(pid)
    sex = t["sex"][pid].copy()
    u = rng.random(n)
    sex[u < cal.SEX_UNKNOWN_SHARE / 2] = "0"
    sex[(u >= cal.SEX_UNKNOWN_SHARE / 2) & (u < cal.SEX_UNKNOWN_SHARE)] = "9"
    lsoa = t["lsoa"][pid].copy()
    lsoa[rng.random(n) < cal.ROW_NO_LSOA] = ""
    return {
        "NHSNUMBER": np.where(t["u_health"][pid] < no_nhs_share, "", t["nhs"][pid]).astype(object),
        "PSEUDO_HESID": t["hesid"][pid],
        "SEX": sex, "LSOA11": lsoa, "GPPRAC": _practice(rng, t["practice"][pid]),
    }


def _fyear(dates: np.ndarray) -> np.ndarray:
    m = dates.astype("M8[M]").astype(np.int64)
    fy = (m - 3) // 12 + 1970
    return concat_str(fmt_ints(fy % 100, 2), fmt_ints((fy + 1) % 100, 2))


def episodes(unit: Unit, spells: pd.DataFrame) -> pd.DataFrame:
    """hes_apc rows (with _delivery, _run) for the spells; unfinished spells are cut at the range end."""
    rng = unit.rng("hospital_episodes")
    spells = spells[spells["admidate"].to_numpy() <= unit.range_end].reset_index(drop=True)
    n_eps = spells["n_eps"].to_numpy()
    rep = np.repeat(np.arange(len(spells)), n_eps)
    first = np.cumsum(n_eps) - n_eps
    order = np.arange(len(rep)) - first[rep] + 1
    u = rng.random(len(rep))
    u[order == 1] = 0.0
    u = u[np.lexsort((u, rep))]
    adm = spells["admidate"].to_numpy().astype("M8[D]")[rep]
    los = spells["los"].to_numpy()[rep]
    start = adm + np.floor(u * los).astype(np.int64) * DAY
    dis = adm + los * DAY
    last = order == n_eps[rep]
    end = np.where(last, dis, np.roll(start, -1))
    keep = start <= unit.range_end
    rep, order, start, end, dis, last, adm = rep[keep], order[keep], start[keep], end[keep], dis[keep], last[keep], adm[keep]
    unfinished = end > unit.range_end
    n = len(rep)

    s = {c: spells[c].to_numpy() for c in spells.columns}
    pid = s["pid"][rep]
    prov = PROVIDERS[s["prov"][rep]]
    t = unit.people.table
    delivery, run = monthly_delivery(np.where(unfinished, unit.range_end, end), unit.all_months, 5, "0200",
                                     "{ts}_{supplier}_apc.csv", prov)
    final = last & ~unfinished
    disdate = np.where(final | (dis <= run), dis, np.datetime64("NaT"))
    disdate[unfinished] = np.datetime64("NaT")
    ages = age_at(t["dob"][pid], start)

    # diagnoses
    child = ages < 16
    n_sec = np.minimum(rng.poisson(np.where(child, 0.2, 0.3 + np.minimum(ages, 95) / 18.0)), 12)
    diag = np.full((n, 20), "", dtype=object)
    primary = s["diag1"][rep].copy()
    later = order > 1
    switch = later & (rng.random(n) < 0.4)
    primary[switch] = choose(rng, DIAG_SECONDARY, int(switch.sum()))
    diag[:, 0] = primary
    secondary = choose(rng, DIAG_SECONDARY, n * 19).reshape(n, 19)
    secondary[child] = choose(rng, DIAG_SECONDARY_CHILD, int(child.sum()) * 19).reshape(-1, 19)
    fall = s["fall"][rep]
    has_fall = fall != ""
    slot = 1 + (rng.random(n) * (np.minimum(n_sec, 3) + 1)).astype(np.int64)
    n_sec = np.where(has_fall, np.maximum(n_sec, slot), n_sec)
    empty = np.where(np.isin(prov, list(cal.DASH_EMPTY_DIAGNOSIS_PROVIDERS)), "-", "").astype(object)
    diag[:, 1:] = np.where(np.arange(19)[None, :] < n_sec[:, None], secondary, empty[:, None])
    rows = np.flatnonzero(has_fall)
    diag[rows, slot[rows]] = fall[rows]

    tret = s["tret"][rep].copy()
    tret[later] = choose(rng, cal.TRETSPEF_LATER, int(later.sum()))
    tret[later & (ages < 16)] = "420"
    dismeth = np.where(final, s["dismeth"][rep], "8").astype(object)
    disdest = np.where(final, s["disdest"][rep], "98").astype(object)
    serial = unit.state.take("epikey", n)
    common = _row_common(rng, unit, pid, cal.HES_NO_NHS)
    frame = pd.DataFrame({
        "EPIKEY": concat_str(f"{unit.hwb.index + 1:03d}", fmt_ints(serial, 9)),
        "PROCODE3": prov,
        "NHSNUMBER": common["NHSNUMBER"], "PSEUDO_HESID": common["PSEUDO_HESID"],
        "ADMIDATE": fmt_dates(adm), "EPISTART": fmt_dates(start),
        "EPIEND": fmt_dates(np.where(unfinished, np.datetime64("NaT"), end)), "DISDATE": fmt_dates(disdate),
        "EPIORDER": fmt_ints(order), "SPELEND": np.where(final, "Y", "N").astype(object),
        "ADMIMETH": s["admimeth"][rep], "ADMISORC": s["admisorc"][rep], "CLASSPAT": s["classpat"][rep],
        "DISMETH": dismeth, "DISDEST": disdest,
        "STARTAGE": _age_text(ages, t["dob"][pid], start, prov, np.ones(n, dtype=bool)),
    })
    for col in ("SEX", "LSOA11", "GPPRAC"):
        frame[col] = common[col]
    frame["TRETSPEF"] = tret
    for i, col in enumerate(DIAG_COLUMNS):
        frame[col] = diag[:, i]
    frame["FYEAR"] = _fyear(start)
    frame["ADMINCAT"] = np.where(rng.random(n) < 0.98, "01", "02").astype(object)
    frame["MAINSPEF"] = tret
    frame["ETHNOS"] = choose(rng, (["A", "B", "C", "D", "H", "J", "K", "R", "S", "Z", "99"],
                                   [0.7, 0.02, 0.05, 0.02, 0.04, 0.03, 0.02, 0.01, 0.03, 0.05, 0.03]), n)
    frame["_delivery"], frame["_run"] = delivery, run
    frame = frame.sort_values(["_delivery", "EPISTART", "EPIKEY"], kind="stable").reset_index(drop=True)
    return frame


# ---------------------------------------------------------------- A&E


def _hhmm(rng: np.random.Generator, n: int, provider: np.ndarray) -> np.ndarray:
    hours = rng.choice(24, size=n, p=cal.HOUR_WEIGHTS / cal.HOUR_WEIGHTS.sum())
    minutes = rng.integers(0, 60, size=n)
    colon = np.where(np.isin(provider, list(cal.HHMM_TIME_PROVIDERS)), "", ":").astype(object)
    return concat_str(fmt_ints(hours, 2), colon, fmt_ints(minutes, 2))


def attendances(unit: Unit, spells: pd.DataFrame) -> pd.DataFrame:
    """hes_ae rows (with _delivery, _run): attendances that led to the spells' admissions, and the rest."""
    rng = unit.rng("hospital_ae")
    t = unit.people.table
    linked = spells[(spells["admimeth"] == "21") & (spells["admidate"].to_numpy() <= unit.range_end)
                    & (spells["admidate"].to_numpy() >= unit.range_start)]
    l_pid = linked["pid"].to_numpy()
    l_date = linked["admidate"].to_numpy().astype("M8[D]")
    l_age = age_at(t["dob"][l_pid], l_date)
    l_stream = linked["stream"].to_numpy()
    nl = len(linked)
    l_diag = np.where(l_age <= 4, choose(rng, cal.AE_DIAG2_CHILD, nl), choose(rng, cal.AE_DIAG2_GENERAL, nl)).astype(object)
    resp = l_stream == "resp04"
    l_diag[resp] = np.where(rng.random(int(resp.sum())) < cal.RESP_0_4_AE_CODED_SHARE, "25", "38")
    falls = l_stream == "falls65"
    l_diag[falls] = choose(rng, (["04", "05", "02"], [0.3, 0.5, 0.2]), int(falls.sum()))

    counts = monthly_counts(rng, AE_RESP_STANDALONE, unit.months, cal.SEASON_RESP, unit.factor)
    r_date = dates_in_months(rng, unit.months, counts)
    lsoa, age = unit.people.sample(len(r_date), cal.RATE_RESP_0_4, unit.mid_year)
    r_pid = unit.people.add(lsoa, age, r_date)

    counts = monthly_counts(rng, AE_GENERAL, unit.months, cal.SEASON_AE, unit.factor)
    g_date = dates_in_months(rng, unit.months, counts)
    lsoa, age = unit.people.sample(len(g_date), cal.RATE_AE, unit.mid_year)
    g_pid = unit.people.add(lsoa, age, g_date)
    t = unit.people.table
    g_age = age_at(t["dob"][g_pid], g_date)
    ng = len(g_pid)
    g_diag = np.where(g_age <= 4, choose(rng, cal.AE_DIAG2_CHILD, ng), choose(rng, cal.AE_DIAG2_GENERAL, ng)).astype(object)

    nr = len(r_pid)
    pid = np.concatenate([l_pid, r_pid, g_pid])
    dates = np.concatenate([l_date, r_date, g_date])
    n = len(pid)
    kind = np.repeat(np.array([0, 1, 2]), [nl, nr, ng])
    provider = np.concatenate([PROVIDERS[linked["prov"].to_numpy()],
                               PROVIDERS[choose_rows(rng, cal.PROVIDER_MIX[t["pattern"][np.concatenate([r_pid, g_pid])]])]])
    diag2 = np.concatenate([l_diag, np.full(nr, "25", dtype=object), g_diag])
    diag3 = concat_str(diag2, fmt_ints(rng.integers(1, 10, size=n)))
    diag2 = diag2.copy()
    diag2[rng.random(n) < 0.03] = ""
    ages = age_at(t["dob"][pid], dates)
    attendcat = np.where(kind == 2, choose(rng, cal.AE_ATTENDCAT, n), "1").astype(object)
    disposal = np.where(kind == 0, "01", choose(rng, cal.AE_DISPOSAL_NOT_ADMITTED, n)).astype(object)
    mode = np.where(rng.random(n) < np.where(kind == 0, 0.3 + ages / 200.0, 0.08 + ages / 300.0), "1", "2").astype(object)
    mode[rng.random(n) < 0.005] = "9"
    dept = np.where(kind == 0, "01", choose(rng, cal.AE_DEPTTYPE, n)).astype(object)
    common = _row_common(rng, unit, pid, cal.AE_NO_NHS)
    serial = unit.state.take("aekey", n)
    infant_codes = np.isin(provider, list(cal.AE_INFANT_CODE_PROVIDERS))
    frame = pd.DataFrame({
        "AEKEY": concat_str(f"A{unit.hwb.index + 1:03d}", fmt_ints(serial, 9)),
        "PROCODE3": provider,
        "NHSNUMBER": common["NHSNUMBER"], "PSEUDO_HESID": common["PSEUDO_HESID"],
        "ARRIVALDATE": fmt_dates(dates), "ARRIVALTIME": _hhmm(rng, n, provider),
        "ARRIVALAGE": _age_text(ages, t["dob"][pid], dates, provider, infant_codes),
        "SEX": common["SEX"], "LSOA11": common["LSOA11"], "GPPRAC": common["GPPRAC"],
        "AEATTENDCAT": attendcat, "AEARRIVALMODE": mode, "AEDEPTTYPE": dept, "AEATTENDDISP": disposal,
        "DIAG2_01": diag2, "DIAG3_01": diag3, "FYEAR": _fyear(dates),
        "AEREFSOURCE": choose(rng, (["01", "00", "02", "03", "04", "92"], [0.7, 0.08, 0.1, 0.04, 0.05, 0.03]), n),
        "AEINCLOCTYPE": choose(rng, (["10", "40", "50", "91"], [0.7, 0.08, 0.07, 0.15]), n),
    })
    frame["_delivery"], frame["_run"] = monthly_delivery(dates, unit.all_months, 6, "0200", "{ts}_{supplier}_ae.csv", provider)
    frame = frame.sort_values(["_delivery", "ARRIVALDATE", "AEKEY"], kind="stable").reset_index(drop=True)
    return frame


# ---------------------------------------------------------------- corrections (supersede)


def correction(frame: pd.DataFrame, rng: np.random.Generator, column: str, wrong: str, eligible: np.ndarray,
               suffix: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deliver a wrong `column` value on ~1% of the first RC9 delivery's rows, then resend them corrected."""
    deliveries = frame["_delivery"]
    rc9 = deliveries.str.contains("_RC9_")
    first = deliveries == (deliveries[rc9].min() if rc9.any() else deliveries.min())
    pick = first & eligible & (frame[column] != wrong) & (rng.random(len(frame)) < 0.01)
    resend = frame[pick].copy()
    if len(resend):
        run = resend["_run"].max() + 20 * DAY
        supplier = resend["PROCODE3"].iloc[0]
        resend["_delivery"] = f"{timestamp(run, '1200')}_{supplier}_{suffix}_resubmission.csv"
        resend["_run"] = run
    frame = frame.copy()
    frame.loc[pick, column] = wrong
    return frame, resend
