"""Registration documents as vector PDFs (reportlab): 宗地图, 界址点成果表, 房产分户图.

Drawn to scale: at 1:500 one centimetre on paper is five metres on the ground (a drawing's frame is positioned in
millimetres and every coordinate goes through :class:`Frame`). Text is real text in an embedded subset of
WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``: TrueType outlines, which PDF embeds as they are), so codes and
figures can be searched and copied. Layouts are ours; the content follows TD/T 1001 (地籍调查规程) and GB/T 17986
(房产测量规范)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import numpy as np
import shapely
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.paragraph import Paragraph
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from cadastre.core.codetables import labelled
from cadastre.core.errors import ConfigError
from cadastre.serve.documents.model import (
    ParcelSheet,
    UnitSheet,
    building_label,
    choose_scale,
    crs_label,
    nice_length,
    sheet_numbers,
)

__all__ = ["parcel_map_pdf", "boundary_points_pdf", "unit_plan_pdf", "floor_plan_pdf", "FONT", "Frame"]

FONT = "WQYMicroHei"
_FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
#: the map frame of an A4 portrait sheet, mm from the page's lower left: x, y, width, height
MAP_FRAME_MM = (20.0, 78.0, 170.0, 165.0)
_THICK, _THIN, _HAIR = 0.5 * mm, 0.25 * mm, 0.12 * mm


@cache
def _font() -> str:
    for path in _FONT_FILES:
        if Path(path).exists():
            pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
            return FONT
    raise ConfigError("生成图件需要中文字体：请安装 Debian 软件包 fonts-wqy-microhei（make install 会安装）",
                      "no CJK font for the documents: install fonts-wqy-microhei")


class Frame:
    """Ground coordinates (storage CRS, metres) to page points at ``scale``, ``centre`` at the frame's middle."""

    def __init__(self, centre: tuple[float, float], scale: int, frame_mm=MAP_FRAME_MM) -> None:
        self.cx, self.cy = centre
        self.scale = scale
        x, y, w, h = frame_mm
        self.x0, self.y0, self.w, self.h = x * mm, y * mm, w * mm, h * mm
        self.points_per_m = 1000.0 / scale * mm

    def page(self, xy) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        return np.column_stack([self.x0 + self.w / 2 + (xy[:, 0] - self.cx) * self.points_per_m,
                                self.y0 + self.h / 2 + (xy[:, 1] - self.cy) * self.points_per_m])

    def ground_box(self) -> BaseGeometry:
        half_w, half_h = self.w / 2 / self.points_per_m, self.h / 2 / self.points_per_m
        return shapely.box(self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h)

    def clip(self, canvas: Canvas) -> None:
        path = canvas.beginPath()
        path.rect(self.x0, self.y0, self.w, self.h)
        canvas.clipPath(path, stroke=0, fill=0)


def _fit(outline: BaseGeometry, frame_mm=MAP_FRAME_MM, smallest: int = 200) -> Frame:
    minx, miny, maxx, maxy = outline.bounds
    scale = choose_scale(maxx - minx, maxy - miny, frame_mm[2], frame_mm[3], smallest=smallest)
    return Frame(((minx + maxx) / 2, (miny + maxy) / 2), scale, frame_mm)


def _polygons(geometry: BaseGeometry | None) -> Iterable:
    if geometry is None or geometry.is_empty:
        return []
    return [g for g in getattr(geometry, "geoms", [geometry]) if g.geom_type == "Polygon"]


def _draw_outline(canvas: Canvas, frame: Frame, geometry: BaseGeometry | None, width: float,
                  colour=colors.black, dash=None, fill=None) -> None:
    canvas.saveState()
    canvas.setLineWidth(width)
    canvas.setStrokeColor(colour)
    canvas.setLineJoin(1)
    if dash:
        canvas.setDash(*dash)
    if fill is not None:
        canvas.setFillColor(fill)
    for polygon in _polygons(geometry):
        path = canvas.beginPath()
        for ring in [polygon.exterior, *polygon.interiors]:
            xy = frame.page(ring.coords)
            path.moveTo(*xy[0])
            for x, y in xy[1:]:
                path.lineTo(x, y)
            path.close()
        canvas.drawPath(path, stroke=1, fill=1 if fill is not None else 0, fillMode=0)
    canvas.restoreState()


def _text(canvas: Canvas, x: float, y: float, text: str, size: float, *, centre: bool = False,
          angle: float = 0.0, colour=colors.black) -> None:
    canvas.saveState()
    canvas.setFillColor(colour)
    canvas.setFont(_font(), size)
    canvas.translate(x, y)
    if angle:
        canvas.rotate(angle)
    (canvas.drawCentredString if centre else canvas.drawString)(0, 0, text)
    canvas.restoreState()


def _side_lengths(canvas: Canvas, frame: Frame, outline: BaseGeometry, size: float = 6.5) -> None:
    """Each side's length (m, two decimals, from the coordinates) beside its middle, outside the outline, along
    the side and never upside down."""
    for polygon in _polygons(outline):
        polygon = orient(polygon, sign=-1.0)
        ground = np.asarray(polygon.exterior.coords)
        page = frame.page(ground)
        for (a, b), (ga, gb) in zip(zip(page[:-1], page[1:], strict=True), zip(ground[:-1], ground[1:], strict=True),
                                    strict=True):
            length = float(np.hypot(*(gb - ga)))
            dx, dy = b - a
            span = math.hypot(dx, dy)
            if span < 6:  # shorter than the figure: left to the 界址点成果表
                continue
            normal = np.array([-dy, dx]) / span  # clockwise ring: the left of travel is outside
            angle = math.degrees(math.atan2(dy, dx))
            if angle > 90 or angle <= -90:
                angle += 180
            x, y = (a + b) / 2 + normal * 2.2 * mm
            canvas.saveState()
            canvas.translate(x, y)
            canvas.rotate(angle)
            canvas.setFont(_font(), size)
            canvas.drawCentredString(0, -size / 3, f"{length:.2f}")
            canvas.restoreState()


def _north_arrow(canvas: Canvas, x: float, y: float, size: float = 12 * mm) -> None:
    canvas.saveState()
    canvas.setLineWidth(_THIN)
    path = canvas.beginPath()
    path.moveTo(x, y + size / 2)
    path.lineTo(x - size / 5, y - size / 2)
    path.lineTo(x, y - size / 4)
    path.close()
    canvas.drawPath(path, stroke=1, fill=1)
    path = canvas.beginPath()
    path.moveTo(x, y + size / 2)
    path.lineTo(x + size / 5, y - size / 2)
    path.lineTo(x, y - size / 4)
    path.close()
    canvas.drawPath(path, stroke=1, fill=0)
    canvas.restoreState()
    _text(canvas, x, y + size / 2 + 1.5 * mm, "北", 9, centre=True)


def scale_bar_length_pt(frame: Frame, length_m: float) -> float:
    """How long a scale bar of ``length_m`` is drawn at the frame's scale, in points (tests measure it)."""
    return length_m * frame.points_per_m


def _scale_bar(canvas: Canvas, frame: Frame, x: float, y: float) -> None:
    """The ratio and a bar of a round length (about 40 mm), in four alternating segments."""
    length_m = nice_length(40 * frame.scale / 1000)
    total = scale_bar_length_pt(frame, length_m)
    canvas.saveState()
    canvas.setLineWidth(_HAIR)
    for k in range(4):
        canvas.setFillColor(colors.black if k % 2 == 0 else colors.white)
        canvas.rect(x + k * total / 4, y, total / 4, 1.2 * mm, stroke=1, fill=1)
    canvas.restoreState()
    _text(canvas, x, y + 2.2 * mm, f"比例尺 1:{frame.scale}", 8)
    _text(canvas, x, y - 3.2 * mm, "0", 6.5, centre=True)
    _text(canvas, x + total, y - 3.2 * mm, f"{length_m:g} 米", 6.5, centre=True)


def _grid(canvas: Canvas, x: float, top: float, widths_mm: list[float], rows: list[list[str]],
          row_mm: float = 7.0, size: float = 8.5) -> float:
    """A bordered table of label/value cells from ``top`` down; a row shorter than the widths spans its last
    cell. Returns the bottom."""
    canvas.saveState()
    canvas.setLineWidth(_THIN)
    y = top
    total = sum(widths_mm) * mm
    for row in rows:
        y -= row_mm * mm
        canvas.rect(x, y, total, row_mm * mm, stroke=1, fill=0)
        cx = x
        for k, value in enumerate(row):
            width = (sum(widths_mm[k:]) if k == len(row) - 1 else widths_mm[k]) * mm
            if k:
                canvas.line(cx, y, cx, y + row_mm * mm)
            bold = k % 2 == 0 and len(row) > 1
            _text(canvas, cx + 1.5 * mm, y + (row_mm * mm - size) / 2 + 1, str(value), size - (0.5 if bold else 0))
            cx += width
    canvas.restoreState()
    return y


def _value(value, unit: str = "", digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}".replace(",", "")
    return f"{value}{unit}"


def _footer(canvas: Canvas, sheet_as_of: str, made_on: str, draft: bool = False) -> None:
    _text(canvas, 20 * mm, 12 * mm, f"依据不动产登记库数据生成；数据时点 {sheet_as_of}；制图日期 {made_on}", 7,
          colour=colors.grey)
    if draft:
        _watermark(canvas)


def _watermark(canvas: Canvas) -> None:
    canvas.saveState()
    canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.18))
    canvas.setFont(_font(), 110)
    canvas.translate(A4[0] / 2, A4[1] / 2)
    canvas.rotate(40)
    canvas.drawCentredString(0, 0, "草稿")
    canvas.restoreState()


def _new_canvas(buffer: io.BytesIO, title: str, subject: str) -> Canvas:
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, invariant=1)
    canvas.setTitle(title)
    canvas.setSubject(subject)
    canvas.setCreator("cadastre")
    canvas.setAuthor("cadastre")
    return canvas


def parcel_map_pdf(sheet: ParcelSheet, *, made_on: str, draft: bool = False) -> bytes:
    """宗地图 of one parcel on an A4 portrait sheet, at the largest standard scale its outline fits (1:200 …)."""
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, f"宗地图 {sheet.zddm}", "宗地图")
    a = sheet.attributes
    width = A4[0]
    _text(canvas, width / 2, 278 * mm, "宗地图", 20, centre=True)
    _grid(canvas, 20 * mm, 272 * mm, [24, 61, 24, 61],
          [["宗地代码", sheet.zddm, "土地权利人", a.get("qlr") or ""], ["坐落", a.get("zl") or ""]])

    frame = _fit(sheet.outline)
    canvas.saveState()
    canvas.setLineWidth(_THIN)
    canvas.rect(frame.x0, frame.y0, frame.w, frame.h, stroke=1, fill=0)
    frame.clip(canvas)
    box = frame.ground_box()
    for _, neighbour in sheet.neighbours.iterrows():
        _draw_outline(canvas, frame, neighbour.geometry, _HAIR, colors.grey)
    for _, neighbour in sheet.neighbours.iterrows():
        inside = shapely.intersection(neighbour.geometry, box)
        if inside.is_empty or inside.area < 1:
            continue
        anchor = frame.page(inside.representative_point().coords)[0]
        _text(canvas, anchor[0], anchor[1], str(neighbour["zddm"]), 6.5, centre=True, colour=colors.grey)
    _draw_outline(canvas, frame, sheet.outline, _THICK)
    # underground structures (no floor above ground) first, dashed and unfilled, under the buildings above them
    buildings = sheet.buildings.assign(_above=[_floors_above(b) for _, b in sheet.buildings.iterrows()])
    for _, building in buildings.sort_values("_above", kind="stable").iterrows():
        if building["_above"] > 0:
            _draw_outline(canvas, frame, building.geometry, _THIN, fill=colors.Color(0.92, 0.92, 0.92))
        else:
            _draw_outline(canvas, frame, building.geometry, _THIN, dash=(4, 2))
    for _, building in buildings.iterrows():
        if building.geometry is None or building.geometry.is_empty:
            continue
        anchor = frame.page(building.geometry.representative_point().coords)[0]
        label = building_label(building["zrzh"], building.get("fwjg"), building["_above"], building.get("dxcs"))
        offset = -3 if building["_above"] > 0 else -14  # an underground label below its tower's
        _text(canvas, anchor[0], anchor[1] + offset, label, 8, centre=True)
    _side_lengths(canvas, frame, sheet.outline)
    _boundary_point_marks(canvas, frame, sheet)
    canvas.restoreState()
    _north_arrow(canvas, frame.x0 + frame.w - 10 * mm, frame.y0 + frame.h - 12 * mm)
    _scale_bar(canvas, frame, frame.x0 + 6 * mm, frame.y0 + 6 * mm)

    sides = sheet.sides
    _grid(canvas, 20 * mm, frame.y0 - 2 * mm, [24, 61, 24, 61], [
        ["宗地面积", _value(a.get("zdmj"), " 平方米"), "用途", labelled("YT", a.get("yt")) or ""],
        ["权利类型", labelled("QLLX", a.get("qllx")) or "", "权利性质", labelled("QLXZ", a.get("qlxz")) or ""],
        ["四至", "东：" + ("、".join(sides["东"]) or "—") + "　南：" + ("、".join(sides["南"]) or "—")],
        ["", "西：" + ("、".join(sides["西"]) or "—") + "　北：" + ("、".join(sides["北"]) or "—")],
        ["图幅号", _sheets(sheet.outline), "坐标系", crs_label(sheet.srid)],
        ["制图者", "", "审核者", ""],
    ], size=8)
    _footer(canvas, sheet.as_of, made_on, draft)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _floors_above(building) -> int:
    """Floors above ground: 地上层数, else 总层数 less 地下层数."""
    for value in (building.get("dscs"), None):
        if value is not None and value == value:
            return int(value)
    total, below = building.get("zcs"), building.get("dxcs")
    total = int(total) if total is not None and total == total else 0
    below = int(below) if below is not None and below == below else 0
    return max(total - below, 0)


def _sheets(outline: BaseGeometry) -> str:
    """The 1:500 sheets a parcel lies on, as a 宗地图 prints them (three, then how many more)."""
    names = sheet_numbers(outline, 500)
    return "、".join(names) if len(names) <= 3 else "、".join(names[:3]) + f" 等 {len(names)} 幅"


def _boundary_point_marks(canvas: Canvas, frame: Frame, sheet: ParcelSheet) -> None:
    """A small circle at each 界址点 and its number outside the corner (along the outward bisector)."""
    points = sheet.points
    canvas.saveState()
    canvas.setLineWidth(_HAIR)
    canvas.setFillColor(colors.white)
    for _, ring in points.groupby("ring", sort=True):
        ground = ring[["y", "x"]].to_numpy(float)  # easting, northing
        page = frame.page(ground)
        previous, following = np.roll(page, 1, axis=0), np.roll(page, -1, axis=0)
        for k, (x, y) in enumerate(page):
            outward = np.zeros(2)
            for a, b in ((previous[k], page[k]), (page[k], following[k])):
                d = b - a
                span = math.hypot(*d)
                if span:
                    outward += np.array([-d[1], d[0]]) / span
            norm = math.hypot(*outward)
            outward = outward / norm if norm else np.array([0.0, 1.0])
            canvas.circle(x, y, 0.7 * mm, stroke=1, fill=1)
            lx, ly = np.array([x, y]) + outward * 3.2 * mm
            _text(canvas, lx, ly - 2.5, str(ring["jzdh"].iat[k]), 7, centre=True)
    canvas.restoreState()


def boundary_points_pdf(sheet: ParcelSheet, *, made_on: str, draft: bool = False) -> bytes:
    """界址点成果表: every boundary point in order with X (northing), Y (easting) to the millimetre, the side to
    the next point and its 界标类型; as many A4 pages as it takes, the header row on each."""
    buffer = io.BytesIO()
    font = _font()
    a = sheet.attributes
    style = ParagraphStyle("cell", fontName=font, fontSize=9, leading=11)
    title = ParagraphStyle("title", fontName=font, fontSize=18, leading=24, alignment=1)
    head = [[Paragraph("宗地代码", style), Paragraph(sheet.zddm, style), Paragraph("宗地面积", style),
             Paragraph(_value(a.get("zdmj"), " 平方米"), style)],
            [Paragraph("坐落", style), Paragraph(a.get("zl") or "", style), Paragraph("界址点数", style),
             Paragraph(str(len(sheet.points)), style)],
            [Paragraph("坐标系", style), Paragraph(crs_label(sheet.srid), style), "", ""]]
    header = Table(head, colWidths=[22 * mm, 78 * mm, 22 * mm, 48 * mm])
    header.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("SPAN", (1, 2), (3, 2)),
                                ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    rows = [["序号", "界址点号", "X（米）", "Y（米）", "至下一点边长（米）", "界标类型"]]
    k = 0
    for _, ring in sheet.points.groupby("ring", sort=True):
        for point in ring.itertuples(index=False):
            k += 1
            rows.append([str(k), point.jzdh, f"{point.x:.3f}", f"{point.y:.3f}", f"{point.length:.2f}",
                         labelled("JBLX", point.jblx) or ""])
        first = ring.iloc[0]  # the ring closes on its first point, as surveyors list it
        rows.append(["", first["jzdh"], f"{first['x']:.3f}", f"{first['y']:.3f}", "", ""])
    table = Table(rows, colWidths=[12 * mm, 22 * mm, 34 * mm, 34 * mm, 36 * mm, 32 * mm], repeatRows=1)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9),
                               ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)),
                               ("ALIGN", (2, 1), (4, -1), "RIGHT"), ("ALIGN", (0, 0), (-1, 0), "CENTER")]))
    sign = Table([["制表者", "", "审核者", "", "日期", made_on]],
                 colWidths=[18 * mm, 38 * mm, 18 * mm, 38 * mm, 16 * mm, 42 * mm])
    sign.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9)]))

    def decorate(canvas: Canvas, document) -> None:
        canvas.setTitle(f"界址点成果表 {sheet.zddm}")
        canvas.setSubject("界址点成果表")
        canvas.setCreator("cadastre")
        _text(canvas, A4[0] - 20 * mm, 12 * mm, f"第 {document.page} 页", 7, colour=colors.grey)
        _footer(canvas, sheet.as_of, made_on, draft)

    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                                 bottomMargin=20 * mm, title=f"界址点成果表 {sheet.zddm}", creator="cadastre",
                                 invariant=1)
    document.build([Paragraph("界址点成果表", title), Spacer(1, 4 * mm), header, Spacer(1, 4 * mm), table,
                    Spacer(1, 6 * mm), sign], onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


def unit_plan_pdf(sheet: UnitSheet | list[UnitSheet], *, made_on: str, draft: bool = False) -> bytes:
    """房产分户图 of one unit on an A4 portrait sheet (a list: a page each, in the given order): the unit's outline
    with its sides, the other units of its floor and the building's outline for context."""
    sheets = sheet if isinstance(sheet, list) else [sheet]
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, f"房产分户图 {sheets[0].bdcdyh}" if len(sheets) == 1 else "房产分户图", "房产分户图")
    for one in sheets:
        _unit_page(canvas, one, made_on, draft)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _unit_page(canvas: Canvas, sheet: UnitSheet, made_on: str, draft: bool) -> None:
    a, b = sheet.attributes, sheet.building
    _text(canvas, A4[0] / 2, 278 * mm, "房产分户图", 20, centre=True)
    floors = a.get("myc") or a.get("sjc")
    building_name = f"{b.get('zrzh', '')} {b.get('jzwmc') or ''}".strip()
    _grid(canvas, 20 * mm, 272 * mm, [24, 61, 24, 61],
          [["不动产单元代码", sheet.bdcdyh, "室号（部位）", a.get("shbw") or ""],
           ["坐落", sheet.zl or ""],
           ["幢号", building_name, "层次", f"{floors} 层" if floors not in (None, "") else ""]])
    frame_mm = (20.0, 88.0, 170.0, 155.0)
    has_outline = sheet.outline is not None and not sheet.outline.is_empty
    frame = _fit(sheet.outline if has_outline else sheet.building_outline, frame_mm, smallest=100)
    canvas.saveState()
    canvas.setLineWidth(_THIN)
    canvas.rect(frame.x0, frame.y0, frame.w, frame.h, stroke=1, fill=0)
    frame.clip(canvas)
    if sheet.building_outline is not None:
        _draw_outline(canvas, frame, sheet.building_outline, _THIN, colors.grey, dash=(3, 2))
    box = frame.ground_box()
    others = sheet.floor_units if sheet.floor_units is not None else None
    for _, other in others.iterrows() if others is not None else []:
        _draw_outline(canvas, frame, other.geometry, _HAIR, colors.grey)
        inside = shapely.intersection(other.geometry, box)
        if not inside.is_empty and inside.area > 1:
            anchor = frame.page(inside.representative_point().coords)[0]
            _text(canvas, anchor[0], anchor[1], str(other["shbw"]), 7, centre=True, colour=colors.grey)
    if has_outline:
        _draw_outline(canvas, frame, sheet.outline, _THICK, fill=colors.Color(0.95, 0.95, 0.88))
        _side_lengths(canvas, frame, sheet.outline, size=7)
        anchor = frame.page(sheet.outline.representative_point().coords)[0]
        _text(canvas, anchor[0], anchor[1] + 2, a.get("shbw") or "", 10, centre=True)
        area = a.get("scjzmj") if a.get("scjzmj") is not None else a.get("ycjzmj")
        _text(canvas, anchor[0], anchor[1] - 10, _value(area, " m²"), 8, centre=True)
    else:
        _text(canvas, frame.x0 + frame.w / 2, frame.y0 + frame.h / 2, "成果中没有该户的户界线", 10, centre=True)
    canvas.restoreState()
    _north_arrow(canvas, frame.x0 + frame.w - 10 * mm, frame.y0 + frame.h - 12 * mm)
    _scale_bar(canvas, frame, frame.x0 + 6 * mm, frame.y0 + 6 * mm)
    surveyed = a.get("scjzmj") is not None
    kind = "实测" if surveyed else "预测"
    prefix = "sc" if surveyed else "yc"
    _grid(canvas, 20 * mm, frame.y0 - 2 * mm, [30, 55, 30, 55], [
        [f"建筑面积（{kind}）", _value(a.get(f"{prefix}jzmj"), " 平方米"), "房屋用途",
         labelled("FWYT", a.get("fwyt")) or ""],
        ["套内建筑面积", _value(a.get(f"{prefix}tnjzmj"), " 平方米"), "分摊建筑面积",
         _value(a.get(f"{prefix}ftjzmj"), " 平方米")],
        ["制图者", "", "审核者", ""],
    ], size=8)
    _footer(canvas, sheet.as_of, made_on, draft)


def floor_plan_pdf(building: dict, building_outline: BaseGeometry | None, floors: list[tuple[str, object]], zl: str,
                   as_of: str, *, made_on: str, draft: bool = False) -> bytes:
    """房产分层平面图 of a building's floors (``(label, units)`` each; a page each, A4 portrait): every unit on the
    floor outlined and labelled with its 室号 and 建筑面积, the building's outline, scale and north arrow; a table
    of the floor's units under it."""
    buffer = io.BytesIO()
    code = f"{building.get('zddm')}F{building.get('zrzh')}"
    canvas = _new_canvas(buffer, f"房产分层平面图 {code}", "房产分层平面图")
    for label, units in floors:
        _floor_page(canvas, building, building_outline, units, label, zl, as_of, made_on, draft)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _floor_page(canvas: Canvas, building: dict, building_outline, units, floor_label: str, zl: str, as_of: str,
                made_on: str, draft: bool) -> None:
    code = f"{building.get('zddm')}F{building.get('zrzh')}"
    _text(canvas, A4[0] / 2, 278 * mm, "房产分层平面图", 20, centre=True)
    _grid(canvas, 20 * mm, 272 * mm, [24, 61, 24, 61],
          [["自然幢代码", code, "层次", floor_label],
           ["坐落", zl or ""], ["建筑物名称", building.get("jzwmc") or "", "户数", str(len(units))]])
    frame_mm = (20.0, 110.0, 170.0, 133.0)
    outlines = [g for g in units.geometry if g is not None and not g.is_empty]
    extent = building_outline if building_outline is not None else shapely.union_all(outlines)
    frame = _fit(extent, frame_mm, smallest=100)
    canvas.saveState()
    canvas.setLineWidth(_THIN)
    canvas.rect(frame.x0, frame.y0, frame.w, frame.h, stroke=1, fill=0)
    frame.clip(canvas)
    if building_outline is not None:
        _draw_outline(canvas, frame, building_outline, _THIN, colors.grey, dash=(3, 2))
    for _, unit in units.iterrows():
        if unit.geometry is None or unit.geometry.is_empty:
            continue
        _draw_outline(canvas, frame, unit.geometry, _THIN, fill=colors.Color(0.95, 0.95, 0.88))
        anchor = frame.page(unit.geometry.representative_point().coords)[0]
        area = unit["scjzmj"] if unit["scjzmj"] == unit["scjzmj"] and unit["scjzmj"] is not None else unit["ycjzmj"]
        _text(canvas, anchor[0], anchor[1] + 1, str(unit["shbw"]), 8, centre=True)
        _text(canvas, anchor[0], anchor[1] - 8, _value(area, " m²"), 6.5, centre=True)
    canvas.restoreState()
    _north_arrow(canvas, frame.x0 + frame.w - 10 * mm, frame.y0 + frame.h - 12 * mm)
    _scale_bar(canvas, frame, frame.x0 + 6 * mm, frame.y0 + 6 * mm)
    rows = [["室号", "不动产单元代码", "建筑面积", "套内建筑面积", "分摊建筑面积"]]
    for _, unit in units.iterrows():
        surveyed = unit["scjzmj"] == unit["scjzmj"] and unit["scjzmj"] is not None
        prefix = "sc" if surveyed else "yc"
        rows.append([str(unit["shbw"]), str(unit["bdcdyh"]), _value(unit[f"{prefix}jzmj"]),
                     _value(unit[f"{prefix}tnjzmj"]), _value(unit[f"{prefix}ftjzmj"])])
    table = Table(rows[:13], colWidths=[20 * mm, 68 * mm, 27 * mm, 28 * mm, 27 * mm])
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), _font()), ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                               ("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("ALIGN", (2, 1), (-1, -1), "RIGHT")]))
    _, height = table.wrapOn(canvas, 170 * mm, 80 * mm)
    table.drawOn(canvas, 20 * mm, frame.y0 - 3 * mm - height)
    if len(rows) > 13:
        _text(canvas, 20 * mm, frame.y0 - 6 * mm - height, f"（另有 {len(rows) - 13} 户见楼盘表）", 7)
    _footer(canvas, as_of, made_on, draft)
