"""Synthetic adult social care client level data (feed `social_care`).

Belongs here: the council's events for one unit - care home placements of people 65+ (the
stock open when the range starts, new permanent admissions, self-funded ones, moves between
homes, deaths), ST-Max reablement after a real hospital discharge of the same person (and
what has happened to them 91 days later: died, in a care home, back in hospital, at home),
other reablement, community support, requests, assessments, reviews, carers, prison - and
the quarterly deliveries, in which an event is re-sent when it ends or its person dies.
Does not: the hospital spells themselves (hospital.py builds them, including the follow-up
admissions this module asks for), defects (defects.py) or writing (writer.py).
"""

import numpy as np
import pandas as pd

from . import calibration as cal
from . import hospital
from .unit import Unit, quarterly_delivery
from .vectors import DAY, age_at, choose, concat_str, dates_in_months, fmt_dates, fmt_ints, monthly_counts, monthly_expected

COLUMNS = ["LA_Code", "LA_Person_Unique_Identifier", "NHS_Number", "Date_of_Birth", "Gender", "LSOA11", "Date_of_Death",
           "Client_Type", "Event_Type", "Event_Reference", "Event_Start_Date", "Event_End_Date", "Service_Type",
           "Service_Component", "Route_of_Access", "Hospital_Discharge_Date", "Event_Outcome"]
KEY = "Event_Reference"
RES = "Long Term Support: Residential Care"
NUR = "Long Term Support: Nursing Care"
NAT = np.datetime64("NaT", "D")


def _nat(n: int) -> np.ndarray:
    return np.full(n, NAT, dtype="M8[D]")


class _Events:
    """Accumulates events (as arrays) and the date of death of each person."""

    def __init__(self):
        self.parts: list[pd.DataFrame] = []
        self.deaths: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, pid, *, event_type, start, end=None, service_type="", component="", route="", hosp=None, outcome="",
            client="Service User"):
        n = len(pid)
        self.parts.append(pd.DataFrame({
            "pid": np.asarray(pid, dtype=np.int64),
            "client": _col(client, n), "etype": _col(event_type, n), "stype": _col(service_type, n),
            "comp": _col(component, n), "route": _col(route, n),
            "start": np.asarray(start, dtype="M8[D]"),
            "end": _nat(n) if end is None else np.asarray(end, dtype="M8[D]"),
            "hosp": _nat(n) if hosp is None else np.asarray(hosp, dtype="M8[D]"),
            "outcome": _col(outcome, n),
        }))

    def die(self, pid, dod):
        self.deaths.append((np.asarray(pid, dtype=np.int64), np.asarray(dod, dtype="M8[D]")))


def _col(value, n):
    return np.broadcast_to(np.asarray(value, dtype=object), (n,)).copy()


def _uniform_days(rng, lo, hi, n):
    return rng.integers(lo, hi + 1, size=n) * DAY


def _placements(unit: Unit, rng: np.random.Generator, ev: _Events, pid: np.ndarray, start: np.ndarray, *, outcome, route,
                death_mean_years: float, move_per_year: float, clock_from: np.ndarray | None = None,
                hosp: np.ndarray | None = None):
    """Residential/nursing placements starting `start`, with later death and moves between homes."""
    n = len(pid)
    stype = np.where(rng.random(n) < 0.6, RES, NUR).astype(object)
    clock = start if clock_from is None else clock_from
    dod = clock + (rng.exponential(death_mean_years * 365.25, n).astype(np.int64) + 1) * DAY
    move = clock + (rng.exponential(365.25 / move_per_year, n).astype(np.int64) + 1) * DAY
    moves = (move < dod) & (move <= unit.range_end)
    end = np.where(moves, move, np.where(dod <= unit.range_end, dod, NAT))
    ev.add(pid, event_type="Service", service_type=stype, component=np.where(stype == RES, "Residential", "Nursing"),
           route=route, start=start, end=end, outcome=outcome, hosp=hosp)
    if moves.any():
        new_type = np.where(rng.random(int(moves.sum())) < 0.6, NUR, stype[moves]).astype(object)
        new_end = np.where(dod[moves] <= unit.range_end, dod[moves], NAT)
        ev.add(pid[moves], event_type="Service", service_type=new_type,
               component=np.where(new_type == RES, "Residential", "Nursing"), route="Planned Entry",
               start=move[moves] + rng.integers(0, 2, int(moves.sum())) * DAY, end=new_end,
               outcome=np.asarray(outcome, dtype=object) if np.ndim(outcome) == 0 else outcome[moves])
    died = dod <= unit.range_end
    ev.die(pid[died], dod[died])


def _new_people(unit: Unit, rng: np.random.Generator, annual: float, rate: np.ndarray, season=cal.SEASON_FLAT, lsoa_known=True):
    counts = monthly_counts(rng, annual, unit.months, season, unit.factor)
    dates = dates_in_months(rng, unit.months, counts)
    lsoa, age = unit.people.sample(len(dates), rate, unit.mid_year)
    if not lsoa_known:
        lsoa = np.full(len(dates), -1)
    return unit.people.add(lsoa, age, dates), dates


def _reablement_from_hospital(unit: Unit, rng: np.random.Generator, ev: _Events, spells: pd.DataFrame, annual: float,
                              over_65: bool) -> list[pd.DataFrame]:
    dis = (spells["admidate"].to_numpy().astype("M8[D]") + spells["los"].to_numpy() * DAY)
    t = unit.people.table
    age_dis = age_at(t["dob"][spells["pid"].to_numpy()], dis)
    ok = (spells["stream"].isin(["general", "acsc", "falls65", "readmission"]).to_numpy()
          & (spells["dismeth"] == "1").to_numpy() & (spells["disdest"] == "19").to_numpy()
          & (dis >= unit.start) & (dis <= unit.end) & (dis <= unit.range_end)
          & ((age_dis >= 65) if over_65 else ((age_dis >= 18) & (age_dis < 65))))
    cand = spells[ok].assign(dis=dis[ok]).drop_duplicates("pid")
    expected = monthly_expected(annual, unit.months, cal.SEASON_NEL, unit.factor).sum()
    n = min(int(rng.poisson(expected)), len(cand))
    chosen = cand.iloc[np.sort(rng.choice(len(cand), size=n, replace=False))] if n else cand.iloc[:0]
    pid = chosen["pid"].to_numpy()
    dis = chosen["dis"].to_numpy().astype("M8[D]")
    delay = np.where(rng.random(n) < 0.7, 0, np.where(rng.random(n) < 0.67, 1, rng.integers(2, 4, n)))
    start = dis + delay * DAY
    end = start + _uniform_days(rng, 10, 42, n)
    d = dis + 91 * DAY
    u = rng.random(n)
    died = u < cal.REAB_DIED
    care = (u >= cal.REAB_DIED) & (u < cal.REAB_DIED + cal.REAB_CARE_HOME)
    in_hosp = (u >= cal.REAB_DIED + cal.REAB_CARE_HOME) & (u < cal.REAB_DIED + cal.REAB_CARE_HOME + cal.REAB_IN_HOSPITAL)
    if not over_65:
        care[:] = False
    dod = dis + _uniform_days(rng, 3, 91, n)
    end = np.where(died & (dod < end), dod, end)
    request = rng.random(n) < 0.6
    ev.add(pid[request], event_type="Request", start=dis[request] - DAY, end=dis[request] - DAY, route="Discharge from Hospital",
           outcome="Assessment")
    ev.add(pid, event_type="Service", service_type="Short Term Support: ST-Max", component="Reablement",
           route="Discharge from Hospital", start=start, end=end, hosp=dis, outcome=choose(rng, cal.SC_REAB_OUTCOMES, n))
    ev.die(pid[died], dod[died])
    if care.any():
        k = int(care.sum())
        c_start = dis[care] + _uniform_days(rng, 14, 85, k)
        _placements(unit, rng, ev, pid[care], c_start, outcome="", route="Community / Other Route", death_mean_years=2.5,
                    move_per_year=0.0001)
    extra = []
    if in_hosp.any():
        k = int(in_hosp.sum())
        adm = d[in_hosp] - rng.integers(0, 8, k) * DAY
        los = (d[in_hosp] - adm).astype("m8[D]").astype(np.int64) + rng.integers(1, 16, k)
        extra.append(hospital.follow_up_spells(unit, rng, pid[in_hosp], adm, los, chosen["prov"].to_numpy()[in_hosp]))
    # some go on to home care
    home = ~died & ~care & (rng.random(n) < 0.15)
    ev.add(pid[home], event_type="Service", service_type="Long Term Support: Community", component="Home Care",
           route="Discharge from Hospital", start=end[home] + DAY, end=None, outcome="")
    return extra


def build(unit: Unit, spells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(social_care rows with _delivery/_run, follow-up hospital spells to add to hes_apc)."""
    rng = unit.rng("social_care")
    ev = _Events()
    people = unit.people

    # care home stock open when the range starts (first unit of the HWB only)
    if unit.first_of_hwb:
        n = int(rng.poisson(cal.CARE_HOME_STOCK * unit.size_factor))
        lsoa, age = people.sample(n, cal.RATE_CARE_HOME, unit.mid_year)
        start = unit.range_start - _uniform_days(rng, 30, 2500, n)
        age = np.maximum(age - ((unit.range_start - start).astype("m8[D]").astype(np.int64) // 365), 65)
        pid = people.add(lsoa, age, start)
        outcome = np.where(rng.random(n) < 0.08, "NFA - Self-funded", "").astype(object)
        _placements(unit, rng, ev, pid, start, outcome=outcome, route=choose(rng, cal.SC_ROUTES_LTS, n), death_mean_years=3.5,
                    move_per_year=0.06, clock_from=np.full(n, unit.range_start))

    # new permanent admissions
    for annual, rate, outcome in ((cal.RES65_ADMISSIONS, cal.RATE_CARE_HOME, ""), (cal.RES_SELF_FUNDED, cal.RATE_CARE_HOME, "NFA - Self-funded"),
                                  (cal.RES_UNDER_65, cal.RATE_UNDER_65_ADULT, "")):
        pid, start = _new_people(unit, rng, annual, rate)
        n = len(pid)
        route = choose(rng, cal.SC_ROUTES_LTS, n)
        hosp = np.where(route == "Discharge from Hospital", start - rng.integers(0, 3, n) * DAY, NAT)
        assessed = rng.random(n) < 0.8
        a_start = start[assessed] - _uniform_days(rng, 7, 30, int(assessed.sum()))
        ev.add(pid[assessed], event_type="Assessment", start=a_start, end=a_start, route=route[assessed],
               outcome="NFA - Self-funded" if outcome else "Long Term Support")
        _placements(unit, rng, ev, pid, start, outcome=outcome, route=route, death_mean_years=2.5,
                    move_per_year=cal.RES_MOVES / max(cal.RES65_ADMISSIONS, 1), hosp=hosp)

    # reablement after a hospital discharge (linked to the person's real spell), and other reablement
    extra = _reablement_from_hospital(unit, rng, ev, spells, cal.REABLEMENT_FROM_HOSPITAL_65, over_65=True)
    extra += _reablement_from_hospital(unit, rng, ev, spells, cal.REABLEMENT_FROM_HOSPITAL_UNDER_65, over_65=False)
    pid, start = _new_people(unit, rng, cal.REABLEMENT_OTHER, cal.RATE_SOCIAL_CARE_ADULT)
    n = len(pid)
    ev.add(pid, event_type="Service", service_type="Short Term Support: ST-Max", component="Reablement",
           route=choose(rng, (["Community / Other Route", "Diversion from Hospital Services"], [0.7, 0.3]), n),
           start=start, end=start + _uniform_days(rng, 10, 42, n), outcome=choose(rng, cal.SC_REAB_OUTCOMES, n))

    # community long term support
    pid, start = _new_people(unit, rng, cal.LTS_COMMUNITY, cal.RATE_SOCIAL_CARE_ADULT)
    n = len(pid)
    end = np.where(rng.random(n) < 0.35, start + _uniform_days(rng, 30, 400, n), NAT)
    dies = rng.random(n) < 0.10
    dod = start + _uniform_days(rng, 30, 700, n)
    end = np.where(dies & (np.isnat(end) | (dod < end)), dod, end)
    end = np.where(end > unit.range_end, NAT, end)
    ev.add(pid, event_type="Service", service_type="Long Term Support: Community", component=choose(rng, cal.SC_COMMUNITY_COMPONENTS, n),
           route=choose(rng, cal.SC_ROUTES_LTS, n), start=start, end=end, outcome="")
    keep = dies & (dod <= unit.range_end)
    ev.die(pid[keep], dod[keep])

    # other short term support
    pid, start = _new_people(unit, rng, cal.SHORT_TERM_OTHER, cal.RATE_SOCIAL_CARE_ADULT)
    n = len(pid)
    ev.add(pid, event_type="Service", service_type="Short Term Support: Other Short Term",
           component=choose(rng, (["Equipment", "Short Term Residential"], [0.7, 0.3]), n),
           route=choose(rng, cal.SC_ROUTES_REQUEST, n), start=start, end=start + _uniform_days(rng, 1, 28, n), outcome="")

    # requests and assessments
    pid, start = _new_people(unit, rng, cal.REQUESTS, cal.RATE_SOCIAL_CARE_ADULT)
    n = len(pid)
    route = choose(rng, cal.SC_ROUTES_REQUEST, n)
    ev.add(pid, event_type="Request", start=start, end=start, route=route, outcome=choose(rng, cal.SC_REQUEST_OUTCOMES, n))
    assessed = rng.random(n) < cal.ASSESSMENT_SHARE
    k = int(assessed.sum())
    a_start = start[assessed] + _uniform_days(rng, 3, 28, k)
    ev.add(pid[assessed], event_type="Assessment", start=a_start, end=a_start + _uniform_days(rng, 0, 14, k), route=route[assessed],
           outcome=choose(rng, cal.SC_ASSESSMENT_OUTCOMES, k))

    # carers and prison
    pid, start = _new_people(unit, rng, cal.CARER_ASSESSMENTS, cal.RATE_CARER)
    ev.add(pid, client="Carer", event_type="Assessment", start=start, end=start, route="Community / Other Route",
           outcome=choose(rng, (["Carer Support", "NFA - No services provided", "Information and advice"], [0.5, 0.2, 0.3]), len(pid)))
    pid, start = _new_people(unit, rng, cal.CARER_SERVICES, cal.RATE_CARER)
    n = len(pid)
    ev.add(pid, client="Carer", event_type="Service", service_type="Short Term Support: Other Short Term",
           component=choose(rng, (["Direct Payment", "Respite"], [0.7, 0.3]), n), route="Community / Other Route",
           start=start, end=start + _uniform_days(rng, 1, 90, n), outcome="")
    pid, start = _new_people(unit, rng, cal.PRISON, cal.RATE_PRISON, lsoa_known=False)
    ev.add(pid, event_type="Service", service_type="Long Term Support: Prison", component="Personal Care", route="Prison",
           start=start, end=None, outcome="")

    events = pd.concat(ev.parts, ignore_index=True)
    _add_reviews(unit, rng, ev, events)
    events = pd.concat(ev.parts, ignore_index=True)
    frame = _rows(unit, rng, events, ev)
    extra_spells = pd.concat(extra, ignore_index=True) if extra else None
    return frame, extra_spells


def _add_reviews(unit: Unit, rng: np.random.Generator, ev: _Events, events: pd.DataFrame) -> None:
    lts = events[(events["etype"] == "Service") & events["stype"].astype(str).str.startswith("Long Term Support")]
    lo = np.maximum(lts["start"].to_numpy() + 42 * DAY, unit.start)
    end = lts["end"].to_numpy()
    hi = np.minimum(np.where(np.isnat(end), unit.end, end), unit.end)
    ok = hi > lo
    n = min(int(rng.poisson(cal.REVIEWS * unit.factor * len(unit.months) / 12)), int(ok.sum()))
    if n == 0:
        return
    pick = np.sort(rng.choice(np.flatnonzero(ok), size=n, replace=False))
    span = (hi[pick] - lo[pick]).astype("m8[D]").astype(np.int64)
    when = lo[pick] + (rng.random(n) * span).astype(np.int64) * DAY
    ev.add(lts["pid"].to_numpy()[pick], event_type="Review", start=when, end=when,
           outcome=choose(rng, (["No change in support", "Support increased", "Support reduced", "Support ended"], [0.6, 0.2, 0.15, 0.05]), n))


def _rows(unit: Unit, rng: np.random.Generator, events: pd.DataFrame, ev: _Events) -> pd.DataFrame:
    t = unit.people.table
    dod_of = np.full(len(unit.people), NAT, dtype="M8[D]")
    for pid, dod in ev.deaths:
        dod_of[pid] = np.fmin(dod_of[pid], dod)
    events = events[events["start"].to_numpy() <= unit.range_end].reset_index(drop=True)
    n = len(events)
    pid = events["pid"].to_numpy()
    start = events["start"].to_numpy().astype("M8[D]")
    end = events["end"].to_numpy().astype("M8[D]")
    end = np.where(end > unit.range_end, NAT, end)
    dod = dod_of[pid]
    dod = np.where(dod > unit.range_end, NAT, dod)
    death_update = np.where(dod >= start, dod, NAT)
    last = np.fmax(end, death_update)
    name1, run1 = quarterly_delivery(np.maximum(start, unit.range_start), unit.all_months, 14, "0100",
                                     "{ts}_{supplier}_cld_{period}.csv", unit.hwb.la_code)
    name2, run2 = quarterly_delivery(np.where(np.isnat(last), start, last), unit.all_months, 14, "0100",
                                     "{ts}_{supplier}_cld_{period}.csv", unit.hwb.la_code)
    resend = ~np.isnat(last) & (name2 != name1)

    serial = unit.state.take("event", n)
    sex = np.where(rng.random(n) < 0.01, "9", t["sex"][pid]).astype(object)
    sex[rng.random(n) < 0.003] = "X"
    lsoa = t["lsoa"][pid].copy()
    lsoa[rng.random(n) < 0.02] = ""
    base = pd.DataFrame({
        "LA_Code": unit.hwb.la_code,
        "LA_Person_Unique_Identifier": t["la_id"][pid],
        "NHS_Number": np.where(t["u_council"][pid] < cal.SOCIAL_CARE_NO_NHS, "", t["nhs"][pid]).astype(object),
        "Date_of_Birth": fmt_dates(t["dob"][pid]),
        "Gender": sex,
        "LSOA11": lsoa,
        "Date_of_Death": "",
        "Client_Type": events["client"].to_numpy(),
        "Event_Type": events["etype"].to_numpy(),
        "Event_Reference": concat_str(f"EV{unit.hwb.index + 1:03d}", fmt_ints(serial, 9)),
        "Event_Start_Date": fmt_dates(start),
        "Event_End_Date": "",
        "Service_Type": events["stype"].to_numpy(),
        "Service_Component": events["comp"].to_numpy(),
        "Route_of_Access": events["route"].to_numpy(),
        "Hospital_Discharge_Date": fmt_dates(events["hosp"].to_numpy()),
        "Event_Outcome": events["outcome"].to_numpy(),
    })
    first = base.copy()
    first["Event_End_Date"] = fmt_dates(np.where(end <= run1, end, NAT))
    first["Date_of_Death"] = fmt_dates(np.where(dod <= run1, dod, NAT))
    first["_delivery"], first["_run"] = name1, run1
    later = base[resend].copy()
    later["Event_End_Date"] = fmt_dates(end[resend])
    later["Date_of_Death"] = fmt_dates(np.where(dod[resend] <= run2[resend], dod[resend], NAT))
    later["_delivery"], later["_run"] = name2[resend], run2[resend]
    frame = pd.concat([first, later], ignore_index=True)
    return frame.sort_values(["_delivery", "Event_Start_Date", "Event_Reference"], kind="stable").reset_index(drop=True)
