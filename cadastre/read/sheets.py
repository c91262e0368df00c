"""Tables as surveyors make them in spreadsheets: the header row found by the layer's field names, wherever it is.

A 房屋面积测算表 is rarely a plain table: a title row or several above the header (项目名称、测绘单位 …), header cells
merged across two rows or across a group (``预测面积`` over ``建筑面积 | 套内面积 | 分摊面积``), units in the header
(``建筑面积(㎡)``), blank separator rows, 小计 rows after each 单元, a 合计 row and the signatures (制表、审核) at the
bottom. :func:`table_from_rows` finds the header by the names and aliases ``data/layers.toml`` gives the layer (one
row, or two with the upper one's merged group cells joined to the lower ones), takes the rows under it, and skips
blank, total and signature rows — counting each kind, for the report (PKG-010). A value merged down or across
(a 单元号 over its rooms) belongs to every cell of its range. Nothing is skipped silently, and a sheet without a
recognisable header is refused naming it.

Workbooks (``.xlsx``, ``.xls``, ``.ods``) are read with python-calamine (values as the file shows them, merged ranges
included); CSV text is read with the :mod:`csv` module and goes through the same function.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from python_calamine import CalamineWorkbook

from cadastre.core.errors import InputError

__all__ = ["SheetLayout", "table_from_rows", "read_workbook", "workbook_sheets", "csv_rows"]
#: how far down a header may sit under titles
HEADER_SEARCH_ROWS = 30
_UNITS = re.compile(r"[（(\[【][^）)\]】]*[)）\]】]")  # 建筑面积(㎡), 层高（米）
_SPACE = re.compile(r"\s+")
_TOTAL = re.compile(r"^(合计|小计|总计|共计|累计)|(合计|小计|总计|共计)[:：]?$")  # 合计：, 1单元小计
_SIGNATURE = re.compile(r"^(制表|审核|校核|复核|填表|检查|测量员|绘图|日期|注[:：]|说明[:：])")


@dataclass(frozen=True)
class SheetLayout:
    """Where the table sat in the sheet (1-based rows, as the spreadsheet shows them) and what was skipped."""

    where: str
    header_rows: tuple[int, ...]
    title_rows: int = 0  # rows above the header
    blank_rows: int = 0
    total_rows: int = 0  # 合计 / 小计 / 总计
    signature_rows: int = 0  # 制表 / 审核 / 日期 … under the table
    skipped_sheets: tuple[str, ...] = ()  # of a workbook read whole: sheets without a header (封面, 说明 …)

    @property
    def message(self) -> str | None:
        """The report's sentence when the sheet was not a plain table (None when it was)."""
        if self.skipped_sheets:
            return f"{self.where} 的工作表 {'、'.join(self.skipped_sheets)} 没有表头，未作为数据读取"
        skipped = [f"{n} 个{what}" for n, what in ((self.blank_rows, "空行"), (self.total_rows, "合计/小计行"),
                                                   (self.signature_rows, "签署行")) if n]
        if self.header_rows == (1,) and not skipped:
            return None
        rows = "–".join(str(r) for r in (self.header_rows[0], self.header_rows[-1]) if r) if len(
            self.header_rows) > 1 else str(self.header_rows[0])
        said = f"{self.where} 的表头在第 {rows} 行"
        if self.title_rows:
            said += f"（其上 {self.title_rows} 行为标题，已跳过）"
        return said + (f"；跳过 {'、'.join(skipped)}" if skipped else "")


def _label(value) -> str:
    """A header cell as a name: no line breaks or spaces, no units in brackets."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return _UNITS.sub("", _SPACE.sub("", str(value)))


def _filled(rows: list[list], merged, width: int) -> list[list[str]]:
    """The header region as labels, every cell of a merged range carrying the range's label."""
    labels = [[_label(v) for v in row] + [""] * (width - len(row)) for row in rows]
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(labels):
            continue
        value = labels[r0][c0] if c0 < width else ""
        for r in range(r0, min(r1, len(labels) - 1) + 1):
            for c in range(c0, min(c1, width - 1) + 1):
                labels[r][c] = value
    return labels


def _names(upper: list[str] | None, lower: list[str], aliases: dict[str, str]) -> list[str]:
    """Column names from one header row, or two: a group label over the cells under it is joined to them
    (``预测`` + ``建筑面积``, or ``预测面积`` over ``建筑面积`` read as ``预测建筑面积``) when that names a field."""
    if upper is None:
        return lower
    out = []
    for up, low in zip(upper, lower, strict=True):
        if not low or up == low:  # a cell merged down over both rows
            out.append(up)
            continue
        if not up:
            out.append(low)
            continue
        candidates = (up + low, up.removesuffix("面积") + low, low, up)
        out.append(next((c for c in candidates if c.casefold() in aliases), up + low))
    return out


def _score(names: list[str], aliases: dict[str, str]) -> int:
    return len({aliases[n.casefold()] for n in names if n and n.casefold() in aliases})


def _row_text(row: list) -> list[str]:
    return [_SPACE.sub("", str(v)) for v in row if v is not None and not (isinstance(v, float) and np.isnan(v))
            and str(v).strip() != ""]


def table_from_rows(rows: list[list], merged, aliases: dict[str, str], where: str) -> tuple[pd.DataFrame, SheetLayout]:
    """The table in a sheet's ``rows`` (lists of cell values), its header found by ``aliases`` (casefolded name →
    canonical field, :func:`cadastre.read.raw.field_aliases`); ``merged`` are the sheet's merged ranges
    ``((row0, col0), (row1, col1))``, 0-based and inclusive. Raises :class:`InputError` naming ``where`` when no row
    names any of the layer's fields."""
    width = max((len(r) for r in rows), default=0)
    search = rows[:HEADER_SEARCH_ROWS + 1]
    labels = _filled(search, [m for m in merged if m[0][0] <= HEADER_SEARCH_ROWS], width)
    best = (0, 0, 0, None)  # score, -rows in the header, -first row, names
    for i in range(min(HEADER_SEARCH_ROWS, len(labels))):
        candidates = [((i,), _names(None, labels[i], aliases))]
        if i + 1 < len(labels):
            candidates.append(((i, i + 1), _names(labels[i], labels[i + 1], aliases)))
        for header, names in candidates:
            score = (_score(names, aliases), -len(header), -i, (header, names))
            if score[:3] > best[:3]:
                best = score
    if best[3] is None:
        raise InputError(f"{where} 中找不到表头：前 {HEADER_SEARCH_ROWS} 行没有一行含有本图层的字段名",
                         f"{where}: no header row with the layer's field names in the first {HEADER_SEARCH_ROWS} rows")
    header, names = best[3]
    names = _unique([n or f"列{c + 1}" for c, n in enumerate(names)])
    body = rows[header[-1] + 1:]
    while body and not _row_text(body[-1]):  # the empty rows a sheet's formatting leaves below the table
        body.pop()
    keep, blank, total, signature = [], 0, 0, 0
    ended = False  # signatures come last: once one is seen, the table is over
    for row in body:
        text = _row_text(row)
        if not text:
            blank += 1
        elif ended or (_SIGNATURE.match(text[0]) and len(text) <= 3):
            signature, ended = signature + 1, True
        elif any(_TOTAL.search(t) for t in text[:3]):
            total += 1
        else:
            keep.append(list(row) + [None] * (width - len(row)))
    frame = pd.DataFrame(keep, columns=names, dtype=object) if keep else pd.DataFrame(columns=names, dtype=object)
    layout = SheetLayout(where, tuple(r + 1 for r in header), header[0] - _leading_blank(rows, header[0]), blank,
                         total, signature)
    return frame, layout


def _leading_blank(rows: list[list], upto: int) -> int:
    return sum(1 for row in rows[:upto] if not _row_text(row))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def _cell(value):
    """Calamine's cell as the table keeps it: blanks as None, whole numbers as int (Excel stores every number as a
    float; 101 is a 室号, not 101.0)."""
    if value == "":
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _fill_merged(rows: list[list], merged) -> None:
    """Every cell of a merged range holds the range's value (a workbook keeps it in the top-left cell only): a
    单元号 or 实际层 merged down over its rooms belongs to each of them."""
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            row.extend([None] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                row[c] = value


def workbook_sheets(path: Path) -> list[str]:
    """The sheet names of a workbook."""
    return list(CalamineWorkbook.from_path(str(path)).sheet_names)


def read_workbook(path: Path, sheet: str | None, aliases: dict[str, str],
                  member: str) -> tuple[pd.DataFrame, tuple[SheetLayout, ...]]:
    """A sheet of a workbook as a table (:func:`table_from_rows`), or with ``sheet`` None every sheet with a header
    one under the other (a workbook of one sheet per building). Sheets without a header are left out then, and
    said so; a lone sheet without one is refused."""
    workbook = CalamineWorkbook.from_path(str(path))
    frames, layouts, without = [], [], []
    for name in [sheet] if sheet is not None else workbook.sheet_names:
        data = workbook.get_sheet_by_name(name)
        rows = [[_cell(v) for v in row] for row in data.to_python(skip_empty_area=False)]
        merged = data.merged_cell_ranges or []
        _fill_merged(rows, merged)
        try:
            frame, layout = table_from_rows(rows, merged, aliases, f"{member}:{name}")
        except InputError:
            if sheet is not None:
                raise
            without.append(name)
            continue
        frames.append(frame)
        layouts.append(layout)
    if not frames:
        raise InputError(f"{member} 的各工作表中都找不到含有本图层字段名的表头",
                         f"{member}: no sheet has a header row with the layer's field names")
    if without:
        layouts.append(SheetLayout(member, (), skipped_sheets=tuple(without)))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], tuple(layouts)


def csv_rows(text: str) -> list[list]:
    """CSV text as rows of cells (blank cells as None)."""
    return [[cell.strip() or None for cell in row] for row in csv.reader(io.StringIO(text))]
