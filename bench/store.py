"""Allocating codes for units and storing them with their geometry, on SpatiaLite and on PostGIS, through the
paths ingest uses: 户号 reserved from the code counters (``store.counters.reserve``, one scope per building), rows
written by ``store.registry_rows.insert_rows``. Baseline: the same rows without geometry, in the same run. Then
the same million by four writer processes at once, reserving from the same counters: wall time, and a check that
no code was issued twice.

Goals, as ratios to the peer measured in the same run (issue 26): with geometry ≤ 1.5 × the same rows without
geometry, on each engine (seconds per million are reported, not a goal: an absolute time moves ±30 % with the
machine's load); no duplicates with concurrent writers (issue 9).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import shapely
import sqlalchemy as sa

from bench.common import Timing, database, in_children, postgres, save
from cadastre.registry import init_database
from cadastre.store.counters import reserve
from cadastre.store.engine import create_engine, write_transaction
from cadastre.store.registry_rows import insert_rows

GOAL_RATIO = 1.5
WRITERS = 4
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


BUILDINGS = 101  # 9 999 户号 per building: a million units need 101 buildings' scopes


def _allocate_and_store(engine, n: int, with_geometry: bool, offset: int = 0) -> float:
    """Reserve ``n`` codes spread over the buildings' scopes and store the units; seconds taken."""
    i = np.arange(offset, offset + n)
    x, y = 37_480_000 + (i % 1000) * 20.0, 4_060_000 + (i // 1000) * 20.0
    geoms = shapely.box(x, y, x + 10, y + 10) if with_geometry else None
    # building by building, as ingest stores a package's units; every writer takes numbers in every building
    building = np.arange(n) * BUILDINGS // n
    per_building = np.bincount(building, minlength=BUILDINGS)
    start = time.perf_counter()
    with write_transaction(engine) as c:
        codes = np.empty(n, dtype=object)
        for b in np.flatnonzero(per_building):
            prefix = f"141031001002GB00001F{b + 1:04d}"
            numbers = reserve(c, prefix, int(per_building[b]))
            codes[building == b] = [f"{prefix}{k:04d}" for k in numbers]
        insert_rows(c, "unit", {"bdcdyh": codes, "building_id": np.ones(n, int), "stage": np.full(n, "asbuilt", object),
                                "sjc": (i % 30) + 1, "shbw": i.astype(str).astype(object),
                                "scjzmj": np.full(n, 98.5)},
                    geoms, 4525, package_id=1, now=datetime.now(UTC))
    return time.perf_counter() - start


def _empty(engine, pristine: Path | None = None) -> None:
    """Units and counters gone again, so that every run starts from the same state (a benchmark database only).
    SQLite: the file is put back from ``pristine``, its copy taken once prepared (deleting 10^6 rows through the
    R*Tree's triggers takes longer than inserting them)."""
    if pristine is not None:
        engine.dispose()
        database = Path(engine.url.database)
        for leftover in (database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(pristine, database)
        return
    with write_transaction(engine) as c:
        for table in ("unit", "code_counter"):
            c.execute(sa.text(f"TRUNCATE {table}"))


def writer(url: str, n: int, offset: int) -> float:
    """One of the concurrent writers (a module-level function, for spawned processes)."""
    engine = create_engine(url)
    try:
        return _allocate_and_store(engine, n, True, offset)
    finally:
        engine.dispose()


def _concurrent(engine, url: str, n: int, writers: int, pristine: Path | None) -> dict:
    import multiprocessing

    share = n // writers
    # forked from this process, with no connection to inherit: each writer opens its own
    engine.dispose()
    with multiprocessing.get_context("fork").Pool(writers) as pool:
        start = time.perf_counter()
        times = pool.starmap(writer, [(url, share, k * share) for k in range(writers)])
        wall = time.perf_counter() - start
    with engine.connect() as c:
        total, distinct = c.execute(sa.text("SELECT count(*), count(DISTINCT bdcdyh) FROM unit")).one()
    _empty(engine, pristine)
    return {"writers": writers, "wall_s": round(wall, 2), "slowest_writer_s": round(max(times), 2),
            "codes": int(total), "duplicates": int(total) - int(distinct)}


def _engine_step(name: str, url: str, units: int, runs: int, concurrent: bool = True) -> dict:
    engine = create_engine(url)
    init_database(engine, ["141031"])
    _prepare(engine)
    pristine = None
    if engine.dialect.name == "sqlite":
        engine.dispose()  # the last connection's close checkpoints the WAL into the file
        pristine = Path(engine.url.database).with_suffix(".pristine")
        shutil.copyfile(engine.url.database, pristine)
    plain, full = [], []
    for _ in range(runs):
        plain.append(_allocate_and_store(engine, units, False))
        _empty(engine, pristine)
        full.append(_allocate_and_store(engine, units, True))
        _empty(engine, pristine)
    concurrent = _concurrent(engine, url, units, WRITERS, pristine) if concurrent else None
    engine.dispose()
    timing = Timing(name, float(np.median(full)), min(full), max(full), runs)
    without = Timing(name, float(np.median(plain)), min(plain), max(plain), runs)
    ratio = timing.median_s / without.median_s
    return {"with_geometry": timing, "without_geometry": without, "without_geometry_s": round(without.median_s, 2),
            "ratio": round(ratio, 3), "per_million_s": round(timing.median_s * 1_000_000 / units, 1),
            "met": ratio <= GOAL_RATIO, "concurrent": concurrent}


def run(*, units: int, runs: int, pg=None, quick: bool = False) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp, postgres(pg) as server, database(server, "store") as pg_url:
        steps = [partial(_engine_step, name, url, units, runs, not quick)
                 for name, url in (("SpatiaLite", f"sqlite:///{Path(tmp) / 'store.sqlite'}"), ("PostGIS", pg_url))]
        # each engine in a process of its own: its peak memory is that engine's step alone; a quick run (a smoke
        # run) runs both at once
        done = in_children(steps) if quick else [in_children([step])[0] for step in steps]
        for name, (result, peak) in zip(("SpatiaLite", "PostGIS"), done, strict=True):
            results[name] = {**result, "peak_mb": peak}
    result = {"units": units, "goal_ratio": GOAL_RATIO, "engines": results}
    save("store", result)
    return result


def report(result: dict) -> str:
    lines = []
    for name, r in result["engines"].items():
        verdict = "met" if r["met"] else "MISSED"
        c = r["concurrent"]
        lines.append(f"allocate + store {result['units']} units on {name}: {r['with_geometry'].median_s:.2f} s with "
                     f"geometry, {r['without_geometry_s']:.2f} s without: {r['ratio']:.2f}× (goal ≤ "
                     f"{result['goal_ratio']}×: {verdict}); {r['per_million_s']:.1f} s per million"
                     + (f"; {c['writers']} writers at once: {c['wall_s']:.2f} s wall, {c['duplicates']} duplicate codes "
                        f"of {c['codes']}" if c else ""))
    return "\n".join(lines)
