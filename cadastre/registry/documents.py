"""Registration documents (issue 24): 宗地图, 界址点成果表 (PDF or xlsx) and 房产分户图 of any current parcel or
unit — or as it was at ``as_of``, so a document can be reproduced as it was issued — drawn from the registry's
stored geometry and figures. Owners' names follow the viewer's role as on the parcel card (masked, or read and
audited)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

from cadastre.allocate.buildingtable import building_table as table_of
from cadastre.core.auth import Principal
from cadastre.core.codes import ParcelCode, UnitCode
from cadastre.core.errors import ConflictError, InputError
from cadastre.qa.planning import INDICATORS
from cadastre.registry import access
from cadastre.registry.context import Context, moment
from cadastre.serve.cards import mask_owners, reads_owners
from cadastre.serve.documents import (
    ParcelSheet,
    UnitSheet,
    boundary_points,
    boundary_points_pdf,
    boundary_points_xlsx,
    floor_label,
    floor_plan_pdf,
    floors_of,
    four_sides,
    parcel_map_pdf,
    unit_plan_pdf,
)
from cadastre.serve.tables import write_table_xlsx
from cadastre.store.documents import building_document_rows, parcel_document_rows, unit_document_rows
from cadastre.store.queries import building_rows

__all__ = ["parcel_sheet", "unit_sheet", "parcel_map", "boundary_points_document", "unit_plan", "floor_plan",
           "first_registration_file"]

#: a planning indicator's status as the 首次登记 file's summary says it
_VERDICTS = {"pass": "符合", "fail": "不符合", "not_checked": "未核实", "waived": "已豁免"}

#: what ``boundary_points_document`` writes, by the name's suffix or ``fmt``
BOUNDARY_FORMATS = ("pdf", "xlsx")


def _record(row) -> dict:
    return {k: (None if v != v else v) if isinstance(v, float) else v for k, v in row.items() if k != "geometry"}


def _stamp(as_of: datetime | None) -> tuple[str, str]:
    """(the data's moment, the drawing's date) as the documents print them."""
    now = datetime.now(UTC)
    return (f"{as_of:%Y-%m-%d %H:%M} UTC" if as_of is not None else f"{now:%Y-%m-%d %H:%M} UTC（现势）",
            f"{now:%Y-%m-%d}")


def parcel_sheet(ctx: Context, zddm: str, *, as_of: datetime | str | None = None,
                 viewer: Principal | None = None) -> ParcelSheet:
    """What a parcel's documents show (a :class:`ParcelSheet`): its row and outline, boundary points in order
    with side lengths, neighbours, buildings and 四至 — now or at ``as_of``. For notebooks and the documents."""
    zddm = str(ParcelCode.parse(zddm, allow_provisional=True))
    when = moment(as_of)
    with ctx.lookups.connect() as connection:
        rows = parcel_document_rows(connection, ctx.srid, zddm, when)
    parcel, neighbours = mask_owners(rows["parcel"], viewer), mask_owners(rows["neighbours"], viewer)
    if viewer is not None and reads_owners(viewer) and parcel["qlr"].notna().any():
        access.audit(ctx, "owners.read", zddm, actor=viewer, detail={"via": "document"})
    outline = parcel.geometry.iat[0]
    points = boundary_points(outline, rows["points"])
    return ParcelSheet(zddm=zddm, outline=outline, attributes=_record(parcel.iloc[0]), points=points,
                       neighbours=neighbours, buildings=rows["buildings"], sides=four_sides(outline, neighbours),
                       srid=ctx.srid, as_of=_stamp(when)[0])


def parcel_map(ctx: Context, zddm: str, *, as_of: datetime | str | None = None, viewer: Principal | None = None,
               draft: bool = False) -> bytes:
    """宗地图 of the parcel ``zddm`` (19 characters) as a PDF (A4, at the largest standard scale it fits)."""
    sheet = parcel_sheet(ctx, zddm, as_of=as_of, viewer=viewer)
    return parcel_map_pdf(sheet, made_on=_stamp(None)[1], draft=draft)


def boundary_points_document(ctx: Context, zddm: str, *, fmt: str = "pdf", as_of: datetime | str | None = None,
                             viewer: Principal | None = None) -> bytes:
    """界址点成果表 of the parcel ``zddm``: ``fmt`` ``pdf`` or ``xlsx``."""
    if fmt not in BOUNDARY_FORMATS:
        raise InputError(f"界址点成果表只能生成 PDF 或 xlsx，不能生成 {fmt}",
                         f"boundary points as pdf or xlsx, not {fmt}")
    sheet = parcel_sheet(ctx, zddm, as_of=as_of, viewer=viewer)
    made_on = _stamp(None)[1]
    return boundary_points_pdf(sheet, made_on=made_on) if fmt == "pdf" else boundary_points_xlsx(sheet, made_on=made_on)


def unit_sheet(ctx: Context, bdcdyh: str, *, as_of: datetime | str | None = None) -> UnitSheet:
    """What a unit's 房产分户图 shows (a :class:`UnitSheet`), now or at ``as_of``."""
    bdcdyh = str(UnitCode.parse(bdcdyh, allow_provisional=True))
    when = moment(as_of)
    with ctx.lookups.connect() as connection:
        rows = unit_document_rows(connection, ctx.srid, bdcdyh, when)
    unit, building, parcel = rows["unit"], rows["building"], rows["parcel"]
    outline = unit.geometry.iat[0]
    return UnitSheet(bdcdyh=bdcdyh, outline=None if outline is None or outline.is_empty else outline,
                     attributes=_record(unit.iloc[0]),
                     building_outline=building.geometry.iat[0] if len(building) else None,
                     building=_record(building.iloc[0]) if len(building) else {},
                     zl=parcel["zl"].iat[-1] if len(parcel) else "", srid=ctx.srid, as_of=_stamp(when)[0],
                     floor_units=_same_floor(rows["floor_units"], unit.iloc[0]))


def _same_floor(units, unit):
    """The other units with an outline on the unit's 实际层 (a 跃层 flat: its lowest floor's neighbours)."""
    others = units[(units["bdcdyh"] != unit["bdcdyh"]) & (units["sjc"] == unit["sjc"])]
    return others[others.geometry.notna()].reset_index(drop=True)


def unit_plan(ctx: Context, bdcdyh: str, *, as_of: datetime | str | None = None, draft: bool = False) -> bytes:
    """房产分户图 of the unit ``bdcdyh`` (28 characters) as a PDF (A4)."""
    return unit_plan_pdf(unit_sheet(ctx, bdcdyh, as_of=as_of), made_on=_stamp(None)[1], draft=draft)


def _building_code(code: str) -> tuple[str, str]:
    code = str(code).strip().upper()
    if len(code) != 24 or code[19] != "F" or not code[20:].isdigit():
        raise InputError(f"自然幢代码 {code} 应为 24 位：宗地代码 + F + 4 位幢号", f"bad building code {code}")
    return str(ParcelCode.parse(code[:19], allow_provisional=True)), code[20:]


def _on_floor(units, floor: int):
    return units[[floor in floors_of(s, m) for s, m in zip(units["sjc"], units["myc"], strict=True)]]


def floor_plan(ctx: Context, building_code: str, floor: int, *, as_of: datetime | str | None = None,
               draft: bool = False) -> bytes:
    """房产分层平面图 of floor ``floor`` (实际层; negative below ground) of the building ``building_code``
    (24 characters) as a PDF (A4): every unit on that floor, a 跃层 flat on each floor it spans."""
    zddm, zrzh = _building_code(building_code)
    when = moment(as_of)
    with ctx.lookups.connect() as connection:
        rows = building_document_rows(connection, ctx.srid, zddm, zrzh, when)
    units = _on_floor(rows["units"], int(floor))
    if units.empty:
        floors = sorted({f for s, m in zip(rows["units"]["sjc"], rows["units"]["myc"], strict=True)
                         for f in floors_of(s, m)})
        raise InputError(f"自然幢 {building_code} 没有第 {floor} 层的户；有户的层：{'、'.join(map(str, floors))}",
                         f"building {building_code} has no units on floor {floor}")
    building = _record(rows["building"].iloc[0])
    zl = rows["parcel"]["zl"].iat[-1] if len(rows["parcel"]) else ""
    return floor_plan_pdf(building, rows["building"].geometry.iat[0],
                          [(floor_label(int(floor)), units.reset_index(drop=True))], zl, _stamp(when)[0],
                          made_on=_stamp(None)[1], draft=draft)


def first_registration_file(ctx: Context, building_code: str, *, draft: bool = False,
                            viewer: Principal | None = None) -> bytes:
    """The 首次登记 file of a building as a zip: 楼盘表 (xlsx), 宗地图, 界址点成果表 (PDF and xlsx), every
    房产分户图 in 楼盘表 order (one PDF), 房产分层平面图 (a page per floor), the readiness and 规划核实 summary, and
    ``manifest.json`` with each file's SHA-256. A building not ready for 首次登记 is refused (ConflictError naming
    why) unless ``draft``: then every drawing is watermarked 草稿."""
    zddm, zrzh = _building_code(building_code)
    code = f"{zddm}F{zrzh}"
    with ctx.lookups.connect() as connection:
        table_rows = building_rows(connection, code)
        rows = building_document_rows(connection, ctx.srid, zddm, zrzh)
    table = table_of(table_rows)
    if not table.ready and not draft:
        why = "；".join(table.not_ready_because) or "未满足首次登记条件"
        raise ConflictError(f"自然幢 {code} 暂不能办理首次登记：{why}。如需预览，请生成草稿（draft）",
                            f"building {code} is not ready for first registration: {why}")
    as_of, made_on = _stamp(None)
    files: dict[str, bytes] = {}
    workbook = io.BytesIO()
    write_table_xlsx(table, workbook)
    files[f"楼盘表-{code}.xlsx"] = workbook.getvalue()
    sheet = parcel_sheet(ctx, zddm, viewer=viewer)
    files[f"宗地图-{zddm}.pdf"] = parcel_map_pdf(sheet, made_on=made_on, draft=draft)
    files[f"界址点成果表-{zddm}.pdf"] = boundary_points_pdf(sheet, made_on=made_on, draft=draft)
    files[f"界址点成果表-{zddm}.xlsx"] = boundary_points_xlsx(sheet, made_on=made_on)
    units, building = rows["units"], _record(rows["building"].iloc[0])
    outline = rows["building"].geometry.iat[0]
    zl = rows["parcel"]["zl"].iat[-1] if len(rows["parcel"]) else ""
    # every unit's 房产分户图, in the 楼盘表's order (floors top down, then 单元 and 户号 across)
    order = list(dict.fromkeys(c.bdcdyh for row in table.rows for c in row.cells if hasattr(c, "bdcdyh")))
    by_code = {u["bdcdyh"]: u for _, u in units.iterrows()}
    sheets = []
    for bdcdyh in order:
        unit = by_code.get(bdcdyh)
        if unit is None:
            continue
        floors = floors_of(unit["sjc"], unit["myc"])
        sheets.append(UnitSheet(bdcdyh=bdcdyh, outline=unit.geometry, attributes={**_record(unit),
                                "myc": unit["myc"] if unit["myc"] else (floors[0] if floors else None)},
                                building_outline=outline, building=building, zl=zl, srid=ctx.srid, as_of=as_of,
                                floor_units=_same_floor(units, unit)))
    files[f"房产分户图-{code}.pdf"] = unit_plan_pdf(sheets, made_on=made_on, draft=draft)
    levels = sorted({f for s, m in zip(units["sjc"], units["myc"], strict=True) for f in floors_of(s, m)},
                    reverse=True)
    files[f"房产分层平面图-{code}.pdf"] = floor_plan_pdf(
        building, outline, [(floor_label(f), _on_floor(units, f).reset_index(drop=True)) for f in levels], zl,
        as_of, made_on=made_on, draft=draft)
    indicators = table_rows["indicators"]
    summary = [f"自然幢 {code}（{table.name or ''}）首次登记资料", f"生成时间：{as_of}" + ("（草稿）" if draft else ""),
               "首次登记：" + ("可办理" if table.ready else "暂不可办理：" + "；".join(table.not_ready_because)),
               f"户数：{table.unit_count}；总建筑面积：{table.total_area:.2f} 平方米"
               + (f"；申报总建筑面积：{table.declared_area:.2f} 平方米" if table.declared_area else ""),
               "", "规划核实："]
    for item in indicators.itertuples(index=False):
        name = INDICATORS.get(item.indicator, (None, item.indicator))[1]
        subject = item.subject if isinstance(item.subject, str) and item.subject else "项目"
        subject = f"幢 {subject}" if subject.isdigit() else subject  # a 幢号, a facility's name, or the project
        reason = f"（{item.reason}）" if isinstance(item.reason, str) and item.reason else ""
        summary.append(f"  {subject} {name}：{_VERDICTS.get(item.status, item.status)}{reason}")
    if indicators.empty:
        summary.append("  （本幢成果包未记录规划核实结果）")
    files["规划核实与首次登记条件.txt"] = ("\n".join(summary) + "\n").encode("utf-8")
    manifest = {"building": code, "generated_at": as_of, "draft": draft, "ready_for_first_registration": table.ready,
                "not_ready_because": table.not_ready_because, "units": len(sheets),
                "files": [{"name": name, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
                          for name, body in files.items()]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return buffer.getvalue()
