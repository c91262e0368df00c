"""Spatial DDL that differs between SpatiaLite and PostGIS, for use inside migrations.

SpatiaLite registers geometry columns in its own metadata (``AddGeometryColumn``) and keeps R*Tree spatial indexes
as virtual tables (``CreateSpatialIndex``), which queries must join explicitly (see ``store.spatial``). PostGIS uses a
typed ``geometry(kind, srid)`` column and a GiST index, which the planner uses by itself.
"""

from __future__ import annotations

from alembic import context, op
from sqlalchemy import text

from cadastre.core.errors import DatabaseError

GEOMETRY_KINDS = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON"}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def storage_srid() -> int:
    """SRID of the registry being migrated: from an existing registry row, else given by ``init``."""
    bind = op.get_bind()
    if bind.dialect.has_table(bind, "registry"):
        srid = bind.execute(text("SELECT storage_srid FROM registry")).scalar()
        if srid:
            return int(srid)
    srid = context.config.attributes.get("storage_srid")
    if not srid:
        raise DatabaseError("新建登记库需要指定县（以确定存储坐标系）", "a new registry needs a county (storage CRS)")
    return int(srid)


def ensure_spatial_metadata() -> None:
    """Create SpatiaLite's metadata tables (with the EPSG catalogue) or the PostGIS extension when missing."""
    bind = op.get_bind()
    if _sqlite():
        if not bind.dialect.has_table(bind, "spatial_ref_sys"):
            # InitSpatialMetaData() without its transaction argument: we are already inside the migration's one.
            bind.execute(text("SELECT InitSpatialMetaData()"))
    else:
        installed = bind.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar()
        if not installed:
            bind.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))


def add_geometry_column(table: str, kind: str, srid: int, *, nullable: bool) -> None:
    """Add ``table.geom`` of ``kind`` in ``srid`` with a spatial index."""
    if kind not in GEOMETRY_KINDS or not table.isidentifier():
        raise ValueError(f"bad geometry column {table}.geom {kind}")
    bind = op.get_bind()
    if _sqlite():
        ok = bind.execute(
            text("SELECT AddGeometryColumn(:t, 'geom', :srid, :kind, 'XY', :notnull)"),
            {"t": table, "srid": srid, "kind": kind, "notnull": 0 if nullable else 1},
        ).scalar()
        indexed = bind.execute(text("SELECT CreateSpatialIndex(:t, 'geom')"), {"t": table}).scalar()
        if ok != 1 or indexed != 1:
            raise DatabaseError(f"SpatiaLite 无法创建几何列 {table}.geom（SRID {srid}）",
                                f"SpatiaLite could not add {table}.geom (SRID {srid})")
    else:
        null = "" if nullable else " NOT NULL"
        bind.execute(text(f"ALTER TABLE {table} ADD COLUMN geom geometry({kind}, {int(srid)}){null}"))
        bind.execute(text(f"CREATE INDEX ix_{table}_geom ON {table} USING GIST (geom)"))


def drop_geometry_column(table: str) -> None:
    """Undo :func:`add_geometry_column` (used by downgrades only)."""
    if not table.isidentifier():
        raise ValueError(table)
    bind = op.get_bind()
    if _sqlite():
        bind.execute(text("SELECT DisableSpatialIndex(:t, 'geom')"), {"t": table})
        bind.execute(text(f'DROP TABLE IF EXISTS "idx_{table}_geom"'))
        bind.execute(text("SELECT DiscardGeometryColumn(:t, 'geom')"), {"t": table})
    else:
        bind.execute(text(f"DROP INDEX IF EXISTS ix_{table}_geom"))
        bind.execute(text(f"ALTER TABLE {table} DROP COLUMN geom"))
