"""The hes_apc contract of feeds.md as a FeedSpec: columns, key, codes, fatal and warning rules.

Belongs here: what this feed's columns are and which rules apply. Does not: how rules run
(cb_pipeline/lib/ingest) or what the rows mean for metrics (dbt_like_sql/staging).
"""

from cb_pipeline.lib.ingest import codes
from cb_pipeline.lib.ingest.spec import Column, FeedSpec

DIAGNOSES = tuple(Column(f"DIAG_4_{i:02d}", "diag") for i in range(1, 21))

SPEC = FeedSpec(
    name="hes_apc",
    description="Admitted patient care episodes, one row per finished consultant episode (HES/SUS).",
    key=("EPIKEY",),
    fallback_person_id="PSEUDO_HESID",
    fallback_person_source="pseudo_hesid",
    date_order=(("ADMIDATE", "DISDATE"),),
    columns=(
        Column("EPIKEY", required=True),
        Column("PROCODE3", required=True),
        Column("NHSNUMBER", "nhs_number"),
        Column("PSEUDO_HESID"),
        Column("ADMIDATE", "date", required=True),
        Column("EPISTART", "date"),
        Column("EPIEND", "date"),
        Column("DISDATE", "date"),
        Column("EPIORDER", "positive_whole", required=True),
        Column("SPELEND"),
        Column("ADMIMETH", "code", required=True, codes=codes.ADMIMETH, code_list_name="admission method"),
        Column("ADMISORC", "code", codes=codes.ADMISORC, code_list_name="admission source"),
        Column("CLASSPAT", "code", codes=codes.CLASSPAT, code_list_name="patient classification"),
        Column("DISMETH", "code", codes=codes.DISMETH, code_list_name="discharge method"),
        Column("DISDEST", "code", codes=codes.DISDEST, code_list_name="discharge destination"),
        Column("STARTAGE", "age", required=True),
        Column("SEX", "code", codes=codes.SEX, code_list_name="sex"),
        Column("LSOA11", "lsoa"),
        Column("GPPRAC"),
        Column("TRETSPEF"),
    ) + DIAGNOSES,
)
