"""The registry's current data as feature collections (the model of OGC API – Features), with GeoJSON output.

A :class:`Collection` says which table a collection reads, what identifies a feature (the standard's code: 宗地代码,
自然幢代码, 不动产单元代码; a finding's number) and which properties it shows. :func:`to_geojson` turns a page of
features (a GeoDataFrame in the storage CRS) into an RFC 7946 FeatureCollection in lon/lat, or in the county's
projected CRS with that CRS's own axis order (OGC API – Features Part 2: ``northing, easting`` for the CGCS2000
Gauss–Krüger zones), vectorised: coordinates are transformed and rounded in one call, properties serialised by
pandas, geometries by shapely.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from cadastre.core.errors import InputError, shown
from cadastre.core.geometry import transformer
from cadastre.read.layers import layer_specs

__all__ = ["queryables", "feature_schema", "CRS84", "Collection", "COLLECTIONS", "FeaturePage", "crs_uri", "parse_crs", "parse_bbox", "to_geojson",
           "bbox_in_storage", "MAX_LIMIT", "DEFAULT_LIMIT"]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT, MAX_LIMIT = 10, 10_000


def crs_uri(epsg: int) -> str:
    return CRS84 if epsg == 4326 else f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"


def parse_crs(uri: str | None, storage_srid: int) -> int:
    """The EPSG code of a ``crs`` / ``bbox-crs`` value: CRS84 (4326, lon/lat) or the registry's storage CRS."""
    if uri is None or uri.strip() in ("", CRS84, "CRS84", "OGC:CRS84"):
        return 4326
    text = uri.strip()
    if text in (crs_uri(storage_srid), f"EPSG:{storage_srid}"):
        return storage_srid
    raise InputError(f"不支持的坐标参照系 {text}：可用 {CRS84} 或 {crs_uri(storage_srid)}",
                     f"unsupported CRS {text}")


@lru_cache(maxsize=16)
def _northing_first(epsg: int) -> bool:
    axes = CRS.from_epsg(epsg).axis_info
    return bool(axes) and axes[0].direction.lower() == "north"


def output_coordinates(geometries: np.ndarray, storage_srid: int, epsg: int) -> np.ndarray:
    """Geometries from the storage CRS into ``epsg`` in that CRS's axis order, rounded to ≈1 mm."""
    geometries = np.asarray(geometries, dtype=object)
    decimals = 8 if epsg == 4326 else 3
    swap = epsg != 4326 and _northing_first(epsg)
    move_to = None if epsg == storage_srid else transformer(storage_srid, epsg)

    def move(xy: np.ndarray) -> np.ndarray:
        if move_to is not None:
            x, y = move_to.transform(xy[:, 0], xy[:, 1])
            xy = np.column_stack([x, y])
        xy = np.round(xy, decimals)
        return xy[:, ::-1] if swap else xy

    return shapely.transform(geometries, move)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """A bbox written as ``minx,miny,maxx,maxy`` (a query parameter, a command-line option): four finite numbers.

    >>> parse_bbox("110.5,36.6,110.7,36.8")
    (110.5, 36.6, 110.7, 36.8)
    """
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"bbox 应为 4 个数：{shown(text)}", f"bad bbox {shown(text)}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InputError(f"bbox 应为 4 个有限数：{shown(text)}", f"bad bbox {shown(text)}")
    return values


def bbox_in_storage(bbox: tuple[float, float, float, float], bbox_epsg: int, storage_srid: int):
    """A bbox (in ``bbox_epsg``'s axis order) as (minx, miny, maxx, maxy) in the storage CRS (x = easting)."""
    minx, miny, maxx, maxy = bbox
    if bbox_epsg != 4326 and _northing_first(bbox_epsg):
        minx, miny, maxx, maxy = miny, minx, maxy, maxx
    if not (minx <= maxx and miny <= maxy):
        raise InputError("bbox 应为 最小x,最小y,最大x,最大y", "bbox must be minx,miny,maxx,maxy")
    if bbox_epsg == 4326 and not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
                                  and -90 <= maxy <= 90):
        raise InputError("bbox 经纬度超出范围", "bbox lon/lat out of range")
    if bbox_epsg == storage_srid:
        return minx, miny, maxx, maxy
    return transformer(bbox_epsg, storage_srid).transform_bounds(minx, miny, maxx, maxy, densify_pts=21)


@dataclass(frozen=True)
class Collection:
    """One feature collection of the registry's current data."""

    id: str
    title: str
    description: str
    table: str
    #: columns ordering and identifying a feature (keyset pagination follows them)
    key: tuple[str, ...]
    #: SQL expression of the feature id
    id_sql: str
    #: properties: SQL expression → output name
    properties: dict[str, str] = field(default_factory=dict)
    joins: str = ""
    geometry: bool = True  # False: a point made from lon/lat columns (findings)
    #: for a collection of packages' data (findings): the column naming who submitted the package, so that a
    #: role that may read only its own packages sees only those
    submitter: str | None = None

    def split_id(self, text: str) -> tuple:
        """A feature id as its key values (an invalid one raises InputError)."""
        text = text.strip()
        if self.id == "buildings":
            if len(text) != 24 or text[19] != "F":
                raise InputError(f"自然幢代码 {shown(text)} 应为 24 位：宗地代码 + F + 幢号", f"bad building code {shown(text)}")
            return text[:19], text[20:]
        if self.id == "findings":
            if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
                raise InputError(f"问题编号 {shown(text)} 应为 1–2147483647 的整数", f"bad finding id {shown(text)}")
            return (int(text),)
        return (text,)


_PARCEL = {"t.zddm": "zddm", "t.bdcdyh": "bdcdyh",
           # the land code's state: 注销 once buildings stand on the parcel (their unit codes replace it)
           "CASE WHEN t.bdcdyh IS NULL THEN NULL WHEN EXISTS (SELECT 1 FROM issued_code i WHERE i.code = t.bdcdyh "
           "AND i.retired_at IS NOT NULL) THEN '注销' ELSE '现势' END": "bdcdyhzt", "t.zl": "zl", "t.zdmj": "zdmj", "t.yt": "yt", "t.qllx": "qllx",
           "t.qlxz": "qlxz", "t.qlsdfs": "qlsdfs", "t.qlr": "qlr", "t.rjl": "rjl", "t.jzmd": "jzmd",
           "t.package_id": "package_id", "t.valid_from": "valid_from"}
_BUILDING = {"t.zddm": "zddm", "t.zrzh": "zrzh", "t.zrzh_label": "zrzh_label", "t.jzwmc": "jzwmc",
             "t.stage": "stage", "t.zcs": "zcs", "t.dscs": "dscs", "t.dxcs": "dxcs", "t.zzdmj": "zzdmj",
             "t.ycjzmj": "ycjzmj", "t.scjzmj": "scjzmj", "t.ghyt": "ghyt", "t.fwjg": "fwjg", "t.jzwgd": "jzwgd",
             "t.package_id": "package_id", "t.valid_from": "valid_from"}
_UNIT = {"t.bdcdyh": "bdcdyh", "b.zddm || 'F' || b.zrzh": "building", "t.stage": "stage", "t.sjc": "sjc",
         "t.myc": "myc", "t.dyh": "dyh", "t.hh": "hh", "t.shbw": "shbw", "t.fwyt": "fwyt", "t.fwlx": "fwlx",
         "t.fwxz": "fwxz", "t.ycjzmj": "ycjzmj", "t.yctnjzmj": "yctnjzmj", "t.scjzmj": "scjzmj",
         "t.sctnjzmj": "sctnjzmj", "t.package_id": "package_id", "t.valid_from": "valid_from"}
_FINDING = {"t.package_id": "package_id", "t.rule": "rule", "t.severity": "severity",
            "t.layer": "layer", "t.feature": "feature", "t.message": "message", "t.measured": "measured",
            't."limit"': "limit", "w.waived_by": "waived_by"}

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection("parcels", "宗地", "现势宗地（宗地代码、坐落、面积、用途、权利类型）", "parcel", ("zddm",), "t.zddm", _PARCEL),
    Collection("buildings", "自然幢", "现势自然幢（自然幢代码 = 宗地代码 + F + 幢号）", "building", ("zddm", "zrzh"),
               "t.zddm || 'F' || t.zrzh", _BUILDING),
    Collection("units", "户", "现势户（不动产单元代码、室号部位、用途、面积）", "unit", ("bdcdyh",), "t.bdcdyh", _UNIT,
               joins="JOIN building b ON b.id = t.building_id"),
    Collection("findings", "质检问题", "成果包质量检查发现的问题（可按 package 筛选）", "finding", ("id",), "t.id", _FINDING,
               joins="JOIN package pk ON pk.id = t.package_id LEFT JOIN waiver w ON w.finding_id = t.id",
               geometry=False, submitter="pk.submitted_by"),
)}


#: the layer whose field definitions (data/layers.toml) type a collection's properties
_LAYER_OF = {"parcels": "ZDJBXX", "buildings": "ZRZ", "units": "H"}
#: properties that are not package fields, and their JSON Schema
_OWN_PROPERTIES = {"package_id": {"type": "integer", "title": "成果包编号"},
                   "valid_from": {"type": "string", "format": "date-time", "title": "生效时间"},
                   "stage": {"type": "string", "title": "测绘阶段"}, "building": {"type": "string", "title": "自然幢代码"},
                   "zrzh_label": {"type": "string", "title": "幢名称（非数字幢号）"}, "rule": {"type": "string", "title": "规则"},
                   "severity": {"type": "string", "title": "级别", "enum": ["error", "warning", "info"]},
                   "layer": {"type": "string", "title": "图层"}, "feature": {"type": "string", "title": "要素"},
                   "message": {"type": "string", "title": "说明"}, "measured": {"type": "number", "title": "实测值"},
                   "limit": {"type": "number", "title": "限值"}, "waived_by": {"type": "string", "title": "豁免人"}}
_JSON_TYPES = {"float": "number", "int": "integer", "text": "string", "code": "string"}
_FIELD_OF = {"fwyt": "FWYT1"}


def queryables(collection: Collection) -> dict:
    """The collection's properties as a JSON Schema (OGC API – Features Part 3 ``queryables``), each typed from the
    layer definitions, so a client (QGIS, GDAL) keeps a number a number even on a page where it is empty."""
    spec = layer_specs()[_LAYER_OF[collection.id]] if collection.id in _LAYER_OF else None
    properties = {}
    for name in collection.properties.values():
        field_spec = spec.fields.get(_FIELD_OF.get(name, name.upper())) if spec is not None else None
        if field_spec is not None:
            properties[name] = {"type": _JSON_TYPES[field_spec.type], "title": field_spec.title}
        else:
            properties[name] = dict(_OWN_PROPERTIES.get(name, {"type": "string"}))
    properties["geometry"] = {"$ref": "https://geojson.org/schema/Point.json" if not collection.geometry
                              else "https://geojson.org/schema/MultiPolygon.json"}
    return {"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object",
            "title": collection.title, "properties": properties, "additionalProperties": False}


def feature_schema(collection: Collection) -> dict:
    """A feature of the collection as a JSON Schema (a GeoJSON Feature whose ``properties`` are the queryables):
    what a ``describedBy`` link gives clients that establish a layer's fields from a schema (GDAL's OAPIF)."""
    fields = queryables(collection)
    geometry = fields["properties"].pop("geometry")
    return {"$schema": fields["$schema"], "type": "object", "title": collection.title, "required": ["type"],
            "properties": {"type": {"type": "string", "enum": ["Feature"]},
                           "id": {"type": ["string", "integer"]}, "geometry": geometry,
                           "properties": {"type": "object", "properties": fields["properties"]}}}


@dataclass
class FeaturePage:
    """One page of a collection: features (GeoDataFrame in the storage CRS, ``id`` column = feature id), the key
    after which the next page starts (None on the last page), and the CRS the page is to be written in."""

    collection: Collection
    features: gpd.GeoDataFrame
    next_key: str | None
    storage_srid: int
    epsg: int = 4326

    @property
    def crs_uri(self) -> str:
        return crs_uri(self.epsg)

    def to_geojson(self, links: list[dict] | None = None) -> str:
        """The page as a GeoJSON FeatureCollection text."""
        body = ",".join(to_geojson(self.features, self.storage_srid, self.epsg))
        extra = f',"links":{json.dumps(links, ensure_ascii=False)}' if links is not None else ""
        return (f'{{"type":"FeatureCollection","numberReturned":{len(self.features)},'
                f'"features":[{body}]{extra}}}')


def to_geojson(frame: gpd.GeoDataFrame, storage_srid: int, epsg: int = 4326) -> list[str]:
    """Each row of ``frame`` (an ``id`` column, properties, geometry in the storage CRS) as a GeoJSON Feature."""
    if not len(frame):
        return []
    geometries = output_coordinates(frame.geometry.to_numpy(), storage_srid, epsg)
    shapes = shapely.to_geojson(geometries)
    shapes = np.where(pd.isna(shapes), "null", shapes)
    ids = [json.dumps(v, ensure_ascii=False) for v in frame["id"].tolist()]
    properties = pd.DataFrame(frame.drop(columns=[frame.geometry.name, "id"]))
    lines = properties.to_json(orient="records", lines=True, force_ascii=False, date_format="iso").splitlines()
    return [f'{{"type":"Feature","id":{i},"geometry":{g},"properties":{p}}}'
            for i, g, p in zip(ids, shapes, lines, strict=True)]
