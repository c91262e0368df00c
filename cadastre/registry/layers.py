"""The registry's data as layers: OGC API feature pages, vector tiles, GeoDataFrames for analysts (current or as of
any time), exports for desktop GIS and other offices. Owners' names are masked for a viewer who may not read them
and the read audited for one who may (``serve.cards``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cadastre.core.auth import Principal
from cadastre.core.errors import InputError, NotFoundError, shown
from cadastre.core.geometry import transformer
from cadastre.registry import access
from cadastre.registry.context import Context, moment, own_only
from cadastre.serve.cards import OWNER_PROPERTIES, mask_owners, reads_owners
from cadastre.serve.export import LAYERS, export_format, named_layer, write_layers
from cadastre.serve.export import unit_list as office_list
from cadastre.serve.features import COLLECTIONS, MAX_LIMIT, FeaturePage, bbox_in_storage, parse_crs
from cadastre.serve.tiles import check_tile, encode_tile, tile_bounds, tile_layer
from cadastre.store.features import feature_rows, one_feature, tile_rows
from cadastre.store.queries import layer_frame

__all__ = ["features", "feature", "tile", "parcels", "buildings", "units", "export", "unit_list"]


def _collection(name: str):
    try:
        return COLLECTIONS[name]
    except KeyError:
        raise NotFoundError(f"没有要素集合 {shown(name)}：可用 {', '.join(COLLECTIONS)}",
                            f"no collection {shown(name)}") from None


def features(ctx: Context, collection: str, *, bbox: Sequence[float] | None = None, bbox_crs: str | None = None,
             limit: int = 10, after: str | None = None, crs: str | None = None,
             package: int | None = None, viewer: Principal | None = None) -> FeaturePage:
    """A page of a feature collection (``parcels``, ``buildings``, ``units``, ``findings``): current rows in
    code order after ``after``, within ``bbox`` (in ``bbox_crs``, default lon/lat). The page's
    ``features`` is a GeoDataFrame in the storage CRS; ``to_geojson()`` writes it in ``crs``. Owners' names
    are masked or logged for ``viewer`` as in :func:`lookups.parcel`; a surveyor sees the findings of their own
    packages only."""
    spec = _collection(collection)
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise InputError(f"limit 应在 1–{MAX_LIMIT} 之间", f"limit must be 1..{MAX_LIMIT}")
    epsg = parse_crs(crs, ctx.srid)
    storage_box = lonlat_box = None
    if bbox is not None:
        if len(bbox) != 4:
            raise InputError("bbox 应有 4 个数：最小x,最小y,最大x,最大y", "bbox needs 4 numbers")
        storage_box = bbox_in_storage(tuple(map(float, bbox)), parse_crs(bbox_crs, ctx.srid), ctx.srid)
        if not spec.geometry:
            lonlat_box = transformer(ctx.srid, 4326).transform_bounds(*storage_box)
    with ctx.lookups.connect() as connection:
        frame = feature_rows(connection, spec, ctx.srid, bbox=storage_box, bbox_lonlat=lonlat_box,
                             limit=int(limit) + 1, after=None if after is None else spec.split_id(after),
                             package_id=package, submitted_by=own_only(viewer))
    more = len(frame) > int(limit)
    frame = _owners(ctx, frame.iloc[:int(limit)].copy(), viewer, collection)
    return FeaturePage(spec, frame, str(frame["id"].iat[-1]) if more else None, ctx.srid, epsg)


def feature(ctx: Context, collection: str, feature_id: str, *, crs: str | None = None,
            viewer: Principal | None = None) -> FeaturePage:
    """One current feature by its id (宗地代码, 自然幢代码, 不动产单元代码, finding number), as a one-row page."""
    spec = _collection(collection)
    epsg = parse_crs(crs, ctx.srid)
    with ctx.lookups.connect() as connection:
        frame = one_feature(connection, spec, ctx.srid, spec.split_id(feature_id), submitted_by=own_only(viewer))
    return FeaturePage(spec, _owners(ctx, frame, viewer, collection), None, ctx.srid, epsg)


def _owners(ctx: Context, frame, viewer: Principal | None, what: str):
    """Owners' names in ``frame`` masked for a viewer who may not read them; the read logged for one who may."""
    columns = [c for c in OWNER_PROPERTIES if c in frame.columns]
    if not columns or viewer is None or not len(frame):
        return frame
    if not reads_owners(viewer):
        return mask_owners(frame, viewer)
    if frame[columns].notna().any().any():
        ids = frame["id"].astype(str)
        access.audit(ctx, "owners.read", ids.iat[0] if len(ids) == 1 else f"{ids.iat[0]}…{ids.iat[-1]}",
                     actor=viewer, detail={"via": what, "features": len(frame)})
    return frame


def tile(ctx: Context, layer: str, z: int, x: int, y: int) -> bytes:
    """One layer of the XYZ vector tile z/x/y (Mapbox Vector Tile bytes; empty below the layer's minzoom or
    where it has nothing)."""
    spec = tile_layer(layer)
    check_tile(z, x, y)
    if z < spec.minzoom:
        return b""
    bounds = tile_bounds(z, x, y, ctx.srid)
    with ctx.lookups.connect() as connection:
        frame = tile_rows(connection, spec, ctx.srid, bounds)
    return encode_tile({spec.name: frame}, z, x, y)


def parcels(ctx: Context, *, subdistrict: str | None = None, bbox: Sequence[float] | None = None,
            as_of: datetime | str | None = None, viewer: Principal | None = None):
    """The parcels current now — or at ``as_of`` (a datetime or ISO date), from the history — within a
    地籍子区 (``subdistrict``: its 12-digit code) and a bbox in the storage CRS, as a GeoDataFrame in the storage
    CRS (one row per parcel version; ``qlr`` masked for a ``viewer`` who may not read owners' names)."""
    return _layer(ctx, "parcel", subdistrict, bbox, as_of, viewer)


def buildings(ctx: Context, *, subdistrict: str | None = None, bbox: Sequence[float] | None = None,
              as_of: datetime | str | None = None, stage: str | None = None):
    """The buildings (自然幢), current or at ``as_of``, as :func:`parcels` does; ``stage``: only those last
    surveyed ``presale`` (预测) or ``asbuilt`` (实测)."""
    return _layer(ctx, "building", subdistrict, bbox, as_of, None, stage)


def units(ctx: Context, *, subdistrict: str | None = None, bbox: Sequence[float] | None = None,
          as_of: datetime | str | None = None, stage: str | None = None):
    """The units (户), current or at ``as_of``, as :func:`parcels` does (``subdistrict`` matches the start
    of 不动产单元代码), with their building's ``zddm`` and ``zrzh``; ``stage`` as for :func:`buildings`."""
    return _layer(ctx, "unit", subdistrict, bbox, as_of, None, stage)


def export(ctx: Context, target: str | os.PathLike, *, layers: Sequence[str] = ("parcels",), fmt: str | None = None,
           subdistrict: str | None = None, bbox: Sequence[float] | None = None,
           as_of: datetime | str | None = None, viewer: Principal | None = None) -> Path:
    """Export ``layers`` (parcels, buildings, units) — current or at ``as_of``, within a 地籍子区 and bbox — to
    ``target`` as GeoPackage, zipped GBK shapefiles or GeoJSON (``fmt``, default from the suffix), in the
    package's own layer and field names, so the file goes back in through the package reader
    (:mod:`cadastre.serve.export`). Owners' names are masked for a ``viewer`` who may not read them."""
    fmt = export_format(fmt, target)
    if not layers:
        raise InputError(f"请指定要导出的图层：{', '.join(LAYERS)}", "no layer to export")
    tables = {name: named_layer(name).table for name in layers}  # an unknown name is refused before any reading
    frames = {name: _layer(ctx, table, subdistrict, bbox, as_of, viewer) for name, table in tables.items()}
    county = subdistrict[:6] if subdistrict else ctx.county
    return write_layers(frames, target, fmt=fmt, county_code=county)


def unit_list(ctx: Context, office: str, *, subdistrict: str | None = None, as_of: datetime | str | None = None):
    """The units as the housing office (``office="housing"``, 住建) or the tax office (``"tax"``, 税务) lists
    them: one row per unit with Chinese headings (:func:`cadastre.serve.export.unit_list`); save it with
    :func:`cadastre.serve.export.write_unit_list`."""
    return office_list(_layer(ctx, "unit", subdistrict, None, as_of, None),
                       _layer(ctx, "building", subdistrict, None, as_of, None),
                       _layer(ctx, "parcel", subdistrict, None, as_of, None), office=office)


def _layer(ctx: Context, table: str, subdistrict, bbox, as_of, viewer, stage: str | None = None):
    if stage is not None and stage not in ("presale", "asbuilt"):
        raise InputError(f"测绘阶段 {shown(stage)} 应为 presale（预测）或 asbuilt（实测）", f"bad stage {shown(stage)}")
    if subdistrict is not None and not (str(subdistrict).isdigit() and len(str(subdistrict)) in (6, 9, 12)):
        raise InputError(f"地籍子区代码 {shown(subdistrict)} 应为 6、9 或 12 位数字（县、地籍区、地籍子区）",
                         f"bad subdistrict {shown(subdistrict)}")
    as_of = moment(as_of)
    if bbox is not None and len(bbox) != 4:
        raise InputError("bbox 应有 4 个数：最小x,最小y,最大x,最大y", "bbox needs 4 numbers")
    with ctx.engine.connect() as connection:
        frame = layer_frame(connection, table, ctx.srid, subdistrict=subdistrict, bbox=bbox, as_of=as_of, stage=stage)
    return _owners(ctx, frame, viewer, table) if table == "parcel" else frame
