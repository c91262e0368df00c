"""The baseline for the HTTP point lookup: a plain FastAPI endpoint running one raw SQL query on the same
database, with none of the service (no registry, no history, no lineage, no readiness). What our endpoint costs
on top of it is the service's own overhead.

On PostGIS it also serves the parcels layer's vector tiles the way a PostGIS tile server does, one ``ST_AsMVT``
query per tile (``GET /tile/{z}/{x}/{y}``): the baseline of our tiles, which cadastre encodes itself.

Run by ``bench/http.py`` as ``uvicorn bench.baseline_app:app_from_env --factory --workers 2`` with
``CADASTRE_DB`` set.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Response

from cadastre.serve.tiles import TILE_LAYERS
from cadastre.store.engine import create_engine

SQL = ("SELECT zddm, bdcdyh, zl, zdmj, yt, qllx, qlxz, qlsdfs, valid_from FROM parcel "
       "WHERE zddm = :zddm AND valid_to IS NULL")


def app_from_env() -> FastAPI:
    engine = create_engine(os.environ["CADASTRE_DB"])
    app = FastAPI()

    @app.get("/parcel/{zddm}")
    def parcel(zddm: str):
        with engine.connect() as connection:
            row = connection.execute(sa.text(SQL), {"zddm": zddm}).mappings().first()
        if row is None:
            raise HTTPException(404)
        return dict(row)

    if engine.dialect.name == "postgresql":
        layer = TILE_LAYERS["parcels"]
        with engine.connect() as connection:
            srid = connection.execute(sa.text("SELECT Find_SRID('public', 'parcel', 'geom')")).scalar_one()
        columns = ", ".join(f"{expression} AS {name}" for expression, name in layer.properties.items())
        tile_sql = sa.text(
            f"SELECT ST_AsMVT(q, '{layer.name}', {layer.extent}, 'geom', 'fid') FROM ("
            f"SELECT t.id AS fid, {columns}, ST_AsMVTGeom(ST_Transform(t.geom, 3857), ST_TileEnvelope(:z, :x, :y), "
            f"{layer.extent}, {layer.buffer}, true) AS geom FROM {layer.table} t WHERE t.valid_to IS NULL AND "
            f"t.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), {int(srid)})) q "
            "WHERE q.geom IS NOT NULL")

        @app.get("/tile/{z}/{x}/{y}")
        def tile(z: int, x: int, y: int):
            with engine.connect() as connection:
                data = connection.execute(tile_sql, {"z": z, "x": x, "y": y,
                                                     "margin": layer.buffer / layer.extent}).scalar()
            return Response(bytes(data or b""), media_type="application/vnd.mapbox-vector-tile")

    return app
