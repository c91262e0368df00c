"""OGC API – Features (Part 1 core + GeoJSON; Part 2 CRS by reference) and XYZ vector tiles.

The landing page is ``/`` for JSON clients (``Accept: application/json`` or ``?f=json``); browsers get the map
there (``api.routes.pages``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import JSON, READ, PrincipalDep, RegistryDep
from api.problems import PROBLEM_RESPONSES
from cadastre.core import jsontext
from cadastre.serve.features import (
    COLLECTIONS,
    CRS84,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    crs_uri,
    feature_schema,
    parse_bbox,
    queryables,
    to_geojson,
)
from cadastre.serve.tiles import MAX_ZOOM, TILE_LAYERS

#: every OGC endpoint needs a signed-in role; owners' names in GeoJSON are masked per role
router = APIRouter(responses=PROBLEM_RESPONSES, tags=["OGC API – Features"], dependencies=[READ])
GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"

#: (no oas30: the service describes itself in OpenAPI 3.1, FastAPI's, and says so on the landing page)
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
]
QUERYABLES = "application/schema+json"


def landing(request: Request) -> dict:
    base = str(request.base_url).rstrip("/")
    return {"title": "cadastre 不动产测绘成果服务", "description": "宗地、自然幢、户与质检问题（OGC API – Features）",
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{base}/?f=json"},
                {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version="
                 + ".".join(request.app.openapi_version.split(".")[:2]),
                 "href": f"{base}/openapi.json"},
                {"rel": "service-doc", "type": "text/html", "href": f"{base}/docs"},
                {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
                {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
                {"rel": "alternate", "type": "text/html", "title": "地图", "href": f"{base}/"}]}


@router.get("/conformance", response_class=JSON)
def conformance():
    """符合的 OGC API 一致性类。"""
    return {"conformsTo": CONFORMANCE}


def _collection(request: Request, registry, collection) -> dict:
    base = str(request.base_url).rstrip("/")
    out = {"id": collection.id, "title": collection.title, "description": collection.description,
           "itemType": "feature", "crs": [CRS84, crs_uri(registry.storage_srid)],
           "storageCrs": crs_uri(registry.storage_srid),
           "links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections/{collection.id}"},
                     {"rel": "items", "type": GEOJSON, "href": f"{base}/collections/{collection.id}/items"},
                     {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": QUERYABLES,
                      "title": "可查询属性及其类型", "href": f"{base}/collections/{collection.id}/queryables"},
                     # a feature's JSON Schema: GDAL's OAPIF driver (3.6: rel spelt "describedBy") types its
                     # fields from it instead of guessing from a page, where an empty number reads as text
                     {"rel": "describedBy", "type": QUERYABLES, "title": "要素的 JSON Schema",
                      "href": f"{base}/collections/{collection.id}/schema"}]}
    bounds = registry.extent(collection.id)
    if bounds is not None:
        out["extent"] = {"spatial": {"bbox": [bounds], "crs": CRS84}}
    return out


@router.get("/collections", response_class=JSON)
def collections(request: Request, registry: RegistryDep):
    """要素集合：parcels（宗地）、buildings（自然幢）、units（户）、findings（质检问题）。"""
    base = str(request.base_url).rstrip("/")
    return {"collections": [_collection(request, registry, c) for c in COLLECTIONS.values()],
            "links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections"}]}


CollectionId = Annotated[str, Path(pattern="^(parcels|buildings|units|findings)$", description="要素集合")]


@router.get("/collections/{collection_id}", response_class=JSON)
def collection(request: Request, registry: RegistryDep, collection_id: CollectionId):
    """一个要素集合的说明。"""
    return _collection(request, registry, COLLECTIONS[collection_id])


@router.get("/collections/{collection_id}/queryables",
            responses={200: {"content": {QUERYABLES: {}}, "description": "JSON Schema"}})
def collection_queryables(request: Request, collection_id: CollectionId):
    """要素集合的属性及其类型（OGC API – Features Part 3，JSON Schema）。"""
    return _json_schema(request, queryables(COLLECTIONS[collection_id]))


@router.get("/collections/{collection_id}/schema",
            responses={200: {"content": {QUERYABLES: {}}, "description": "JSON Schema"}})
def collection_schema(request: Request, collection_id: CollectionId):
    """一个要素（GeoJSON Feature）的 JSON Schema，属性类型同 queryables；供 GDAL 等客户端确定字段类型。"""
    return _json_schema(request, feature_schema(COLLECTIONS[collection_id]))


def _json_schema(request: Request, schema: dict) -> Response:
    """A JSON Schema document, identified by the URL it was served at."""
    schema["$id"] = str(request.url)
    return Response(jsontext.dumps_bytes(schema), media_type=QUERYABLES)


def _geojson(body: str, crs: str) -> Response:
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{crs}>"})


@router.get("/collections/{collection_id}/items",
            responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON FeatureCollection"}})
def items(request: Request, registry: RegistryDep, principal: PrincipalDep, collection_id: CollectionId,
          bbox: Annotated[str | None, Query(description="最小x,最小y,最大x,最大y（默认经纬度）", max_length=200)] = None,
          bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=200)] = None,
          crs: Annotated[str | None, Query(description=f"输出坐标系：{CRS84}（默认）或县投影坐标系", max_length=200)] = None,
          limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
          after: Annotated[str | None, Query(description="翻页：上一页最后一个要素的编号", max_length=40)] = None,
          package: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="只看某成果包的问题（findings）")] = None):
    """要素（GeoJSON，RFC 7946）；按要素编号排序，next 链接翻页。"""
    page = registry.features(collection_id, bbox=parse_bbox(bbox), bbox_crs=bbox_crs, limit=limit, after=after,
                             crs=crs, package=package, viewer=principal)
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)}]
    if page.next_key is not None:
        links.append({"rel": "next", "type": GEOJSON,
                      "href": str(request.url.include_query_params(after=page.next_key))})
    return _geojson(page.to_geojson(links), page.crs_uri)


@router.get("/collections/{collection_id}/items/{feature_id}",
            responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON Feature"}})
def item(registry: RegistryDep, principal: PrincipalDep, collection_id: CollectionId,
         feature_id: Annotated[str, Path(max_length=40)],
         crs: Annotated[str | None, Query(max_length=200)] = None):
    """一个要素（宗地代码、自然幢代码、不动产单元代码或问题编号）。"""
    page = registry.feature(collection_id, feature_id, crs=crs, viewer=principal)
    return _geojson(to_geojson(page.features, page.storage_srid, page.epsg)[0], page.crs_uri)


@router.get("/tiles/{layer}/{z}/{x}/{y}.pbf", tags=["矢量瓦片"],
            responses={200: {"content": {MVT: {}}, "description": "Mapbox 矢量瓦片"},
                       204: {"description": "该瓦片没有要素"}})
async def tile(registry: RegistryDep, layer: Annotated[str, Path(pattern="^(" + "|".join(TILE_LAYERS) + ")$")],
               z: Annotated[int, Path(ge=0, le=MAX_ZOOM)], x: Annotated[int, Path(ge=0, le=2**MAX_ZOOM)],
               y: Annotated[int, Path(ge=0, le=2**MAX_ZOOM)]):
    """矢量瓦片（XYZ，Web 墨卡托）：districts、subdistricts、parcels、buildings。"""
    data = await run_in_threadpool(registry.tile, layer, z, x, y)
    headers = {"Cache-Control": "private, max-age=60"}  # behind a token: no shared caches
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT, headers=headers)
