"""Data quality you can defend: the checks that decide whether checked data may reach a return.

Belongs here: the ingest asset checks (rule results, reconciliation, coverage: ingest_checks.py),
the Great Expectations suites on the marts and their Data Docs (expectations.py), and validating a
landing zone without loading it (landing_check.py, `cb-pipeline check`). Does not: the rules
themselves (lib/ingest/spec.py and each feed's feed.py), the SQL models' own .yml tests
(lib/sql_models.py), or how assets are built (lib/dagster_assets.py only calls in here).
"""
