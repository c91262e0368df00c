"""Current-only views for desktop GIS: a SpatiaLite file (or a PostGIS database) opened in QGIS lists 宗地, 自然幢
and 户 as they are now — ``parcel_current``, ``building_current``, ``unit_current`` — beside the history tables,
which stay as they are. SpatiaLite needs each spatial view registered in ``views_geometry_columns`` (read-only, its
rows identified by ``id``); PostGIS lists views with geometry by itself.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 10:30:00
"""
from alembic import op
from sqlalchemy import text

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

VIEWS = {"parcel_current": "parcel", "building_current": "building", "unit_current": "unit"}


def upgrade() -> None:
    bind = op.get_bind()
    for view, table in VIEWS.items():
        bind.execute(text(f"CREATE VIEW {view} AS SELECT * FROM {table} WHERE valid_to IS NULL"))
        if bind.dialect.name == "sqlite":
            bind.execute(text("INSERT INTO views_geometry_columns (view_name, view_geometry, view_rowid, f_table_name, "
                              "f_geometry_column, read_only) VALUES (:v, 'geom', 'id', :t, 'geom', 1)"),
                         {"v": view, "t": table})


def downgrade() -> None:
    bind = op.get_bind()
    for view in VIEWS:
        if bind.dialect.name == "sqlite":
            bind.execute(text("DELETE FROM views_geometry_columns WHERE view_name = :v"), {"v": view})
        bind.execute(text(f"DROP VIEW {view}"))
