"""Tests for cb_pipeline.lib."""
