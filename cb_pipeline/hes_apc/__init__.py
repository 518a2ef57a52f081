"""Hospital admitted patient care (HES/SUS APC): the feed's contract and its Dagster asset."""
