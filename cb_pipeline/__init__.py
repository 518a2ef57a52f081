"""cb_pipeline: statutory returns pipeline."""
