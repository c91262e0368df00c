"""The R*Tree bulk loader: a packed tree holds exactly what the rtree module's own inserts would, answers every
window query alike, passes ``rtreecheck`` and keeps taking inserts and deletes; and SpatiaLite loaded before the
wheels' own GEOS/PROJ does not break them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cadastre.store import rtree
from cadastre.store.engine import create_engine

WINDOW = "SELECT pkid FROM {} WHERE xmax >= ? AND xmin <= ? AND ymax >= ? AND ymin <= ? ORDER BY pkid"


def _boxes(rng, n: int) -> np.ndarray:
    x, y = 37_480_000 + rng.random(n) * 50_000, 4_060_000 + rng.random(n) * 50_000
    w = rng.random(n) * 100
    return np.column_stack([x, x + w, y, y + w])


@pytest.mark.parametrize(("added", "present", "first_id"), [
    (7, 0, 3), (51, 0, 3), (52, 0, 3), (6_000, 0, 3), (2_000, 1_000, 3), (300, 1_000, 3), (60, 10, 3),
    (2_000, 0, 2**60)])  # rowids too large to share one integer with their node numbers in the %_rowid load
def test_a_bulk_loaded_tree_is_the_modules_tree(tmp_path, added, present, first_id):
    rng = np.random.default_rng(added + present)
    boxes, ids = _boxes(rng, added + present), first_id + np.arange(added + present) * 3
    rows = list(zip(ids.tolist(), *(boxes[:, k].tolist() for k in range(4)), strict=True))
    engine = create_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with engine.begin() as c:
        for name in ("by_module", "bulk"):
            c.exec_driver_sql(f"CREATE VIRTUAL TABLE {name} USING rtree(pkid, xmin, xmax, ymin, ymax)")
        c.exec_driver_sql("INSERT INTO by_module VALUES (?, ?, ?, ?, ?)", rows)
        if present:  # the entries there, decoded from the leaves' blobs, are what the module's scan reads
            c.exec_driver_sql("INSERT INTO bulk VALUES (?, ?, ?, ?, ?)", rows[:present])
            stored_ids, stored_boxes = rtree._stored_entries(c, "bulk", 1228)
            assert (sorted(zip(stored_ids.tolist(), *stored_boxes.T.tolist(), strict=True))
                    == [tuple(r) for r in c.exec_driver_sql("SELECT * FROM bulk ORDER BY pkid").all()])
        packed = rtree.bulk_load(c, "bulk", ids[present:], boxes[present:])
        assert packed == (added >= present)
        assert c.exec_driver_sql("SELECT rtreecheck('bulk')").scalar() == "ok"
        # the same float32 bounds, rounded outwards as the module rounds them
        assert (c.exec_driver_sql("SELECT * FROM bulk ORDER BY pkid").all()
                == c.exec_driver_sql("SELECT * FROM by_module ORDER BY pkid").all())
        for qx, qy in zip(*_boxes(rng, 40)[:, [0, 2]].T, strict=True):
            window = (qx, qx + 800, qy, qy + 800)
            assert (c.exec_driver_sql(WINDOW.format("bulk"), window).all()
                    == c.exec_driver_sql(WINDOW.format("by_module"), window).all())
        c.exec_driver_sql("INSERT INTO bulk VALUES (1, 37480000, 37480010, 4060000, 4060010)")
        c.exec_driver_sql("DELETE FROM bulk WHERE pkid = ?", [(int(k),) for k in ids[::5]])
        assert c.exec_driver_sql("SELECT rtreecheck('bulk')").scalar() == "ok"
        assert c.exec_driver_sql("SELECT count(*) FROM bulk").scalar() == len(ids) - len(ids[::5]) + 1
    engine.dispose()


def test_a_packed_tree_is_full_and_shallow():
    boxes = _boxes(np.random.default_rng(1), 10_000)
    nodes, rowids, parents = rtree.pack(np.arange(10_000), boxes, 1228)
    assert len(rowids) == 10_000 and len(nodes) == len(parents) + 1
    assert rowids[:, 0].tolist() == list(range(10_000))  # in rowid order: appended to %_rowid's B-tree
    assert len(nodes) == 1 + 4 + 197  # 51 cells a node: 197 leaves, 4 nodes above them, the root
    assert dict(nodes)[1][:4] == b"\x00\x02\x00\x04"  # the root: depth 2, four cells


def test_spatialite_loaded_first_leaves_the_wheels_geos_and_proj_alone(tmp_path):
    # SQLite opens extensions RTLD_GLOBAL: before the engine loaded the wheels' libraries first, pyproj imported after
    # SpatiaLite freed memory twice at exit and shapely raised "WKB output dimension must be 2 or 3"
    script = f"""
from cadastre.store.engine import create_engine
engine = create_engine("sqlite:///{tmp_path / 'g.sqlite'}")
with engine.connect() as c:
    c.exec_driver_sql("SELECT spatialite_version()").scalar()
import geopandas, pyproj, shapely
print(round(pyproj.Transformer.from_crs(4490, 4526).transform(38, 114)[1]))
print(geopandas.GeoSeries([shapely.Point(1, 2)], crs=4490).to_crs(4526).to_wkb()[0][:1].hex())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["38500000", "01"]
