"""The hes_ae contract of feeds.md as a FeedSpec: columns, key, codes, fatal and warning rules.

Belongs here: what this feed's columns are and which rules apply. Does not: how rules run
(cb_pipeline/lib/ingest) or what the rows mean for metrics (dbt_like_sql/staging).
"""

from cb_pipeline.lib.ingest import codes
from cb_pipeline.lib.ingest.spec import Column, FeedSpec

SPEC = FeedSpec(
    name="hes_ae",
    description="A&E attendances, one row per attendance (HES A&E).",
    key=("AEKEY",),
    fallback_person_id="PSEUDO_HESID",
    fallback_person_source="pseudo_hesid",
    columns=(
        Column("AEKEY", required=True),
        Column("PROCODE3", required=True),
        Column("NHSNUMBER", "nhs_number"),
        Column("PSEUDO_HESID"),
        Column("ARRIVALDATE", "date", required=True),
        Column("ARRIVALTIME", "time"),
        Column("ARRIVALAGE", "age", required=True),
        Column("SEX", "code", codes=codes.SEX, code_list_name="sex"),
        Column("LSOA11", "lsoa"),
        Column("GPPRAC"),
        Column("AEATTENDCAT", "code", codes=codes.AEATTENDCAT, code_list_name="attendance category"),
        Column("AEARRIVALMODE", "code", codes=codes.AEARRIVALMODE, code_list_name="arrival mode"),
        Column("AEDEPTTYPE", "code", codes=codes.AEDEPTTYPE, code_list_name="department type"),
        Column("AEATTENDDISP", "code", codes=codes.AEATTENDDISP, code_list_name="attendance disposal"),
        Column("DIAG2_01", "diag"),
        Column("DIAG3_01", "diag"),
    ),
)
