"""The 楼盘表 as people read and print it: a self-contained page, and a spreadsheet laid out as one usually looks
(the table itself is :mod:`cadastre.allocate.buildingtable`)."""

from __future__ import annotations

import html
from pathlib import Path

from cadastre.allocate.buildingtable import BuildingTable
from cadastre.core.catalogue import AREA_KINDS

__all__ = ["table_html", "write_table_html", "write_table_xlsx"]


def _fmt(value) -> str:
    return "" if value is None else f"{value:.2f}"


def write_table_html(t: BuildingTable, path: str | Path) -> Path:
    """Write the 楼盘表 as a self-contained Chinese page."""
    path = Path(path)
    path.write_text(table_html(t), encoding="utf-8")
    return path


def table_html(t: BuildingTable) -> str:
    """The 楼盘表 as a self-contained Chinese page."""
    e = html.escape
    head = "".join(f"<th>{e(d)}单元<br>{h}号</th>" if d else f"<th>{h}号</th>" for d, h in t.columns)
    body = []
    for row in t.rows:
        cells = "".join(
            "<td class=empty></td>" if c is None else
            f"<td class={'retired' if c.status == 'retired' else ''}><b>{e(c.shbw)}</b><br><code>{e(c.bdcdyh)}</code>"
            f"<br>{e(c.use_name or '')}<br>建筑 {_fmt(c.area)} ㎡<br>套内 {_fmt(c.inner)} · 分摊 {_fmt(c.shared)}"
            f"<br>分摊系数 {'' if c.ftxs is None else f'{c.ftxs:.4f}'}</td>" for c in row.cells)
        body.append(f"<tr><th>{e(row.myc)}层</th>{cells}<td>{_fmt(row.total_area)}</td></tr>")
    status = "可办理首次登记" if t.ready else "暂不可办理首次登记：" + "；".join(t.not_ready_because)
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>楼盘表 {e(t.code)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:20px}}table{{border-collapse:collapse;
font-size:12px}}td,th{{border:1px solid #999;padding:4px 6px;vertical-align:top}}th{{background:#eef}}
td.empty{{background:#f4f4f4}}td.retired{{color:#999;text-decoration:line-through}}code{{font-size:11px}}</style>
</head><body><h1>{e(t.name or '')} 楼盘表（{AREA_KINDS.get(t.stage, t.stage)}）</h1>
<p>自然幢代码 <code>{e(t.code)}</code>　宗地代码 <code>{e(t.parcel_code)}</code>　坐落 {e(t.zl or '')}</p>
<p>地上 {t.floors_above} 层、地下 {t.floors_below} 层　结构 {e(t.structure or '')}　用途 {e(t.use or '')}　户数 {t.unit_count}　总建筑面积 {_fmt(t.total_area)} ㎡（幢申报 {_fmt(t.declared_area)} ㎡，
{'平衡' if t.balanced else '不平衡'}）　成果包 {t.package_id}</p><p>{e(status)}</p>
<table><tr><th>层</th>{head}<th>本层合计 ㎡</th></tr>{''.join(body)}</table></body></html>"""
    return page


def write_table_xlsx(t: BuildingTable, path):
    """The 楼盘表 as a spreadsheet laid out as one usually looks: merged title and 单元 headers, a floor per row.
    ``path`` is a file path or a binary file object."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "楼盘表"
    width = len(t.columns) + 2
    ws.cell(1, 1, f"{t.name or ''} 楼盘表（{AREA_KINDS.get(t.stage, t.stage)}） {t.code}").font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(2, 1, f"坐落：{t.zl or ''}  宗地代码：{t.parcel_code}  户数：{t.unit_count}  总建筑面积：{t.total_area:.2f} ㎡")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    ws.cell(3, 1, "层")
    ws.merge_cells(start_row=3, start_column=1, end_row=4, end_column=1)
    column = 2
    for dyh in dict.fromkeys(d for d, _ in t.columns):  # merged 单元 header over its rooms
        span = sum(1 for d, _ in t.columns if d == dyh)
        ws.cell(3, column, f"{dyh}单元" if dyh else "")
        if span > 1:
            ws.merge_cells(start_row=3, start_column=column, end_row=3, end_column=column + span - 1)
        for offset, (_, hh) in enumerate(c for c in t.columns if c[0] == dyh):
            ws.cell(4, column + offset, f"{hh}号")
        column += span
    ws.cell(3, width, "本层合计 ㎡")
    ws.merge_cells(start_row=3, start_column=width, end_row=4, end_column=width)
    for r, row in enumerate(t.rows, start=5):
        ws.cell(r, 1, f"{row.myc}层")
        for c, cell in enumerate(row.cells, start=2):
            if cell is not None:
                ws.cell(r, c, f"{cell.shbw}\n{cell.bdcdyh}\n{cell.use_name or ''}\n建筑 {_fmt(cell.area)} ㎡\n"
                              f"套内 {_fmt(cell.inner)} 分摊 {_fmt(cell.shared)}")
                ws.cell(r, c).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(r, width, row.total_area)
        ws.row_dimensions[r].height = 80
    for c in range(2, width):
        ws.column_dimensions[ws.cell(4, c).column_letter].width = 30
    if hasattr(path, "write"):  # a binary file object
        wb.save(path)
        return path
    path = Path(path)
    wb.save(path)
    return path
