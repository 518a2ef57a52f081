"""The ambulance contract of feeds.md as a FeedSpec: one row per incident with a patient.

Belongs here: the columns, key, code lists and rules of the ambulance feed. Does not: how rules
run (cb_pipeline/lib/ingest) or what an incident counts towards (dbt_like_sql).

CALL_DATETIME is stored as its date part (a DATE column): only the date decides the period, and
the time of day is needed by no metric. It must carry a clock time (`YYYY-MM-DD HH:MM[:SS]`);
a bare date or an impossible time is `date_invalid`. INCIDENT_LSOA11 is the place of the incident,
used as the residence for HWB attribution: empty or unknown is the `residence_unknown` warning.
There is no fallback person id: without a valid NHS number, person_key is empty.
"""

from cb_pipeline.lib.ingest import codes
from cb_pipeline.lib.ingest.spec import Column, FeedSpec

LOCATION_TYPE = frozenset({"HOME", "CARE_HOME", "PUBLIC_PLACE", "HEALTHCARE_SETTING", "OTHER"})
CATEGORY = frozenset({"1", "2", "3", "4", "HCP"})
OUTCOME = frozenset({"HEAR_AND_TREAT", "SEE_AND_TREAT", "CONVEY_ED", "CONVEY_OTHER"})

SPEC = FeedSpec(
    name="ambulance",
    description="Ambulance service incidents with a patient, one row per incident.",
    key=("INCIDENT_ID",),
    columns=(
        Column("INCIDENT_ID", required=True),
        Column("CALL_DATETIME", "datetime", required=True),
        Column("NHSNUMBER", "nhs_number"),
        Column("PATIENT_AGE", "age"),  # optional: an invalid age is a warning, stored as NULL
        Column("PATIENT_SEX", "code", codes=codes.SEX, code_list_name="sex"),
        Column("INCIDENT_LSOA11", "lsoa", required=True),
        Column("LOCATION_TYPE", "code", required=True, codes=LOCATION_TYPE, code_list_name="location type"),
        Column("CARE_HOME_ID"),
        Column("CATEGORY", "code", codes=CATEGORY, code_list_name="response category"),
        Column("OUTCOME", "code", required=True, codes=OUTCOME, code_list_name="incident outcome"),
        Column("DESTINATION_SITE"),
    ),
)
