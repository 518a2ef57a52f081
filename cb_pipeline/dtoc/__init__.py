"""Delayed transfers of care (monthly situation report, long form): the feed's contract."""
