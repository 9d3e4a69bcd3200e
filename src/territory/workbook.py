"""The tracking workbook: one formatted sheet per level and a Notes sheet (openpyxl).

Every sheet has a bold, frozen header row with filters, column widths fitted to the text,
amounts as ``#,##0``, ratios as ``0.0%`` (changes as ``+0.0%``), identifiers as text and the
status cells filled with the status colour (:data:`territory.formatting.STATUS_COLOURS`).
Column headings are the tables' column names spelled out (``run_rate_forecast`` ->
``run rate forecast``); a user's column name (a segment) is kept as written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from territory.formatting import INDEX, PERCENT, SIGNED_PERCENT, STATUS_COLOURS, cell, heading

MONEY = "#,##0"
RATIO = "0.0%"
CHANGE = "+0.0%;-0.0%;0.0%"
DECIMALS = "0.000"


def number_format(column: str) -> str | None:
    """The Excel number format of a column (None: text or as it is)."""
    if column in ("id", "row", "lines_read") or column.endswith("_id"):
        return None
    if column in PERCENT:
        return RATIO
    if column in SIGNED_PERCENT:
        return CHANGE
    if column in INDEX:
        return DECIMALS
    return MONEY


def write_workbook(path: str | Path, sheets: dict[str, pd.DataFrame], notes: list[str]) -> None:
    """Write ``sheets`` (name -> table) and a ``notes`` sheet (one paragraph a row)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="F3F3F3")
    for name, table in sheets.items():
        sheet = book.create_sheet(name[:31])
        columns = list(table.columns)
        sheet.append([heading(str(c)) for c in columns])
        for row in table.itertuples(index=False):
            sheet.append([_value(c, v) for c, v in zip(columns, row, strict=True)])
        for j, column in enumerate(columns, 1):
            head = sheet.cell(row=1, column=j)
            head.font, head.fill = bold, head_fill
            head.alignment = Alignment(wrap_text=True, vertical="top")
            _format_column(sheet, j, str(column), table[column], PatternFill, Font)
        sheet.freeze_panes = "A2"
        if len(columns):
            sheet.auto_filter.ref = sheet.dimensions
    sheet = book.create_sheet("notes")
    sheet.append(["Notes: how the figures were made"])
    sheet.cell(row=1, column=1).font = bold
    for text in notes:
        sheet.append([text])
        sheet.cell(row=sheet.max_row, column=1).alignment = Alignment(wrap_text=True)
    sheet.column_dimensions["A"].width = 120
    sheet.freeze_panes = "A2"
    book.save(path)


def _value(column: str, value):
    """A cell value: numbers as numbers, missing as empty, everything else as text."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if number_format(column) is None:
            return str(value)
        return float(value) if abs(value) != float("inf") else None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _value(column, value.item())
    return str(value)


def _format_column(sheet, j: int, column: str, values: pd.Series, pattern_fill, font) -> None:
    from openpyxl.utils import get_column_letter

    fmt = number_format(column)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    texts = [heading(column), *(cell(column, v) for v in values.head(500))]
    width = min(max(len(t) for t in texts) + 2, 48)
    sheet.column_dimensions[get_column_letter(j)].width = max(width, 8)
    for i in range(2, len(values) + 2):
        target = sheet.cell(row=i, column=j)
        if numeric and fmt:
            target.number_format = fmt
        elif not numeric:
            target.number_format = "@"
        if column == "status" and target.value in STATUS_COLOURS:
            colour = STATUS_COLOURS[target.value].lstrip("#").upper()
            target.fill = pattern_fill("solid", fgColor=colour)
            target.font = font(color="FFFFFF" if target.value in ("ahead", "behind") else "000000")
