"""Hospital A&E attendances (HES A&E): the feed's contract and its Dagster asset."""
