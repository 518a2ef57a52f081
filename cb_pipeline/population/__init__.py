"""ONS mid-year population estimates: the feed's contract (wide single years of age -> long) and asset."""
