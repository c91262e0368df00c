"""The 楼盘表 as people read and print it: a self-contained page, and a spreadsheet laid out as one usually looks
(the table itself is :mod:`cadastre.allocate.buildingtable`)."""

from __future__ import annotations

import html
from pathlib import Path

from cadastre.allocate.buildingtable import BuildingTable, Cell, Covered
from cadastre.core.catalogue import AREA_KINDS

__all__ = ["table_html", "table_lines", "write_table_html", "write_table_xlsx"]


def _fmt(value) -> str:
    return "" if value is None else f"{value:.2f}"


def write_table_html(t: BuildingTable, path: str | Path) -> Path:
    """Write the 楼盘表 as a self-contained Chinese page."""
    path = Path(path)
    path.write_text(table_html(t), encoding="utf-8")
    return path


def table_lines(t: BuildingTable) -> list[str]:
    """The 楼盘表 as lines for a terminal: a floor per line, ``↑`` where a 跃层 unit from the floor above spans."""
    lines = [f"{t.name or ''} 楼盘表（{AREA_KINDS.get(t.stage, t.stage)}） {t.code}  户数 {t.unit_count}  "
             f"总建筑面积 {t.total_area:.2f} ㎡" + ("" if t.balanced else "（与幢面积不平衡）")]
    for row in t.rows:
        cells = "  ".join("—" if c is None else "  ↑  " if isinstance(c, Covered) else
                          f"{c.shbw}:{c.bdcdyh[-8:]}:{c.area or 0:.2f}" + (f"(跨{c.rowspan}层)" if c.rowspan > 1 else "")
                          for c in row.cells)
        lines.append(f"{row.label:>6}  {cells}  | {row.total_area:.2f}")
    return lines


def _groups(columns, key) -> list[tuple[object, int]]:
    """Runs of adjacent columns sharing ``key``: (value, how many)."""
    runs: list[tuple[object, int]] = []
    for c in columns:
        value = key(c)
        if runs and runs[-1][0] == value:
            runs[-1] = (value, runs[-1][1] + 1)
        else:
            runs.append((value, 1))
    return runs


def _header_levels(t: BuildingTable) -> list[list[tuple[str, int]]]:
    """The heading rows above the cells: 逻辑幢 (when the survey has them), 单元 (when it has them), place."""
    levels = []
    if any(c.ljzh for c in t.columns):
        levels.append([((name or f"{ljzh}号逻辑幢") if ljzh else "", n)
                       for (ljzh, name), n in _groups(t.columns, lambda c: (c.ljzh, c.ljz))])
    if any(c.dyh for c in t.columns):
        levels.append([(f"{dyh}单元" if dyh else "", n) for (_, dyh), n in
                       _groups(t.columns, lambda c: (c.ljzh, c.dyh))])
    levels.append([(c.label, 1) for c in t.columns])
    return levels


def _cell_html(c: Cell) -> str:
    e = html.escape
    span = f" rowspan={c.rowspan}" if c.rowspan > 1 else ""
    floors = f"<br><i>跨 {c.floors[0]}–{c.floors[-1]} 层</i>" if c.rowspan > 1 else ""
    return (f"<td{span} class='{'retired' if c.status == 'retired' else ''}{' span' if c.rowspan > 1 else ''}'>"
            f"<b>{e(c.shbw)}</b>{floors}<br><code>{e(c.bdcdyh)}</code>"
            f"<br>{e(c.use_name or '')}<br>建筑 {_fmt(c.area)} ㎡<br>套内 {_fmt(c.inner)} · 分摊 {_fmt(c.shared)}"
            f"<br>分摊系数 {'' if c.ftxs is None else f'{c.ftxs:.4f}'}</td>")


def table_html(t: BuildingTable) -> str:
    """The 楼盘表 as a self-contained Chinese page."""
    e = html.escape
    levels = _header_levels(t)
    depth = len(levels)
    head = []
    for k, level in enumerate(levels):
        lead = f"<th rowspan={depth}>层</th>" if k == 0 else ""
        tail = f"<th rowspan={depth}>本层合计 ㎡</th>" if k == 0 else ""
        cells = "".join(f"<th colspan={n}>{e(text)}</th>" if n > 1 else f"<th>{e(text)}</th>" for text, n in level)
        head.append(f"<tr>{lead}{cells}{tail}</tr>")
    body = []
    for row in t.rows:
        cells = "".join("" if isinstance(c, Covered) else "<td class=empty></td>" if c is None else _cell_html(c)
                        for c in row.cells)
        body.append(f"<tr><th>{e(row.label)}</th>{cells}<td>{_fmt(row.total_area)}</td></tr>")
    status = "可办理首次登记" if t.ready else "暂不可办理首次登记：" + "；".join(t.not_ready_because)
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>楼盘表 {e(t.code)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:20px}}table{{border-collapse:collapse;
font-size:12px}}td,th{{border:1px solid #999;padding:4px 6px;vertical-align:top}}th{{background:#eef}}
td.empty{{background:#f4f4f4}}td.retired{{color:#999;text-decoration:line-through}}td.span{{background:#fdf6e3}}
code{{font-size:11px}}</style>
</head><body><h1>{e(t.name or '')} 楼盘表（{AREA_KINDS.get(t.stage, t.stage)}）</h1>
<p>自然幢代码 <code>{e(t.code)}</code>　宗地代码 <code>{e(t.parcel_code)}</code>　坐落 {e(t.zl or '')}</p>
<p>地上 {t.floors_above} 层、地下 {t.floors_below} 层　结构 {e(t.structure or '')}　用途 {e(t.use or '')}　户数 {t.unit_count}　总建筑面积 {_fmt(t.total_area)} ㎡（幢申报 {_fmt(t.declared_area)} ㎡，
{'平衡' if t.balanced else '不平衡'}）　成果包 {t.package_id}</p><p>{e(status)}</p>
<table>{''.join(head)}{''.join(body)}</table></body></html>"""
    return page


#: each unit of the 楼盘表 spreadsheet takes these columns: its label (室号, code, use) and its areas as numbers
XLSX_UNIT_COLUMNS = ("户", "建筑面积", "套内", "分摊")


def write_table_xlsx(t: BuildingTable, path):
    """The 楼盘表 as a spreadsheet laid out as one usually looks — merged title, 逻辑幢 and 单元 headers, a floor per
    row, a 跃层 unit merged over its floors — with each unit's areas in cells of their own (numbers a clerk can sum:
    建筑面积, 套内, 分摊 beside the unit's 室号 and code), the readiness for 首次登记 under the title, and set up for
    printing: landscape A3, the header rows repeated on every page, fitted to the page's width. ``path`` is a file
    path or a binary file object."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "楼盘表"
    per = len(XLSX_UNIT_COLUMNS)
    width = per * len(t.columns) + 2
    ws.cell(1, 1, f"{t.name or ''} 楼盘表（{AREA_KINDS.get(t.stage, t.stage)}） {t.code}").font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(2, 1, f"坐落：{t.zl or ''}  宗地代码：{t.parcel_code}  户数：{t.unit_count}  总建筑面积：{t.total_area:.2f} ㎡")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    ready = "可办理首次登记" if t.ready else "暂不可办理首次登记：" + "；".join(t.not_ready_because)
    ws.cell(3, 1, ready).font = Font(bold=True, color="067647" if t.ready else "B42318")
    ws.merge_cells(start_row=3, start_column=1, end_row=3, end_column=width)
    levels = [*_header_levels(t), [(name, 1) for _ in t.columns for name in XLSX_UNIT_COLUMNS]]
    first = 4
    last = first + len(levels) - 1
    ws.cell(first, 1, "层")
    ws.cell(first, width, "本层合计 ㎡")
    ws.merge_cells(start_row=first, start_column=1, end_row=last, end_column=1)
    ws.merge_cells(start_row=first, start_column=width, end_row=last, end_column=width)
    for r, level in enumerate(levels, start=first):
        column = 2
        scale = 1 if r == last else per  # the levels above the last span whole units
        for text, span in level:
            ws.cell(r, column, text).font = Font(bold=True)
            ws.cell(r, column).alignment = Alignment(horizontal="center")
            if span * scale > 1:
                ws.merge_cells(start_row=r, start_column=column, end_row=r, end_column=column + span * scale - 1)
            column += span * scale
    number = "0.00"
    for r, row in enumerate(t.rows, start=last + 1):
        ws.cell(r, 1, row.label)
        for k, cell in enumerate(row.cells):
            if not isinstance(cell, Cell):
                continue
            c = 2 + per * k
            spans = f"\n跨 {cell.floors[0]}–{cell.floors[-1]} 层" if cell.rowspan > 1 else ""
            ws.cell(r, c, f"{cell.shbw}{spans}\n{cell.bdcdyh}\n{cell.use_name or ''}")
            ws.cell(r, c).alignment = Alignment(wrap_text=True, vertical="top")
            for offset, value in enumerate((cell.area, cell.inner, cell.shared), start=1):
                if value is not None and value == value:
                    ws.cell(r, c + offset, float(value)).number_format = number
                ws.cell(r, c + offset).alignment = Alignment(vertical="top")
            if cell.rowspan > 1:
                for offset in range(per):
                    ws.merge_cells(start_row=r, start_column=c + offset, end_row=r + cell.rowspan - 1,
                                   end_column=c + offset)
        ws.cell(r, width, float(row.total_area)).number_format = number
        ws.row_dimensions[r].height = 48
    for k in range(len(t.columns)):
        c = 2 + per * k
        ws.column_dimensions[get_column_letter(c)].width = 30
        for offset in range(1, per):
            ws.column_dimensions[get_column_letter(c + offset)].width = 9
    ws.column_dimensions["A"].width = 8
    ws.column_dimensions[get_column_letter(width)].width = 12
    ws.freeze_panes = ws.cell(last + 1, 2)
    # printing: landscape A3, fitted to one page wide, the title and header rows on every page
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A3
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"1:{last}"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    if hasattr(path, "write"):  # a binary file object
        wb.save(path)
        return path
    path = Path(path)
    wb.save(path)
    return path
