"""The published place dashboard (return.md, The published dashboard): HTML page and CSV per HWB per
quarter, with disclosure control (metrics.md). figures.py reads the marts, publish.py applies
disclosure.py, charts.py draws the SVGs, render.py writes and registers, assets.py is the Dagster asset."""
