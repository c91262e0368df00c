"""Storing units with their codes and geometry, on SpatiaLite and on PostGIS, through the path ingest uses
(``store.registry_rows.insert_rows``). Baseline: the same rows without geometry, in the same run.

Goal (issue 5): 1 000 000 units in at most 20 s on each engine.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely
import sqlalchemy as sa

from bench.common import Timing, save
from cadastre.store.engine import create_engine, write_transaction
from cadastre.store.registry_rows import insert_rows
from cadastre.store.schema import init_database

GOAL_PER_MILLION = 20.0
# a server set up for bulk loads, as a county's production server would be (the defaults, 128 MB of shared buffers
# and 1 GB of WAL between checkpoints, make a million-row load checkpoint several times)
SERVER_SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min",
                   "wal_buffers": "64MB", "maintenance_work_mem": "512MB"}
_TS = sa.DateTime(timezone=True)


def _prepare(engine) -> None:
    now = datetime.now(UTC)
    with write_transaction(engine) as c:
        for sql in ("INSERT INTO original (sha256, filename, size, path, received_at) VALUES ('b', 'b', 1, 'b', :n)",
                    "INSERT INTO package (id, sha256, status, received_at) VALUES (1, 'b', 'accepted', :n)",
                    "INSERT INTO parcel (id, zddm, zdtzm, geom, package_id, valid_from) VALUES (1, "
                    "'141031001002GB00001', 'GB', ST_Multi(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4525)), 1, :n)",
                    "INSERT INTO building (id, parcel_id, zddm, zrzh, stage, geom, package_id, valid_from) VALUES "
                    "(1, 1, '141031001002GB00001', '0001', 'asbuilt', "
                    "ST_Multi(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4525)), 1, :n)"):
            c.execute(sa.text(sql).bindparams(sa.bindparam("n", type_=_TS)), {"n": now})


def _store(engine, n: int, with_geometry: bool) -> float:
    i = np.arange(n)
    x, y = 37_480_000 + (i % 1000) * 20.0, 4_060_000 + (i // 1000) * 20.0
    geoms = shapely.box(x, y, x + 10, y + 10) if with_geometry else None
    codes = np.array([f"141031001002GB00001F{k // 9999 + 1:04d}{k % 9999 + 1:04d}" for k in i], dtype=object)
    start = time.perf_counter()
    with write_transaction(engine) as c:
        insert_rows(c, "unit", {"bdcdyh": codes, "building_id": np.ones(n, int), "stage": np.full(n, "asbuilt", object),
                                "sjc": (i % 30) + 1, "shbw": i.astype(str).astype(object),
                                "scjzmj": np.full(n, 98.5)},
                    geoms, 4525, package_id=1, now=datetime.now(UTC))
    elapsed = time.perf_counter() - start
    with write_transaction(engine) as c:  # empty the table again, so that every run starts from the same state
        c.execute(sa.text("TRUNCATE unit" if c.dialect.name == "postgresql" else "DELETE FROM unit"))
    return elapsed


def run(*, units: int, runs: int) -> dict:
    from cadastre.testing import TemporaryPostgres

    results = {}
    with tempfile.TemporaryDirectory() as tmp, TemporaryPostgres(SERVER_SETTINGS) as pg:
        for name, url in (("SpatiaLite", f"sqlite:///{Path(tmp) / 'store.sqlite'}"),
                          ("PostGIS", pg.create_database("store"))):
            engine = create_engine(url)
            init_database(engine, ["141031"])
            _prepare(engine)
            plain, full = [], []
            for _ in range(runs):
                plain.append(_store(engine, units, False))
                full.append(_store(engine, units, True))
            engine.dispose()
            timing = Timing(name, float(np.median(full)), min(full), max(full), runs)
            per_million = timing.median_s * 1_000_000 / units
            results[name] = {"with_geometry": timing, "without_geometry_s": round(float(np.median(plain)), 2),
                             "per_million_s": round(per_million, 1), "met": per_million <= GOAL_PER_MILLION}
    result = {"units": units, "goal_per_million_s": GOAL_PER_MILLION, "engines": results}
    save("store", result)
    return result


def report(result: dict) -> str:
    lines = []
    for name, r in result["engines"].items():
        verdict = "met" if r["met"] else "MISSED"
        lines.append(f"store {result['units']} units on {name}: {r['with_geometry'].median_s:.2f} s with geometry "
                     f"({r['without_geometry_s']:.2f} s without) → {r['per_million_s']:.1f} s per million "
                     f"(goal ≤ {result['goal_per_million_s']} s: {verdict})")
    return "\n".join(lines)
