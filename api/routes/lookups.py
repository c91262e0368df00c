"""Lookups for registration staff and other offices: parcels, units, buildings (楼盘表), search, permits."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.background import BackgroundTask

from api.deps import JSON, READ, PrincipalDep, RegistryDep, SettingsDep, allowed, point_lookup
from api.problems import PROBLEM_RESPONSES
from cadastre.core.auth import Permission, Principal
from cadastre.core.codes import ParcelCode, UnitCode
from cadastre.core.errors import InputError, shown
from cadastre.core.permit import parse_permit
from cadastre.serve.export import FORMATS, write_unit_list
from cadastre.serve.features import bbox_in_storage, parse_bbox
from cadastre.serve.tables import table_html, write_table_xlsx
from cadastre.serve.tiles import TILE_LAYERS

#: every lookup needs a signed-in role (any role may read the registry); owners' names are masked per role
router = APIRouter(prefix="/api", responses=PROBLEM_RESPONSES, dependencies=[READ])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"at 应为“经度,纬度”，收到 {shown(text)}", f"at must be LON,LAT, got {shown(text)}") from None
    return lon, lat


@router.get("/parcels", response_class=JSON, tags=["宗地"])
def find_parcels(registry: RegistryDep, principal: PrincipalDep,
                 at: Annotated[str | None, Query(description="经度,纬度：返回包含该点的宗地", max_length=60)] = None,
                 q: Annotated[str | None, Query(description="坐落或宗地代码（开头）", max_length=100)] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 20):
    """按位置（at=经度,纬度）或文字（q=坐落/代码）查找宗地。"""
    if (at is None) == (q is None):
        raise InputError("请给出 at（经度,纬度）或 q（坐落/代码）之一", "give exactly one of at or q")
    if at is not None:
        return JSON({"parcels": [registry.parcel_at(*_lonlat(at), viewer=principal)]})
    return JSON({"parcels": [h for h in registry.search(q, limit=limit) if h["kind"] == "parcel"]})


# point lookups: on the loop, without blocking it (api.deps.point_lookup)
@router.get("/parcels/{zddm}", response_class=JSON, tags=["宗地"])
async def get_parcel(registry: RegistryDep, principal: PrincipalDep, zddm: str):
    """宗地卡片：现势信息、自然幢、历史版本、代码沿革、能否办理首次登记。权利人（qlr）仅登记员和管理员可见，其他角色
    看到的是遮蔽后的姓名。"""
    return JSON(await point_lookup(registry, registry.parcel, registry.parcel_async, str(ParcelCode.parse(zddm)),
                                   viewer=principal, writes=principal.can(Permission.READ_OWNERS)))  # an audited read


@router.get("/units/{bdcdyh}", response_class=JSON, tags=["户"])
async def get_unit(registry: RegistryDep, bdcdyh: str):
    """户：现势版本、预测到实测的各版本、代码及其沿革（前后两个方向）。"""
    return JSON(await point_lookup(registry, registry.unit, registry.unit_async, str(UnitCode.parse(bdcdyh))))


def _building_code(code: str) -> str:
    code = code.strip().upper()
    if len(code) != 24 or code[19] != "F" or not code[20:].isdigit():
        raise InputError(f"自然幢代码 {shown(code)} 应为 24 位：宗地代码 + F + 4 位幢号", f"bad building code {shown(code)}")
    ParcelCode.parse(code[:19])
    return code


@router.get("/buildings/{code}/table", tags=["楼盘表"],
            responses={200: {"content": {"application/json": {}, "text/html": {}, XLSX: {}},
                             "description": "楼盘表：JSON、HTML 或 Excel"}})
def building_table(registry: RegistryDep, code: str,
                   format: Annotated[str, Query(pattern="^(json|html|xlsx)$")] = "json"):
    """楼盘表（幢 × 层 × 户）：format=json（默认）、html 或 xlsx。"""
    table = registry.building_table(_building_code(code))
    if format == "html":
        return HTMLResponse(table_html(table))
    if format == "xlsx":
        buffer = io.BytesIO()
        write_table_xlsx(table, buffer)
        return Response(buffer.getvalue(), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{table.code}.xlsx"'})
    return JSON(table.to_dict())


@router.get("/buildings/{code}/readiness", response_class=JSON, tags=["楼盘表"])
def building_readiness(registry: RegistryDep, code: str):
    """自然幢能否办理首次登记，及不能的原因。"""
    table = registry.building_table(_building_code(code))
    return JSON({"code": table.code, "ready": table.ready, "not_ready_because": table.not_ready_because})


EXPORT_TYPES = {"gpkg": "application/geopackage+sqlite3", "shp": "application/zip",
                "geojson": "application/geo+json", "xlsx": XLSX}


@router.get("/export/{layer}", tags=["导出"],
            responses={200: {"content": {media: {} for media in EXPORT_TYPES.values()},
                             "description": "导出文件（附件）"}})
def export_layer(registry: RegistryDep, principal: PrincipalDep,
                 layer: Annotated[str, PathParam(pattern="^(parcels|buildings|units)$")],
                 format: Annotated[str, Query(pattern="^(gpkg|shp|geojson|xlsx)$",
                                              description="gpkg、shp（GBK Shapefile 的 zip）、geojson（经纬度）、"
                                                          "xlsx（户清单，仅 units）")] = "gpkg",
                 office: Annotated[str, Query(pattern="^(housing|tax)$",
                                              description="xlsx 户清单的用途：housing 住建、tax 税务")] = "housing",
                 subdistrict: Annotated[str | None, Query(pattern=r"^\d{6}(\d{3}){0,2}$",
                                                          description="地籍子区代码（12 位）")] = None,
                 bbox: Annotated[str | None, Query(max_length=200, description="经纬度范围：最小经度,最小纬度,最大经度,最大纬度")] = None,
                 as_of: Annotated[str | None, Query(max_length=40, description="某一时刻的数据（ISO 8601）")] = None):
    """导出图层：GeoPackage、GBK Shapefile（zip）、GeoJSON；字段名与成果包一致，可重新读入。units 还可导出 xlsx 户清单
    （office=housing 住建 / tax 税务）。权利人姓名按角色遮蔽。"""
    box = None if bbox is None else bbox_in_storage(parse_bbox(bbox), 4326, registry.storage_srid)
    folder = Path(tempfile.mkdtemp(prefix="cadastre-export-"))
    target = folder / f"{layer}{FORMATS[format][0]}"
    try:
        if format == "xlsx":
            if layer != "units":
                raise InputError("xlsx 户清单只能由 units 导出", "xlsx is a unit list: layer units")
            write_unit_list(registry.unit_list(office, subdistrict=subdistrict, as_of=as_of), target, office=office)
            target = target.rename(folder / f"units-{office}.xlsx")
        else:
            registry.export(target, layers=(layer,), fmt=format, subdistrict=subdistrict, bbox=box, as_of=as_of,
                            viewer=principal)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(target, media_type=EXPORT_TYPES[format], filename=target.name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


@router.get("/search", response_class=JSON, tags=["查询"])
def search(registry: RegistryDep, q: Annotated[str, Query(min_length=1, max_length=100)],
           limit: Annotated[int, Query(ge=1, le=100)] = 20):
    """按宗地代码、自然幢代码、不动产单元代码（或其开头）、坐落、建筑物名称查找；结果带经纬度范围。"""
    return JSON({"results": registry.search(q, limit=limit)})


@router.post("/permits", status_code=201, response_class=JSON, tags=["规划许可"],
             responses={201: {"description": "已登记（内容相同则不新增版本）"}})
def add_permit(registry: RegistryDep, content: Annotated[dict[str, Any], Body(description="permit.json 的内容")],
               planner: Annotated[Principal, allowed(Permission.RECORD_PERMITS, "登记规划许可")]):
    """登记建设工程规划许可（规划员、管理员；新版本替代旧版本，旧版本保留为历史）。"""
    permit = parse_permit(content, source="请求正文")
    record = registry.record_permit(permit, by=planner.name, actor=planner)
    return JSON(record.to_dict(), status_code=201)


@router.get("/permits/{number}", response_class=JSON, tags=["规划许可"])
def get_permit(registry: RegistryDep, number: str):
    """规划许可的全部版本（最后一个为现行，除非已终止）。"""
    versions = registry.permit(number)
    return {"number": number, "versions": [v.to_dict() for v in versions]}


@router.get("/summary", response_class=JSON, tags=["查询"])
def summary(registry: RegistryDep):
    """登记库概况：县、地籍区、宗地、自然幢、户、成果包与已发代码数量。"""
    return registry.summary().to_dict()


@router.get("/map-config", response_class=JSON, tags=["地图"])
def map_config(registry: RegistryDep, settings: SettingsDep):
    """地图页面的设置：数据范围、底图地址（默认无底图）、图层与最小缩放级别。"""
    return {"bounds": registry.extent(), "counties": [{"code": c.code, "name": c.name} for c in registry.counties],
            "basemap": {"url": settings.basemap_url, "attribution": settings.basemap_attribution},
            "layers": {name: {"title": layer.title, "minzoom": layer.minzoom} for name, layer in TILE_LAYERS.items()}}

