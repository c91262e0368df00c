"""Feature pages and vector tiles read from the registry's current rows, on both engines.

Pages are keyset-paginated in the order of the collection's natural key (which a partial unique index serves);
a bbox goes through the spatial index (``store.spatial.index_filter``). Tiles: the rows of a tile are read
through the spatial index on both engines and :mod:`cadastre.serve.tiles` encodes them.

The collections and tile layers (``serve.features.Collection``, ``serve.tiles.TileLayer``) come in as arguments:
plain declarations of table, key and columns, which the store reads without importing the layer above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
from sqlalchemy.engine import Connection

from cadastre.core.errors import NotFoundError
from cadastre.core.geometry import points_at
from cadastre.store.spatial import envelope, index_filter, query_frame, read_frame

if TYPE_CHECKING:  # declarations only, for the annotations
    from cadastre.serve.features import Collection
    from cadastre.serve.tiles import TileLayer

__all__ = ["feature_rows", "one_feature", "tile_rows"]


def _columns(properties: dict[str, str]) -> str:
    """``expression AS "name"`` for each property of a collection or tile layer."""
    return ", ".join(f'{expression} AS "{name}"' for expression, name in properties.items())


def _select(collection: Collection) -> str:
    columns = _columns(collection.properties)
    geometry = "ST_AsBinary(t.geom) AS wkb" if collection.geometry else "t.lon, t.lat"
    return (f"SELECT {collection.id_sql} AS id, {columns}, {geometry} "
            f"FROM {collection.table} t {collection.joins}")


def feature_rows(connection: Connection, collection: Collection, srid: int, *, bbox=None, limit: int = 10,
                 after: tuple | None = None, key: tuple | None = None, package_id: int | None = None,
                 bbox_lonlat=None, submitted_by: str | None = None) -> gpd.GeoDataFrame:
    """Current features of ``collection`` (in key order, after ``after``, at most ``limit``), or the one with
    ``key``. ``bbox`` is in the storage CRS; findings (points from lon/lat) use ``bbox_lonlat`` instead.
    ``submitted_by``: only the data of packages that account submitted (a collection with a ``submitter``)."""
    where, params = [], {"limit": int(limit), "srid": srid}
    if collection.id != "findings":
        where.append("t.valid_to IS NULL")
    columns = [f"t.{c}" for c in collection.key]
    row = "(" + ", ".join(columns) + ")" if len(columns) > 1 else columns[0]
    if key is not None:
        where.append(f"{row} = ({', '.join(f':k{i}' for i in range(len(key)))})" if len(key) > 1 else f"{row} = :k0")
        params.update({f"k{i}": v for i, v in enumerate(key)})
    if after is not None:
        where.append(f"{row} > ({', '.join(f':a{i}' for i in range(len(after)))})" if len(after) > 1
                     else f"{row} > :a0")
        params.update({f"a{i}": v for i, v in enumerate(after)})
    if bbox is not None and collection.geometry:
        frame = envelope(connection)
        where.append(index_filter(connection, collection.table, "t", frame))
        where.append(f"ST_Intersects(t.geom, {frame})")
        params.update(dict(zip(("minx", "miny", "maxx", "maxy"), map(float, bbox), strict=True)))
    if bbox_lonlat is not None and not collection.geometry:
        where.append("t.lon BETWEEN :minlon AND :maxlon AND t.lat BETWEEN :minlat AND :maxlat")
        params.update(dict(zip(("minlon", "minlat", "maxlon", "maxlat"), map(float, bbox_lonlat), strict=True)))
    if package_id is not None:
        where.append("t.package_id = :package")
        params["package"] = int(package_id)
    if submitted_by is not None and collection.submitter:
        where.append(f"{collection.submitter} = :submitted_by")
        params["submitted_by"] = submitted_by
    sql = (_select(collection) + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY {', '.join(columns)} LIMIT :limit")
    if collection.geometry:
        return read_frame(connection, sql, params, srid=srid)
    frame = query_frame(connection, sql, **params)
    # findings are placed in lon/lat; a page is kept in the storage CRS like every other collection
    return gpd.GeoDataFrame(frame, geometry=points_at(frame.pop("lon"), frame.pop("lat"), srid), crs=srid)


def one_feature(connection: Connection, collection: Collection, srid: int, key: tuple,
                submitted_by: str | None = None) -> gpd.GeoDataFrame:
    frame = feature_rows(connection, collection, srid, key=key, limit=1, submitted_by=submitted_by)
    if frame.empty:
        raise NotFoundError(f"{collection.title} {''.join(map(str, key)) if collection.id != 'buildings' else 'F'.join(key)} "
                            "不存在或已不是现势数据", f"no current feature {key} in {collection.id}")
    return frame


def tile_rows(connection: Connection, layer: TileLayer, srid: int, bounds) -> gpd.GeoDataFrame:
    """The current rows of ``layer`` whose bounding box meets ``bounds`` (storage CRS)."""
    frame = envelope(connection)
    sql = (f"SELECT t.id AS fid, {_columns(layer.properties)}, ST_AsBinary(t.geom) AS wkb FROM {layer.table} t "
           f"WHERE t.valid_to IS NULL AND {index_filter(connection, layer.table, 't', frame)}")
    params = dict(zip(("minx", "miny", "maxx", "maxy"), map(float, bounds), strict=True), srid=srid)
    return read_frame(connection, sql, params, srid=srid)
