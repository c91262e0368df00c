"""Registration documents (issue 24): 宗地图, 界址点成果表, 房产分户图 under the parcel and the unit they show."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import READ, PrincipalDep, RegistryDep
from api.problems import PROBLEM_RESPONSES
from api.routes.lookups import XLSX

#: any signed-in role may print a document; owners' names are masked per role and an unmasked read is audited
router = APIRouter(prefix="/api", responses=PROBLEM_RESPONSES, dependencies=[READ], tags=["图件"])

PDF = "application/pdf"
ZIP = "application/zip"
AsOf = Annotated[str | None, Query(max_length=40, description="某一时刻的数据（ISO 8601），用于重现当时出具的图件")]
Draft = Annotated[bool, Query(description="草稿：加“草稿”水印")]


def _document(body: bytes, media_type: str, ascii_name: str, name: str) -> Response:
    """Shown in the browser (PDF) or downloaded (xlsx), named in Chinese where the client understands RFC 6266."""
    disposition = "inline" if media_type == PDF else "attachment"
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})


@router.get("/parcels/{zddm}/documents/parcel-map", responses={200: {"content": {PDF: {}}, "description": "PDF"}})
def parcel_map(registry: RegistryDep, principal: PrincipalDep, zddm: str, as_of: AsOf = None, draft: Draft = False):
    """宗地图（PDF，A4）：界址点及编号、界址边长、四至、宗地内自然幢（幢号、结构、层数）、比例尺、指北针。"""
    body = registry.parcel_map(zddm, as_of=as_of, viewer=principal, draft=draft)
    return _document(body, PDF, f"parcel-map-{zddm}.pdf", f"宗地图-{zddm}.pdf")


@router.get("/parcels/{zddm}/documents/boundary-points",
            responses={200: {"content": {PDF: {}, XLSX: {}}, "description": "PDF 或 xlsx"}})
def boundary_points(registry: RegistryDep, principal: PrincipalDep, zddm: str, as_of: AsOf = None,
                    format: Annotated[str, Query(pattern="^(pdf|xlsx)$", description="pdf 或 xlsx")] = "pdf"):
    """界址点成果表：按顺序列出每个界址点的点号、X（北）、Y（东）坐标（毫米）、至下一点的边长和界标类型。"""
    body = registry.boundary_points(zddm, fmt=format, as_of=as_of, viewer=principal)
    return _document(body, PDF if format == "pdf" else XLSX, f"boundary-points-{zddm}.{format}",
                     f"界址点成果表-{zddm}.{format}")


@router.get("/units/{bdcdyh}/documents/unit-plan", responses={200: {"content": {PDF: {}}, "description": "PDF"}})
def unit_plan(registry: RegistryDep, bdcdyh: str, as_of: AsOf = None, draft: Draft = False):
    """房产分户图（PDF，A4）：户的边界及边长、所在层的相邻户、幢号、层次、室号、建筑面积 / 套内 / 分摊。"""
    body = registry.unit_plan(bdcdyh, as_of=as_of, draft=draft)
    return _document(body, PDF, f"unit-plan-{bdcdyh}.pdf", f"房产分户图-{bdcdyh}.pdf")


@router.get("/buildings/{code}/documents/floor-plan", responses={200: {"content": {PDF: {}}, "description": "PDF"}})
def floor_plan(registry: RegistryDep, code: str,
               floor: Annotated[int, Query(ge=-20, le=300, description="实际层（地下为负数）")],
               as_of: AsOf = None, draft: Draft = False):
    """房产分层平面图（PDF，A4）：该层每户的边界、室号和建筑面积，及户表。"""
    body = registry.floor_plan(code, floor, as_of=as_of, draft=draft)
    return _document(body, PDF, f"floor-plan-{code}-{floor}.pdf", f"房产分层平面图-{code}-{floor}层.pdf")


@router.get("/buildings/{code}/documents/first-registration",
            responses={200: {"content": {ZIP: {}}, "description": "zip"}})
def first_registration(registry: RegistryDep, principal: PrincipalDep, code: str, draft: Draft = False):
    """首次登记资料包（zip）：楼盘表、宗地图、界址点成果表、房产分户图（按楼盘表顺序）、分层平面图、规划核实与办理条件、
    含各文件 SHA-256 的 manifest.json。自然幢暂不能办理首次登记时拒绝（409，说明原因），draft=true 时生成带“草稿”
    水印的预览。"""
    body = registry.first_registration_file(code, draft=draft, viewer=principal)
    name = f"首次登记资料-{code}{'-草稿' if draft else ''}.zip"
    return _document(body, ZIP, f"first-registration-{code}.zip", name)
