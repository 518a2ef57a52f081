"""The social_care contract of feeds.md as a FeedSpec: adult social care client level data events.

Belongs here: the columns, key, code lists and rules of the social care feed, and reducing the
date of birth to the two ages the metrics need. Does not: how rules run (cb_pipeline/lib/ingest)
or which events count for which metric (dbt_like_sql).

Key: LA_Code + Event_Reference (feeds.md: the event reference is unique within the council, so
two councils' references may collide). person_key: the HMAC of a valid NHS number, else
`<LA_Code>:<LA_Person_Unique_Identifier>` (person_key_source `la_person_id`), else empty.

Date_of_Birth is read, checked (`date_invalid`, `date_future`, `date_of_birth_after_event`) and
turned into `age_at_event_start` and `age_at_hospital_discharge` (whole years: the number of
birthdays passed), then dropped (`keep=False`): it is written to no table, *including the
quarantine table*. feeds.md says quarantine keeps the raw values, but it also says dates of birth
are dropped at ingest, and a date of birth is the most identifying value in this feed; a supplier
fixing a quarantined row finds it by file name and row number, and the reasons say which rule
failed, so the raw date adds nothing a correction needs. Malformed rows' raw lines have every date
removed for the same reason (engine).

Codes with mixed-case lists (`Service User`, `Long Term Support: Residential Care`) match
case-insensitively and are stored as feeds.md spells them.
"""

import pandas as pd

from cb_pipeline.lib.ingest.spec import Column, Context, FeedSpec, Rule

GENDER = frozenset({"1", "2", "9", "X"})  # not codes.SEX: this list has X, not 0
CLIENT_TYPE = frozenset({"Service User", "Carer"})
EVENT_TYPE = frozenset({"Request", "Assessment", "Service", "Review"})
SERVICE_TYPE = frozenset({
    "Long Term Support: Residential Care", "Long Term Support: Nursing Care", "Long Term Support: Community",
    "Long Term Support: Prison", "Short Term Support: ST-Max", "Short Term Support: Other Short Term",
})
ROUTE_OF_ACCESS = frozenset({"Discharge from Hospital", "Diversion from Hospital Services", "Community / Other Route",
                             "Prison", "Planned Entry"})


def whole_years(born: pd.Series, on: pd.Series) -> pd.Series:
    """Completed years from `born` to `on` (a birthday on 29 February counts from 1 March in
    other years); NA where either is missing or `on` is before `born`."""
    b, o = pd.to_datetime(born), pd.to_datetime(on)
    years = o.dt.year - b.dt.year
    before_birthday = (o.dt.month < b.dt.month) | ((o.dt.month == b.dt.month) & (o.dt.day < b.dt.day))
    age = (years - before_birthday.astype("Int64")).astype("Int64")
    return age.where(age >= 0)


def _derive(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {
        "age_at_event_start": whole_years(frame["date_of_birth"], frame["event_start_date"]),
        "age_at_hospital_discharge": whole_years(frame["date_of_birth"], frame["hospital_discharge_date"]),
    }


def _rules(spec: FeedSpec, ctx: Context) -> list[Rule]:
    return [
        Rule("date_of_birth_after_event", "fatal", "Date_of_Birth", "Date_of_Birth is after Event_Start_Date",
             "correct Date_of_Birth or Event_Start_Date",
             lambda f: ~(f["date_of_birth"] > f["event_start_date"]).fillna(False).astype(bool)),
    ]


SPEC = FeedSpec(
    name="social_care",
    description="Adult social care client level data: one row per request, assessment, service or review event.",
    key=("LA_Code", "Event_Reference"),
    fallback_person_id="LA_Person_Unique_Identifier",
    fallback_person_source="la_person_id",
    fallback_prefix_column="LA_Code",
    date_order=(("Event_Start_Date", "Event_End_Date"),),
    extra_rules=_rules,
    derive=_derive,
    derived_columns=(("age_at_event_start", "integer"), ("age_at_hospital_discharge", "integer")),
    columns=(
        Column("LA_Code", required=True),
        Column("LA_Person_Unique_Identifier", required=True),
        Column("NHS_Number", "nhs_number"),
        Column("Date_of_Birth", "date", required=True, keep=False),
        Column("Gender", "code", codes=GENDER, code_list_name="gender"),
        Column("LSOA11", "lsoa"),
        Column("Date_of_Death", "date"),
        Column("Client_Type", "code", required=True, codes=CLIENT_TYPE, code_list_name="client type"),
        Column("Event_Type", "code", required=True, codes=EVENT_TYPE, code_list_name="event type"),
        Column("Event_Reference", required=True),
        Column("Event_Start_Date", "date", required=True),
        Column("Event_End_Date", "date"),
        # Required for services only: a delivery of requests and assessments may leave the column out.
        Column("Service_Type", "code", codes=SERVICE_TYPE,
               code_list_name="service type", mandatory_when=("Event_Type", "Service")),
        Column("Service_Component"),
        Column("Route_of_Access", "code", codes=ROUTE_OF_ACCESS, code_list_name="route of access"),
        Column("Hospital_Discharge_Date", "date"),
        Column("Event_Outcome"),
    ),
)
