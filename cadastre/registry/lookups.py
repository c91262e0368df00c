"""Lookups for registration staff and other offices: the parcel card, a unit's history, the parcel at a point,
search, a building's 楼盘表, the data's extent for the map, and the registry's counts."""

from __future__ import annotations

import asyncio

import shapely

from cadastre.allocate.buildingtable import BuildingTable
from cadastre.allocate.buildingtable import building_table as table_of
from cadastre.core.auth import Principal
from cadastre.core.errors import DatabaseUnavailable, InputError, NotFoundError
from cadastre.core.geometry import transformer
from cadastre.registry import access
from cadastre.registry.context import Context, Summary
from cadastre.serve.cards import parcel_card, reads_owners
from cadastre.serve.features import output_coordinates
from cadastre.store.lookups import parcel_codes_at, search_rows, unit_rows, unit_rows_async
from cadastre.store.queries import (
    building_rows,
    current_extent,
    data_version,
    finding_extent,
    parcel_rows,
    parcel_rows_async,
    summary_counts,
)

__all__ = ["building_table", "parcel", "parcel_async", "unit", "unit_async", "parcel_at", "search", "extent", "summary"]


def building_table(ctx: Context, building_code: str) -> BuildingTable:
    """The 楼盘表 of a current building (24-character code: 宗地代码 + F + 幢号)."""
    with ctx.engine.connect() as connection:
        return table_of(building_rows(connection, building_code))


def parcel(ctx: Context, zddm: str, *, viewer: Principal | None = None) -> dict:
    """A parcel: its current version, buildings, history (versions and code lineage) and readiness.

    ``viewer``: who asks (the service passes the caller). Without :attr:`Permission.READ_OWNERS` the owner's
    name (``qlr``) is masked; with it, the read is written to the audit log. None: the library used locally
    (trusted like the database file), names as stored and nothing logged."""
    with ctx.lookups.begin() as connection:  # one transaction: the card's three reads see one state
        rows = parcel_rows(connection, zddm)
    if _reads_owners(rows, viewer):
        access.audit(ctx, "owners.read", zddm, actor=viewer, detail={"via": "parcel"})
    return parcel_card(zddm, rows, viewer)


async def parcel_async(ctx: Context, zddm: str, *, viewer: Principal | None = None) -> dict:
    """:func:`parcel` for a caller on an event loop (the service): on PostgreSQL the card's queries wait for the
    database without holding a thread (:meth:`Context.async_lookups`), and only an audited read's write goes to
    one; on SQLite the whole call runs in a worker thread."""
    if ctx.async_lookups() is None:
        return await asyncio.to_thread(parcel, ctx, zddm, viewer=viewer)
    rows = await _on_loop(ctx, parcel_rows_async, zddm)
    if _reads_owners(rows, viewer):
        await asyncio.to_thread(access.audit, ctx, "owners.read", zddm, actor=viewer, detail={"via": "parcel"})
    return parcel_card(zddm, rows, viewer)


def _reads_owners(rows: dict, viewer: Principal | None) -> bool:
    """Whether showing ``rows`` to ``viewer`` reads owners' names, which the audit log must record."""
    return viewer is not None and reads_owners(viewer) and any(v["qlr"] for v in rows["versions"])


def unit(ctx: Context, bdcdyh: str) -> dict:
    """A unit (户): its current version, every earlier one (pre-sale → as-built), its code and the code's
    lineage both ways (what it replaced, what replaced it)."""
    with ctx.lookups.begin() as connection:  # one transaction: the unit's reads see one state
        return _unit(bdcdyh, unit_rows(connection, bdcdyh))


async def unit_async(ctx: Context, bdcdyh: str) -> dict:
    """:func:`unit` for a caller on an event loop (see :func:`parcel_async`)."""
    if ctx.async_lookups() is None:
        return await asyncio.to_thread(unit, ctx, bdcdyh)
    return _unit(bdcdyh, await _on_loop(ctx, unit_rows_async, bdcdyh))


async def _on_loop(ctx: Context, read, *args):
    """``await read(connection, *args)`` on a connection of the loop's lookups (autocommit, as the blocking
    lookups), once more on a new connection when the one lent turned out dead (the pool does not ping:
    :func:`~cadastre.store.engine.async_lookup_engine`): then the server restarted or the network broke, and the
    pool's other connections are let go too, as SQLAlchemy's own disconnect handling does. A database that is
    down fails both tries: 503."""
    for attempt in range(2):
        try:
            async with ctx.async_lookups().connect() as connection:
                return await read(connection, *args)
        except DatabaseUnavailable:
            if attempt:
                raise
            await ctx.async_lookups().dispose()  # idle connections closed; those lent out, when they come back


def _unit(bdcdyh: str, rows: dict) -> dict:
    versions = rows["versions"]
    current = [v for v in versions if v["valid_to"] is None]
    return {"bdcdyh": bdcdyh, "current": current[0] if current else None, "versions": versions,
            "code": rows["code"][0] if rows["code"] else None, "lineage": rows["lineage"]}


def parcel_at(ctx: Context, lon: float, lat: float, *, viewer: Principal | None = None) -> dict:
    """The card of the current parcel containing the point (lon/lat, CGCS2000 ≈ WGS 84)."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(f"经纬度 {lon},{lat} 超出范围", f"lon/lat {lon},{lat} out of range")
    x, y = transformer(4326, ctx.srid).transform(lon, lat)
    with ctx.lookups.connect() as connection:
        codes = parcel_codes_at(connection, ctx.srid, x, y)
    if not codes:
        raise NotFoundError(f"经纬度 {lon:.6f},{lat:.6f} 处没有现势宗地", f"no current parcel at {lon},{lat}")
    return parcel(ctx, codes[0], viewer=viewer)


def search(ctx: Context, text: str, *, limit: int = 20) -> list[dict]:
    """Parcels, buildings and units by code (or its start) or by 坐落 / building name, each with its
    lon/lat bounding box for the map."""
    text = (text or "").strip()
    if not text:
        raise InputError("请输入宗地代码、不动产单元代码或坐落", "empty search")
    with ctx.engine.connect() as connection:
        frame = search_rows(connection, ctx.srid, text, limit=max(1, min(int(limit), 100)))
    boxes = shapely.bounds(output_coordinates(frame.geometry.to_numpy(), ctx.srid, 4326))
    return [{"kind": kind, "code": code, "label": label, "zl": zl, "bbox": [round(float(v), 7) for v in box]}
            for kind, code, label, zl, box in zip(frame["kind"], frame["code"], frame["label"], frame["zl"],
                                                  boxes, strict=True)]


#: the tables whose current rows give a collection's extent (the first that has any)
_EXTENT_TABLES = {"parcels": ("parcel", "cadastral_subdistrict"), "buildings": ("building",),
                  "units": ("unit", "building")}


def extent(ctx: Context, collection: str = "parcels") -> list[float] | None:
    """The lon/lat bounding box of a collection's current features — ``parcels`` (else the zoning: the map's
    extent), ``buildings``, ``units`` (else their buildings), ``findings`` — or None when it is empty.

    The full-table aggregates run again only when the set of accepted packages or the zoning has changed since
    (``store.queries.data_version``), in this process or any other on the same database."""
    with ctx.engine.connect() as connection:
        version = data_version(connection)
        known = (ctx.extent or {}).get(collection)
        if known is not None and known[0] == version:
            return known[1]
        if collection == "findings":
            box, srid = finding_extent(connection), 4326
        else:
            box, srid = current_extent(connection, _EXTENT_TABLES[collection]), ctx.srid
    bounds = None
    if box is not None:
        bounds = [round(v, 7) for v in (box if srid == 4326 else
                                        transformer(srid, 4326).transform_bounds(*box, densify_pts=11))]
    ctx.extent = {**(ctx.extent or {}), collection: (version, bounds)}
    return bounds


def summary(ctx: Context) -> Summary:
    """Counts of what the registry holds now."""
    with ctx.engine.connect() as connection:
        counts = summary_counts(connection)
    return Summary(ctx.info.counties, ctx.srid, ctx.info.dialect, **counts)
