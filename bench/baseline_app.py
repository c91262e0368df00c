"""The baseline for the HTTP point lookup: a plain FastAPI endpoint running one raw SQL query on the same
database, with none of the service (no registry, no history, no lineage, no readiness). What our endpoint costs
on top of it is the service's own overhead.

Run by ``bench/http.py`` as ``uvicorn bench.baseline_app:app_from_env --factory --workers 2`` with
``CADASTRE_DB`` set.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException

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

    return app
