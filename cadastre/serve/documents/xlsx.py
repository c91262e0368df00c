"""界址点成果表 as a workbook: the same rows as the PDF, coordinates as numbers (0.000) a surveyor can compute
with, the header in row 4 as an Excel table so pandas and GDAL read the columns by name."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.table import Table, TableStyleInfo

from cadastre.core.codetables import labelled
from cadastre.serve.documents.model import ParcelSheet, crs_label

__all__ = ["boundary_points_xlsx", "BOUNDARY_COLUMNS"]

BOUNDARY_COLUMNS = ["序号", "界址点号", "X（米）", "Y（米）", "至下一点边长（米）", "界标类型"]


def boundary_points_xlsx(sheet: ParcelSheet, *, made_on: str) -> bytes:
    workbook = Workbook()
    ws = workbook.active
    ws.title = "界址点成果表"
    workbook.properties.title = f"界址点成果表 {sheet.zddm}"
    workbook.properties.creator = "cadastre"
    a = sheet.attributes
    ws["A1"] = "界址点成果表"
    ws["A1"].font = Font(size=16, bold=True)
    ws["A2"] = f"宗地代码 {sheet.zddm}　坐落 {a.get('zl') or ''}　宗地面积 {a.get('zdmj') or ''} 平方米"
    ws["A3"] = f"坐标系 {crs_label(sheet.srid)}　数据时点 {sheet.as_of}　制表日期 {made_on}"
    ws.append(BOUNDARY_COLUMNS)
    for k, point in enumerate(sheet.points.itertuples(index=False), start=1):
        ws.append([k, point.jzdh, round(point.x, 3), round(point.y, 3), round(point.length, 2),
                   labelled("JBLX", point.jblx) or ""])
        for column, fmt in (("C", "0.000"), ("D", "0.000"), ("E", "0.00")):
            ws[f"{column}{ws.max_row}"].number_format = fmt
    last = ws.max_row
    table = Table(displayName="界址点", ref=f"A4:F{max(last, 5)}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=True)
    ws.add_table(table)
    for column, width in zip("ABCDEF", (6, 10, 16, 16, 11, 10), strict=True):
        ws.column_dimensions[column].width = width
    for cell in ws[4]:
        cell.alignment = Alignment(horizontal="center")
    ws.print_title_rows = "4:4"
    ws.page_setup.orientation = "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
