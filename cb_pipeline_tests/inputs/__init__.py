"""Tests of the commissioner answers files (cb_pipeline/inputs) and their way into the return."""
