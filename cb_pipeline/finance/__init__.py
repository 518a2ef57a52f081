"""Pooled budget income and expenditure (BCF finance): the feed's contract."""
