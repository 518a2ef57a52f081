"""Tests for cb_pipeline."""
