"""The quarterly BCF return: rendering one workbook per HWB per quarter from the marts.

Belongs here: reading `rpt_bcf_return__cells` (and the provenance tables), adding run provenance,
filling the template through `lib/workbook`, writing where return.md says, and the warehouse
table `return_registry` (render.py); the partitioned Dagster asset around it (assets.py).
Does not: any metric logic (SQL models) or workbook mechanics (lib/workbook.py).
"""
