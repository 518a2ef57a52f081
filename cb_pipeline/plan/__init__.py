"""Plan trajectories and dashboard targets: the feed's contract and its Dagster asset."""
