"""Bulk loading of SQLite R*Tree tables (SpatiaLite's spatial indexes, ``idx_<table>_geom``).

SQLite's rtree module inserts one entry at a time, choosing a leaf and splitting nodes as the R* algorithm does:
~16 µs an entry, half the time of storing a million units with their geometry. A bulk loader instead sorts the
entries in Sort-Tile-Recursive order and packs them into full nodes bottom-up, then writes the nodes straight into
the module's three shadow tables: what GDAL's GeoPackage driver and SpatiaLite 5.1 do with Even Rouault's
``sqlite_rtree_bulk_load`` (Debian 12 ships SpatiaLite 5.0, without it). A packed tree is also a good tree for
queries (full nodes, little overlap).

The shadow tables' format is the rtree module's on-disk format (``ext/rtree/rtree.c``): a node is a blob of the
tree's node size (the root node's length): ``depth`` (root only) and ``cell count`` as big-endian 16-bit integers,
then cells of a big-endian 64-bit rowid (a leaf) or child node number and the box as big-endian 32-bit floats in
column order (xmin, xmax, ymin, ymax), minima rounded down and maxima up exactly as the module rounds them.
``%_rowid`` maps each entry to its leaf, ``%_parent`` each node but the root (node 1) to its parent.
``rtreecheck()`` verifies a loaded tree (tests/store/test_rtree.py).
"""

from __future__ import annotations

import numpy as np
from sqlalchemy.engine import Connection

from cadastre.core import jsontext
from cadastre.store.engine import driver_cursor

__all__ = ["pack", "bulk_load", "BULK_LOAD_AT_LEAST"]

#: an index is rebuilt packed when the rows added are at least this share of the rows it already holds; fewer rows
#: go in one by one (a packed rebuild reads and rewrites every entry already there)
BULK_LOAD_AT_LEAST = 1.0

_CELL_BYTES = 8 + 4 * 4  # a rowid or child node number, then the box


#: the rtree module's rounding of a double to a float32 bound (rtreeValueDown / rtreeValueUp): when the nearest
#: float lies on the wrong side, the value scaled by one part in 2^23 towards the outside, then rounded
_TOWARDS, _AWAY = 1.0 - 1.0 / 8388608.0, 1.0 + 1.0 / 8388608.0


def _float32_down(values: np.ndarray) -> np.ndarray:
    f = values.astype(np.float32)
    return np.where(f > values, (values * np.where(values < 0, _AWAY, _TOWARDS)).astype(np.float32), f)


def _float32_up(values: np.ndarray) -> np.ndarray:
    f = values.astype(np.float32)
    return np.where(f < values, (values * np.where(values < 0, _TOWARDS, _AWAY)).astype(np.float32), f)


def _str_order(boxes: np.ndarray, capacity: int) -> np.ndarray:
    """Sort-Tile-Recursive order (Leutenegger et al.) of the boxes' centres: vertical slices of about √(leaves)
    leaves each, by x, and each slice by y; consecutive runs of ``capacity`` then make compact leaves."""
    cx, cy = boxes[:, 0] + boxes[:, 1], boxes[:, 2] + boxes[:, 3]  # twice the centres: the order is the same
    leaves = -(-len(boxes) // capacity)
    per_slice = capacity * int(np.ceil(np.sqrt(leaves)))
    by_x = np.argsort(cx, kind="stable")
    slice_of = np.empty(len(boxes), np.int64)
    slice_of[by_x] = np.arange(len(boxes)) // per_slice
    return np.lexsort((cy, slice_of))


def pack(ids: np.ndarray, boxes: np.ndarray, node_size: int) -> tuple[list[tuple[int, bytes]], np.ndarray,
                                                                     list[tuple[int, int]]]:
    """The shadow tables' rows of an STR-packed tree over entries ``ids`` with ``boxes`` (n × 4: xmin, xmax,
    ymin, ymax, in float64): ``(nodeno, data)``, the ``%_rowid`` rows as an n × 2 array of rowid and node number
    (by rowid), and ``(nodeno, parentnode)``. Pure."""
    capacity = (node_size - 4) // _CELL_BYTES
    order = _str_order(boxes, capacity) if len(ids) > capacity else np.arange(len(ids))
    b = boxes[order]
    # the levels, leaves first: each a level's cells (an id and a float32 box), filling its nodes in turn
    levels = [(np.asarray(ids, dtype=np.int64)[order],
               np.column_stack([_float32_down(b[:, 0]), _float32_up(b[:, 1]), _float32_down(b[:, 2]),
                                _float32_up(b[:, 3])]))]
    while len(levels[-1][0]) > capacity:
        box = levels[-1][1]
        starts = np.arange(0, len(box), capacity)
        levels.append((np.zeros(len(starts), np.int64),  # child node numbers: known once nodes are numbered
                       np.column_stack([np.minimum.reduceat(box[:, 0], starts), np.maximum.reduceat(box[:, 1], starts),
                                        np.minimum.reduceat(box[:, 2], starts), np.maximum.reduceat(box[:, 3], starts)])))
    # numbered from the root (1) down, level by level: the nodes of level k are first[k], first[k] + 1, …
    depth = len(levels) - 1
    counts = [-(-len(cells) // capacity) for cells, _ in levels]
    first = np.cumsum([1, *counts[::-1]])[:-1][::-1]
    nodes, parents = [], []
    for k, (cells, box) in enumerate(levels):
        if k > 0:
            cells[:] = first[k - 1] + np.arange(len(cells))
        data = np.zeros((counts[k], node_size), np.uint8)
        data[:, 0:2] = np.array([depth if k == depth else 0], ">u2").view(np.uint8)  # the depth: the root's only
        fill = np.bincount(np.arange(len(cells)) // capacity, minlength=counts[k]).astype(">u2")
        data[:, 2:4] = fill.view(np.uint8).reshape(-1, 2)
        packed = np.zeros((counts[k] * capacity, _CELL_BYTES), np.uint8)
        packed[:len(cells), :8] = cells.astype(">i8").view(np.uint8).reshape(-1, 8)
        packed[:len(cells), 8:] = box.astype(">f4").view(np.uint8).reshape(-1, 16)
        data[:, 4:4 + capacity * _CELL_BYTES] = packed.reshape(counts[k], -1)
        numbers = (first[k] + np.arange(counts[k])).tolist()
        nodes += zip(numbers, (row.tobytes() for row in data), strict=True)
        if k < depth:
            parents += zip(numbers, (first[k + 1] + np.arange(counts[k]) // capacity).tolist(), strict=True)
    # in rowid order: ``%_rowid`` is keyed by rowid, and rows in the tree's (spatial) order went into its B-tree at
    # random places (200 000 entries: 0.55 s so, 0.27 s in order)
    in_order = np.argsort(levels[0][0], kind="stable")
    leaf = first[0] + np.arange(len(levels[0][0])) // capacity
    return nodes, np.column_stack([levels[0][0][in_order], leaf[in_order]]), parents


def _insert_rowids(connection: Connection, index: str, rowids: np.ndarray) -> None:
    """The ``%_rowid`` rows in one statement: each pair packed into one integer (the rowid above the node number's
    bits) in a JSON array that SQLite unpacks (``json_each``): a million entries 0.4 s, against 0.75 s as a
    million tuples through ``executemany``."""
    bits = max(int(rowids[:, 1].max()).bit_length(), 1)
    if int(rowids[:, 0].min()) < 0 or int(rowids[:, 0].max()) >> (62 - bits):  # what one integer cannot carry
        connection.exec_driver_sql(f'INSERT INTO "{index}_rowid" (rowid, nodeno) VALUES (?, ?)',
                                   list(map(tuple, rowids.tolist())))
        return
    packed = rowids[:, 0] << bits | rowids[:, 1]
    connection.exec_driver_sql(f'INSERT INTO "{index}_rowid" (rowid, nodeno) SELECT value >> {bits}, '
                               f'value & {(1 << bits) - 1} FROM json_each(?)', (jsontext.dumps(packed),))


def _stored_entries(connection: Connection, index: str, node_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The entries the tree ``index`` holds — rowids, and boxes as float64 (xmin, xmax, ymin, ymax) — decoded from
    its leaf nodes' blobs at once: the module's own scan (``SELECT *``) makes each cell a row of Python values
    (40 800 entries: 36 ms, this 1.5 ms). The leaves are the nodes no node names as its parent (a lone root is one)."""
    with driver_cursor(connection) as cursor:
        inner = {row[0] for row in cursor.execute(f'SELECT DISTINCT parentnode FROM "{index}_parent"')}
        leaves = [data for nodeno, data in cursor.execute(f'SELECT nodeno, data FROM "{index}_node"')
                  if nodeno not in inner]
    capacity = (node_size - 4) // _CELL_BYTES
    raw = np.frombuffer(b"".join(leaves), np.uint8).reshape(len(leaves), node_size)
    counts = raw[:, 2:4].copy().view(">u2").ravel()
    cells = raw[:, 4:4 + capacity * _CELL_BYTES].reshape(len(leaves), capacity, _CELL_BYTES)
    used = cells[np.arange(capacity)[None, :] < counts[:, None]]
    return (used[:, :8].copy().view(">i8").ravel().astype(np.int64),
            used[:, 8:].copy().view(">f4").reshape(-1, 4).astype(np.float64))


def bulk_load(connection: Connection, index: str, ids: np.ndarray, boxes: np.ndarray) -> bool:
    """Add entries to the R*Tree table ``index`` inside the caller's transaction: packed, rebuilding the whole
    tree with the entries it holds, when they are at least :data:`BULK_LOAD_AT_LEAST` of them; else one by one
    in STR order (neighbours in turn: fewer node reads and splits). True when packed."""
    if not len(ids):
        return False
    present = connection.exec_driver_sql(f'SELECT count(*) FROM "{index}_rowid"').scalar()
    node_size = connection.exec_driver_sql(f'SELECT length(data) FROM "{index}_node" WHERE nodeno = 1').scalar()
    if len(ids) < BULK_LOAD_AT_LEAST * present:
        order = _str_order(boxes, (node_size - 4) // _CELL_BYTES)
        connection.exec_driver_sql(
            f'INSERT INTO "{index}" VALUES (?, ?, ?, ?, ?)',
            list(zip(np.asarray(ids)[order].tolist(), *(boxes[order, k].tolist() for k in range(4)), strict=True)))
        return False
    if present:  # the entries already there, as stored (float32 bounds, exact in float64)
        old_ids, old_boxes = _stored_entries(connection, index, node_size)
        ids = np.concatenate([old_ids, np.asarray(ids, dtype=np.int64)])
        boxes = np.concatenate([old_boxes, boxes])
    nodes, rowids, parents = pack(np.asarray(ids), boxes, node_size)
    for table in ("node", "rowid", "parent"):
        connection.exec_driver_sql(f'DELETE FROM "{index}_{table}"')
    connection.exec_driver_sql(f'INSERT INTO "{index}_node" (nodeno, data) VALUES (?, ?)', nodes)
    _insert_rowids(connection, index, rowids)
    if parents:
        connection.exec_driver_sql(f'INSERT INTO "{index}_parent" (nodeno, parentnode) VALUES (?, ?)', parents)
    return True
