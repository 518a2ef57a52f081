"""Adult social care client level data events: the feed's contract."""
