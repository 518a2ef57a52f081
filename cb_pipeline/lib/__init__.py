"""Shared building blocks: settings, periods, warehouse, ingest engine, SQL model runner, workbook."""
