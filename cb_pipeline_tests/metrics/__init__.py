"""Tests of the SQL metric models (dbt_like_sql) against hand-computed landing zones."""
