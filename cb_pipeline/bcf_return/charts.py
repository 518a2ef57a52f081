"""The Place Dashboard's monthly XmR charts, drawn from cells the return already holds.

Belongs here: turning the rows of `DASH_XMR_TABLE` (written by lib/workbook from the mart
fct_place_dashboard_monthly_xmr) into one openpyxl line chart per dashboard measure: the monthly
count, the centre line, the two limits, and the signal months as markers. The charts reference the
table's cells, so the figures in a chart are always the figures in the sheet; where they go is the
template's `DASH_XMR_CHARTS` cell (the first chart's top-left corner; the others follow below it).
Does not: compute anything (the centre line, limits and signals come from SQL), or know any cell
address (both places come from defined names).

Why drawn by code: openpyxl drops charts when it loads a workbook, so a chart kept in the template
would be lost; the template keeps the places and the table's styling instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl.chart import LineChart, Reference, Series
from openpyxl.chart.series import SeriesLabel, StrRef
from openpyxl.chart.marker import Marker
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter, quote_sheetname

TABLE_NAME = "DASH_XMR_TABLE"
ANCHOR_NAME = "DASH_XMR_CHARTS"
# Table columns (after Measure and Month): count, centre, lower, upper, signal point, signal text.
COLUMNS = ("count", "centre", "lower", "upper", "signal_point", "signal")
MEASURE_TITLES = {
    "dash_ae_att": "A&E attendances",
    "dash_ed_resp_0_4": "A&E attendances, respiratory, aged 0-4",
    "dash_nel": "Non-elective admissions",
    "dash_nel_resp_0_4": "Non-elective admissions, respiratory, aged 0-4",
    "dash_readm30": "Emergency readmissions within 30 days",
    "dash_dtoc": "Delayed transfer of care days",
    "dash_ch_callout": "Ambulance call-outs to care homes",
    "dash_ch_convey": "Ambulance conveyances from care homes",
    "dash_ch_admit": "Emergency admissions from care homes",
}
CHART_ROWS = 18  # rows of the sheet between the tops of two charts (a chart is 8.5 cm high)


def _destination(wb, name: str) -> tuple[str, str]:
    defn = wb.defined_names[name]
    sheet, ref = next(iter(defn.destinations))
    return sheet, ref.replace("$", "")


def add_xmr_charts(wb, rows: Sequence[Sequence[object]]) -> int:
    """One line chart per measure of `rows` (the DASH_XMR_TABLE rows as written: measure title,
    month, count, centre, lower, upper, signal point, signal). Returns the number of charts."""
    if not rows or TABLE_NAME not in wb.defined_names or ANCHOR_NAME not in wb.defined_names:
        return 0
    sheet, header = _destination(wb, TABLE_NAME)
    anchor_sheet, anchor = _destination(wb, ANCHOR_NAME)
    ws, chart_ws = wb[sheet], wb[anchor_sheet]
    col_letter, header_row = coordinate_from_string(header)
    first_col = column_index_from_string(col_letter)
    anchor_col, anchor_row = coordinate_from_string(anchor)

    # consecutive rows of one measure form one chart (the mart orders rows by measure, then month)
    blocks: list[tuple[str, int, int]] = []
    for i, row in enumerate(rows):
        r = header_row + 1 + i
        if blocks and blocks[-1][0] == row[0]:
            blocks[-1] = (row[0], blocks[-1][1], r)
        else:
            blocks.append((str(row[0]), r, r))

    for k, (title, top, bottom) in enumerate(blocks):
        chart = LineChart()
        chart.title = title
        chart.height, chart.width = 8.5, 24
        chart.y_axis.title = "per month"
        chart.x_axis.number_format = "@"
        chart.legend.position = "b"
        # Count, Centre line, Lower limit, Upper limit, Signal point: columns 3..7 of the table;
        # each series is named by its header cell, so renaming a header renames the legend
        for offset in range(2, 7):
            values = Reference(ws, min_col=first_col + offset, min_row=top, max_row=bottom)
            series = Series(values)
            header_ref = f"{quote_sheetname(sheet)}!${get_column_letter(first_col + offset)}${header_row}"
            series.tx = SeriesLabel(strRef=StrRef(header_ref))
            chart.series.append(series)
        chart.set_categories(Reference(ws, min_col=first_col + 1, min_row=top, max_row=bottom))
        count, centre, lower, upper, signal = chart.series
        count.marker = Marker(symbol="circle", size=5)
        for line in (centre, lower, upper):
            line.marker = Marker(symbol="none")
            line.smooth = False
        centre.graphicalProperties.line.solidFill = "404040"
        for limit in (lower, upper):
            limit.graphicalProperties.line.solidFill = "C00000"
            limit.graphicalProperties.line.dashStyle = "dash"
        signal.marker = Marker(symbol="diamond", size=9)
        signal.marker.graphicalProperties = None
        signal.graphicalProperties.line.noFill = True  # markers only: the signal months
        chart_ws.add_chart(chart, f"{anchor_col}{anchor_row + k * CHART_ROWS}")
    return len(blocks)
