"""Hand-made landing zones for the metric tests: write CSVs, ingest, run the SQL models, query.

A `Scenario` collects rows (hes_apc episodes, hes_ae attendances, ambulance incidents, social
care events, dtoc rows, finance lines, plan targets, population files) and `build()` writes them
as feed deliveries in the feeds.md shape, ingests them with the real ingest engine, loads a tiny
reference lookup, runs every SQL model and every test declared in the models' .yml files (a
failing .yml test fails the building test).

NHS numbers in fixtures are synthetic numbers of the 999 test range (`synthetic_nhs_number`); ingest
turns them into keyed hashes like any other.

Geography (synthetic codes):
    HWB_A E06000901 "Alphaton": locality AN (LSOA_A1, LSOA_A2), locality AS (LSOA_A3)
    HWB_B E06000902 "Betaford": locality BW (LSOA_B1)
    LSOA_UNKNOWN is in no HWB (residence_unknown): used for the coverage filler rows.
    LA_OTHER E06000999 is a council that is no HWB of the lookup (social care and dtoc fillers).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from cb_pipeline.lib.sql_models import discover, run_models, test_queries
from cb_pipeline.lib.warehouse import Warehouse

HWB_A, HWB_A_NAME = "E06000901", "Alphaton"
HWB_B, HWB_B_NAME = "E06000902", "Betaford"
LSOA_A1, LSOA_A2, LSOA_A3, LSOA_B1 = "E01090001", "E01090002", "E01090003", "E01090004"
LSOA_UNKNOWN = "E01099999"
LA_OTHER = "E06000999"
LOCALITIES = {HWB_A: ["AN", "AS"], HWB_B: ["BW"]}

REFERENCE_ROWS = [
    (LSOA_A1, "Alphaton 001A", "E02090001", "Alphaton North 1", HWB_A, HWB_A_NAME, "AN", "Alphaton North"),
    (LSOA_A2, "Alphaton 001B", "E02090001", "Alphaton North 1", HWB_A, HWB_A_NAME, "AN", "Alphaton North"),
    (LSOA_A3, "Alphaton 002A", "E02090002", "Alphaton South 1", HWB_A, HWB_A_NAME, "AS", "Alphaton South"),
    (LSOA_B1, "Betaford 001A", "E02090003", "Betaford West 1", HWB_B, HWB_B_NAME, "BW", "Betaford West"),
]
REFERENCE_HEADER = ["lsoa11_code", "lsoa11_name", "msoa11_code", "msoa11_name", "la_code", "la_name",
                    "locality_code", "locality_name"]

# Every delivery is named with a run date after all fixture dates (date_future never fires).
RUN_STAMP = "20220401T0000"

APC_HEADER = (["EPIKEY", "PROCODE3", "NHSNUMBER", "PSEUDO_HESID", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE",
               "EPIORDER", "SPELEND", "ADMIMETH", "ADMISORC", "CLASSPAT", "DISMETH", "DISDEST", "STARTAGE", "SEX",
               "LSOA11", "GPPRAC", "TRETSPEF"] + [f"DIAG_4_{i:02d}" for i in range(1, 21)])
AE_HEADER = ["AEKEY", "PROCODE3", "NHSNUMBER", "PSEUDO_HESID", "ARRIVALDATE", "ARRIVALTIME", "ARRIVALAGE", "SEX",
             "LSOA11", "GPPRAC", "AEATTENDCAT", "AEARRIVALMODE", "AEDEPTTYPE", "AEATTENDDISP", "DIAG2_01", "DIAG3_01"]
PLAN_HEADER = ["hwb_code", "financial_year", "quarter", "metric_id", "target"]
AMBULANCE_HEADER = ["INCIDENT_ID", "CALL_DATETIME", "NHSNUMBER", "PATIENT_AGE", "PATIENT_SEX", "INCIDENT_LSOA11",
                    "LOCATION_TYPE", "CARE_HOME_ID", "CATEGORY", "OUTCOME", "DESTINATION_SITE"]
SOCIAL_CARE_HEADER = ["LA_Code", "LA_Person_Unique_Identifier", "NHS_Number", "Date_of_Birth", "Gender", "LSOA11",
                      "Date_of_Death", "Client_Type", "Event_Type", "Event_Reference", "Event_Start_Date",
                      "Event_End_Date", "Service_Type", "Service_Component", "Route_of_Access",
                      "Hospital_Discharge_Date", "Event_Outcome"]
DTOC_HEADER = ["Period", "Provider_Code", "LA_Code", "Agency", "Type_of_Care", "Reason", "Delayed_Days"]
FINANCE_HEADER = ["hwb_code", "financial_year", "quarter", "scheme_id", "scheme_name", "line_type", "funding_source",
                  "plan_amount", "actual_amount"]
RESIDENTIAL = "Long Term Support: Residential Care"
NURSING = "Long Term Support: Nursing Care"
POPULATION_AGES = [str(a) for a in range(90)] + ["90+"]

Q1, Q2, Q3, Q4 = "2018-04-01", "2018-07-01", "2018-10-01", "2019-01-01"

NA = "Data not available to assess progress"
ON_TRACK = "On track to meet target"
NOT_ON_TRACK = "Not on track to meet target"


def months(first: str, last: str) -> list[str]:
    """'2018-04', '2018-06' -> ['2018-04', '2018-05', '2018-06']."""
    y, m = map(int, first.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def synthetic_nhs_number(n: int) -> str:
    """A synthetic NHS number of the 999 test range, distinct for each n, passing the modulus 11 check."""
    for body in range(999_000_000 + 1000 * n, 999_000_000 + 1000 * (n + 1)):
        total = sum(int(d) * w for d, w in zip(str(body), range(10, 1, -1)))
        check = (11 - total % 11) % 11  # 11 -> 0
        if check != 10:
            return f"{body}{check}"
    raise ValueError(n)


def flat_population(per_age: float = 1000.0, **overrides: float) -> dict[str, float]:
    """Single-year ages 0..89 and 90+ with `per_age` persons each, e.g. overrides {'90+': 10}."""
    pop = {a: per_age for a in POPULATION_AGES}
    pop.update(overrides)
    return pop


_counter = itertools.count(1)


@dataclass
class Scenario:
    """Rows for one hand-made landing zone. Coverage fillers (non-resident rows, one a month) are
    added for `cover_apc` / `cover_ae` months so that the feeds cover exactly those months."""

    cover_apc: list[str] = field(default_factory=lambda: months("2018-04", "2018-12"))
    cover_ae: list[str] = field(default_factory=lambda: months("2018-04", "2018-12"))
    cover_ambulance: list[str] = field(default_factory=lambda: months("2018-04", "2018-12"))
    cover_social_care: list[str] = field(default_factory=lambda: months("2018-04", "2018-12"))
    cover_dtoc: list[str] = field(default_factory=lambda: months("2018-04", "2018-12"))
    apc: list[dict] = field(default_factory=list)
    ae: list[dict] = field(default_factory=list)
    ambulance: list[dict] = field(default_factory=list)
    social_care: list[dict] = field(default_factory=list)
    dtoc: list[dict] = field(default_factory=list)
    finance: list[dict] = field(default_factory=list)
    plan: list[dict] = field(default_factory=list)
    # file name -> list of (area_code column value, {age: population})
    population_files: dict[str, list[tuple[str, dict]]] = field(default_factory=dict)
    # extra raw deliveries: (feed, file name, header, rows) written as given
    raw_deliveries: list[tuple[str, str, list[str], list[dict]]] = field(default_factory=list)
    reference_rows: list[tuple] = field(default_factory=lambda: list(REFERENCE_ROWS))

    def __post_init__(self):
        self._default_population = not self.population_files
        if self._default_population:
            # default: mid-2017 HWB rows, 100,000 persons each (1,000 per age 0..89, 10,000 aged 90+)
            self.population_files["ons_mye_mid-2017_fixture.csv"] = [
                (HWB_A, flat_population(1000.0, **{"90+": 10000.0})),
                (HWB_B, flat_population(1000.0, **{"90+": 10000.0})),
            ]

    # ---- rows ------------------------------------------------------------------------------

    def episode(self, admidate: str, epikey: str | None = None, **values) -> str:
        """One hes_apc episode: resident in LSOA_A1, EPIORDER 1, ADMIMETH 21, STARTAGE 50,
        TRETSPEF 300 unless overridden (keyword names are the feed's column names, any case)."""
        epikey = epikey or f"EP{next(_counter):06d}"
        row = {"EPIKEY": epikey, "PROCODE3": "RXA", "ADMIDATE": admidate, "EPIORDER": "1", "ADMIMETH": "21",
               "STARTAGE": "50", "LSOA11": LSOA_A1, "TRETSPEF": "300"}
        row.update({k.upper(): ("" if v is None else str(v)) for k, v in values.items()})
        self.apc.append(row)
        return epikey

    def attendance(self, arrivaldate: str, aekey: str | None = None, **values) -> str:
        """One hes_ae attendance: resident in LSOA_A1, age 30, AEATTENDCAT 1 unless overridden."""
        aekey = aekey or f"AE{next(_counter):06d}"
        row = {"AEKEY": aekey, "PROCODE3": "RXA", "ARRIVALDATE": arrivaldate, "ARRIVALAGE": "30",
               "LSOA11": LSOA_A1, "AEATTENDCAT": "1"}
        row.update({k.upper(): ("" if v is None else str(v)) for k, v in values.items()})
        self.ae.append(row)
        return aekey

    def incident(self, call_date: str, incident_id: str | None = None, **values) -> str:
        """One ambulance incident at a care home in LSOA_A1, conveyed to ED, unless overridden
        (CALL_DATETIME gets a time of day)."""
        incident_id = incident_id or f"INC{next(_counter):06d}"
        row = {"INCIDENT_ID": incident_id, "CALL_DATETIME": f"{call_date} 10:30", "INCIDENT_LSOA11": LSOA_A1,
               "LOCATION_TYPE": "CARE_HOME", "OUTCOME": "CONVEY_ED", "PATIENT_AGE": "85"}
        row.update({k.upper(): ("" if v is None else str(v)) for k, v in values.items()})
        self.ambulance.append(row)
        return incident_id

    def care_event(self, start: str, person: str, event_reference: str | None = None, *, dob: str = "1940-01-01",
                   service_type: str | None = RESIDENTIAL, la_code: str = HWB_A, **values) -> str:
        """One social care Service event of a Service User of council `la_code` (LA person id
        `person`, born `dob`), residential care unless overridden; other keyword names are the
        feed's column names in any case (end=..., nhs_number=..., event_outcome=...)."""
        event_reference = event_reference or f"EV{next(_counter):06d}"
        row = {"LA_Code": la_code, "LA_Person_Unique_Identifier": person, "Date_of_Birth": dob,
               "Client_Type": "Service User", "Event_Type": "Service", "Event_Reference": event_reference,
               "Event_Start_Date": start, "Service_Type": service_type or "", "LSOA11": LSOA_A1}
        names = {c.lower(): c for c in SOCIAL_CARE_HEADER}
        aliases = {"end": "Event_End_Date"}
        for k, v in values.items():
            column = aliases.get(k) or names[k.lower()]
            row[column] = "" if v is None else str(v)
        self.social_care.append(row)
        return event_reference

    def reablement(self, discharge: str, person: str, event_reference: str | None = None, **values) -> str:
        """A reablement (Short Term Support: ST-Max, Reablement) service starting on the day of the
        hospital discharge, of a person aged 78."""
        values.setdefault("service_component", "Reablement")
        values.setdefault("route_of_access", "Discharge from Hospital")
        values.setdefault("hospital_discharge_date", discharge)
        return self.care_event(discharge, person, event_reference, service_type="Short Term Support: ST-Max", **values)

    def delayed(self, period: str, days: int, agency: str = "NHS", la_code: str = HWB_A, provider: str = "RXA",
                type_of_care: str = "Acute", reason: str = "A") -> None:
        self.dtoc.append({"Period": period, "Provider_Code": provider, "LA_Code": la_code, "Agency": agency,
                          "Type_of_Care": type_of_care, "Reason": reason, "Delayed_Days": str(days)})

    def finance_line(self, quarter: int, line_type: str, funding_source: str, plan: float, actual: float | None,
                     hwb: str = HWB_A, fy: str = "2018-19", scheme: str = "S1") -> None:
        self.finance.append({"hwb_code": hwb, "financial_year": fy, "quarter": str(quarter), "scheme_id": scheme,
                             "scheme_name": f"Scheme {scheme}", "line_type": line_type,
                             "funding_source": funding_source, "plan_amount": str(plan),
                             "actual_amount": "" if actual is None else str(actual)})

    def target(self, metric_id: str, quarter: int, target: float, hwb: str = HWB_A, fy: str = "2018-19") -> None:
        self.plan.append({"hwb_code": hwb, "financial_year": fy, "quarter": str(quarter),
                          "metric_id": metric_id, "target": str(target)})

    def population(self, mid_year: int, area_code: str, ages: dict[str, float], suffix: str = "fixture") -> None:
        """Add a row to the population file `ons_mye_mid-<mid_year>_<suffix>.csv` (suffix `lsoa`
        writes the LSOA shape, with an `lsoa11_code` column). Replaces the default population."""
        if self._default_population:
            self.population_files.clear()
            self._default_population = False
        name = f"ons_mye_mid-{mid_year}_{suffix}.csv"
        self.population_files.setdefault(name, []).append((area_code, ages))

    # ---- landing zone ----------------------------------------------------------------------

    def write(self, root: Path) -> tuple[Path, Path]:
        landing, reference = root / "landing", root / "reference"
        for d in FEEDS:
            (landing / d).mkdir(parents=True, exist_ok=True)
        reference.mkdir(parents=True, exist_ok=True)
        _write_csv(reference / "lsoa_localities.csv", REFERENCE_HEADER,
                   [dict(zip(REFERENCE_HEADER, r)) for r in self.reference_rows])

        fill_apc = [{"EPIKEY": f"FILL{m.replace('-', '')}", "PROCODE3": "RXZ", "ADMIDATE": f"{m}-15",
                     "EPIORDER": "1", "ADMIMETH": "11", "STARTAGE": "40", "LSOA11": LSOA_UNKNOWN}
                    for m in self.cover_apc]
        fill_ae = [{"AEKEY": f"FILL{m.replace('-', '')}", "PROCODE3": "RXZ", "ARRIVALDATE": f"{m}-15",
                    "ARRIVALAGE": "40", "LSOA11": LSOA_UNKNOWN, "AEATTENDCAT": "1"} for m in self.cover_ae]
        _write_csv(landing / "hes_apc" / f"{RUN_STAMP}_RXA_apc.csv", APC_HEADER, fill_apc + self.apc)
        _write_csv(landing / "hes_ae" / f"{RUN_STAMP}_RXA_ae.csv", AE_HEADER, fill_ae + self.ae)
        _write_csv(landing / "plan" / f"{RUN_STAMP}_plan.csv", PLAN_HEADER, self.plan)
        # fillers that cover a month without counting anywhere: an incident outside the lookup,
        # a request and a zero-day delay of a council that is no HWB
        fill_ambulance = [{"INCIDENT_ID": f"FILL{m.replace('-', '')}", "CALL_DATETIME": f"{m}-15 12:00",
                           "INCIDENT_LSOA11": LSOA_UNKNOWN, "LOCATION_TYPE": "HOME", "OUTCOME": "SEE_AND_TREAT"}
                          for m in self.cover_ambulance]
        fill_social_care = [{"LA_Code": LA_OTHER, "LA_Person_Unique_Identifier": "FILL", "Date_of_Birth": "1960-01-01",
                             "Client_Type": "Service User", "Event_Type": "Request",
                             "Event_Reference": f"FILL{m.replace('-', '')}", "Event_Start_Date": f"{m}-15"}
                            for m in self.cover_social_care]
        fill_dtoc = [{"Period": m, "Provider_Code": "RXZ", "LA_Code": LA_OTHER, "Agency": "NHS",
                      "Type_of_Care": "Acute", "Reason": "A", "Delayed_Days": "0"} for m in self.cover_dtoc]
        for feed, header, fill, rows in (("ambulance", AMBULANCE_HEADER, fill_ambulance, self.ambulance),
                                         ("social_care", SOCIAL_CARE_HEADER, fill_social_care, self.social_care),
                                         ("dtoc", DTOC_HEADER, fill_dtoc, self.dtoc),
                                         ("finance", FINANCE_HEADER, [], self.finance)):
            if fill or rows:
                _write_csv(landing / feed / f"{RUN_STAMP}_{feed}.csv", header, fill + rows)
        for name, rows in self.population_files.items():
            code_column = "lsoa11_code" if "_lsoa" in name else "area_code"
            header = [code_column, "area_name", "total_population"] + POPULATION_AGES
            out = []
            for area_code, ages in rows:
                r = {code_column: area_code, "area_name": area_code,
                     "total_population": _fmt(sum(ages[a] for a in POPULATION_AGES))}
                r.update({a: _fmt(ages[a]) for a in POPULATION_AGES})
                out.append(r)
            _write_csv(landing / "population" / name, header, out)
        for feed, name, header, rows in self.raw_deliveries:
            (landing / feed).mkdir(parents=True, exist_ok=True)
            _write_csv(landing / feed / name, header, rows)
        return landing, reference

    def build(self, root: Path, url: str | None = None) -> "Built":
        landing, reference = self.write(root)
        warehouse = Warehouse(url or f"duckdb:///{root}/w.duckdb")
        return build_warehouse(warehouse, landing, reference)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in header})


FEEDS = ("hes_apc", "hes_ae", "ambulance", "social_care", "dtoc", "population", "finance", "plan")


def build_warehouse(warehouse: Warehouse, landing: Path, reference: Path) -> "Built":
    from cb_pipeline.lib.ingest import ingest_feed
    from cb_pipeline.reference import load_reference

    load_reference(warehouse, reference)
    for feed in FEEDS:
        ingest_feed(warehouse, feed, landing, key=b"test-key")
    models = _models()
    run_models(warehouse, models)
    failures = yml_test_failures(warehouse, models)
    assert not failures, "yml tests failed: " + "; ".join(failures)
    return Built(warehouse)


@functools.cache
def _models() -> dict:
    """The model files do not change during a test session: parse them (~0.1 s) once."""
    return discover()


def yml_test_failures(warehouse: Warehouse, models: dict) -> list[str]:
    """The tests every model's .yml declares: the very queries `run_tests` runs, but over one
    connection (run_tests opens one per query, ~30 ms each, which would dominate these tests).
    test_return_cells also calls `run_tests` itself on a full fixture."""
    failures = []
    with warehouse.begin() as conn:
        for name, model in models.items():
            for label, sql in test_queries(model):
                n = conn.execute(sa.text(sql)).scalar()
                if n:
                    failures.append(f"{name}: {label} ({n} rows)")
    return failures


@dataclass
class Built:
    w: Warehouse

    def rows(self, sql: str, **params) -> list[dict]:
        """Query rows as dicts, NULL/NaN -> None."""
        return [{k: _clean(v) for k, v in r.items()} for r in self.w.query_df(sql, params).to_dict("records")]

    def metric(self, metric_id: str, quarter: str = Q1, hwb: str = HWB_A) -> dict:
        rows = self.rows("select * from fct_bcf_metrics_quarterly where hwb_code = :h and metric_id = :m "
                         "and quarter_start = :q", h=hwb, m=metric_id, q=dt.date.fromisoformat(quarter))
        assert len(rows) == 1, f"{metric_id} {hwb} {quarter}: {len(rows)} rows"
        return {k: _clean(v) for k, v in rows[0].items()}

    def dash(self, measure_id: str, quarter: str = Q1, locality: str = "ALL", hwb: str = HWB_A) -> dict:
        rows = self.rows("select * from fct_place_dashboard_quarterly where hwb_code = :h and measure_id = :m "
                         "and quarter_start = :q and locality_code = :l",
                         h=hwb, m=measure_id, q=dt.date.fromisoformat(quarter), l=locality)
        assert len(rows) == 1, f"{measure_id} {hwb} {quarter} {locality}: {len(rows)} rows"
        return {k: _clean(v) for k, v in rows[0].items()}

    def flags(self, model: str, key: str, column: str) -> dict:
        return {r[key]: _clean(r[column]) for r in self.rows(f'select {key}, {column} from "{model}"')}

    def cells(self, quarter: str = Q1, hwb: str = HWB_A) -> dict:
        """defined name -> number, text, or None (empty cell)."""
        out = {}
        for r in self.rows("select defined_name, value_number, value_text from rpt_bcf_return__cells "
                           "where hwb_code = :h and quarter_start = :q", h=hwb, q=dt.date.fromisoformat(quarter)):
            number, text = _clean(r["value_number"]), _clean(r["value_text"])
            assert number is None or text is None
            out[r["defined_name"]] = text if text is not None else number
        return out

    def quarters(self) -> list[str]:
        return [str(r["quarter_start"]) for r in self.rows(
            "select quarter_start from int_calendar__fy_quarters order by quarter_start")]


def _clean(v):
    """NaN/NA -> None; numpy scalars -> Python; whole floats stay floats."""
    try:
        import pandas as pd
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, dt.datetime):
        return v.date()
    return v
