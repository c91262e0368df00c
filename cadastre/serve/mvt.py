"""A vectorised Mapbox Vector Tile 2.1 encoder for polygon layers.

A tile's bytes are almost all varints: the geometry commands and zigzag deltas, the tags, and the field keys and
lengths that frame each feature (every key below 128 is its own one-byte varint). So the encoder lays each
layer's features out as one array of unsigned integers — ``[0x12, len, 0x08, id, 0x12, len, tags…, 0x18, 3,
0x22, len, geometry…]`` per feature — and varint-encodes that array in one pass of numpy. Only the keys and
the distinct property values are written one by one. Compared with ``mapbox-vector-tile`` (pure Python per
coordinate), a tile of 5 000 parcels takes milliseconds instead of a second.

Input geometries are already in tile pixels (y down, as :func:`cadastre.serve.tiles.encode_tile` makes them). Here
they are rounded to integers, consecutive repeated points dropped, rings that collapse to no area dropped (with
their holes when it is the outer ring), and every ring wound as the specification wants: outer rings with
positive area by the surveyor's formula in tile coordinates, holes negative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import shapely

__all__ = ["encode_layers", "varints"]

MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
POLYGON = 3


def varints(values: np.ndarray) -> bytes:
    """Protocol-buffer varints of unsigned integers, in one vectorised pass."""
    values = np.asarray(values, dtype=np.uint64)
    if not len(values):
        return b""
    size = _sizes(values)
    end = np.cumsum(size)
    start = end - size
    out = np.empty(int(end[-1]), dtype=np.uint8)
    for k in range(int(size.max())):
        has = size > k
        chunk = (values[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (size[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[start[has] + k] = (chunk | more).astype(np.uint8)
    return out.tobytes()


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Where each of consecutive runs of the given lengths starts."""
    return np.cumsum(lengths) - lengths


def _sizes(values: np.ndarray) -> np.ndarray:
    """Byte length of each value's varint."""
    values = np.asarray(values, dtype=np.uint64)
    size = np.ones(len(values), dtype=np.int64)
    for k in range(1, 10):
        size += values >= np.uint64(1 << (7 * k))
    return size


def _varint(n: int) -> bytes:
    """One varint (for the few scalars: lengths of names and keys, the extent)."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(key: int, data: bytes) -> bytes:
    """A length-delimited field: its key, the length, the bytes."""
    return bytes([key]) + _varint(len(data)) + data


def _prefixed(prefixes: np.ndarray, chunks: list[bytes]) -> bytes:
    """For each row i: the varints of ``prefixes[i]`` then ``chunks[i]``, all concatenated, vectorised."""
    if not chunks:
        return b""
    prefix_bytes = np.frombuffer(varints(prefixes.reshape(-1)), dtype=np.uint8)
    prefix_len = _sizes(prefixes.reshape(-1)).reshape(prefixes.shape).sum(axis=1)
    data = np.frombuffer(b"".join(chunks), dtype=np.uint8)
    data_len = np.fromiter(map(len, chunks), dtype=np.int64, count=len(chunks))
    row_len = prefix_len + data_len
    row_start = _starts(row_len)
    out = np.empty(int(row_len.sum()), dtype=np.uint8)
    p_start = _starts(prefix_len)
    out[np.repeat(row_start - p_start, prefix_len) + np.arange(len(prefix_bytes))] = prefix_bytes
    d_start = _starts(data_len)
    out[np.repeat(row_start + prefix_len - d_start, data_len) + np.arange(len(data))] = data
    return out.tobytes()


def _zigzag(n: np.ndarray) -> np.ndarray:
    n = n.astype(np.int64)
    return ((n << 1) ^ (n >> 63)).astype(np.uint64)


def _polygon_commands(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(command stream, owner feature of each integer) for polygons / multipolygons in tile pixels."""
    parts, part_owner = shapely.get_parts(geometries, return_index=True)
    nested = shapely.get_type_id(parts) == 6  # a MultiPolygon inside a GeometryCollection (from clipping)
    if nested.any():
        inner, which = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], inner])
        part_owner = np.concatenate([part_owner[~nested], part_owner[nested][which]])
        order = np.argsort(part_owner, kind="stable")
        parts, part_owner = parts[order], part_owner[order]
    polygon = shapely.get_type_id(parts) == 3  # lines or points a clip left behind are not polygons
    parts, part_owner = parts[polygon], part_owner[polygon]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    coords = np.rint(coords).astype(np.int64)
    # drop each ring's closing point and consecutive repeats (both become duplicates of a neighbour)
    same_ring = np.r_[False, coord_ring[1:] == coord_ring[:-1]]
    repeat = same_ring & np.r_[False, (coords[1:] == coords[:-1]).all(axis=1)]
    last = np.r_[coord_ring[1:] != coord_ring[:-1], True]
    keep = ~repeat & ~last
    coords, coord_ring = coords[keep], coord_ring[keep]
    # a ring whose last points rounded onto its first: drop them too (the ClosePath command joins them)
    for _ in range(2):
        first = np.r_[True, coord_ring[1:] != coord_ring[:-1]]
        last = np.r_[coord_ring[1:] != coord_ring[:-1], True]
        first_of_ring = np.maximum.accumulate(np.where(first, np.arange(len(coords)), 0)) if len(coords) else first
        back = last & ~first & (coords == coords[first_of_ring]).all(axis=1)
        coords, coord_ring = coords[~back], coord_ring[~back]
    n_rings = len(rings)
    count = np.bincount(coord_ring, minlength=n_rings)
    # signed area (surveyor's formula) of each ring, on the integer pixels
    start = _starts(count)
    following = np.arange(len(coords)) + 1
    wrap = following == (start + count)[coord_ring]
    following[wrap] = start[coord_ring][wrap]
    cross = coords[:, 0] * coords[following, 1] - coords[following, 0] * coords[:, 1]
    area2 = np.bincount(coord_ring, weights=cross, minlength=n_rings)
    # the first ring of each part is its outer ring
    outer = np.r_[True, ring_part[1:] != ring_part[:-1]] if n_rings else np.zeros(0, bool)
    alive = (count >= 3) & (area2 != 0)
    part_alive = np.zeros(len(parts), bool)
    part_alive[ring_part[outer & alive]] = True
    alive &= part_alive[ring_part]
    # wind outer rings positive, holes negative: reverse the others
    reverse = alive & ((area2 > 0) != outer)
    position = np.arange(len(coords)) - start[coord_ring]
    flip = reverse[coord_ring]
    source = np.where(flip, start[coord_ring] + count[coord_ring] - 1 - position, np.arange(len(coords)))
    coords = coords[source]
    kept = alive[coord_ring]
    coords, coord_ring = coords[kept], coord_ring[kept]
    rings_left = np.flatnonzero(alive)
    count = count[rings_left]
    ring_feature = part_owner[ring_part[rings_left]]
    # deltas: the cursor runs on across the rings and parts of one feature and starts at 0,0 for each
    coord_feature = np.repeat(ring_feature, count)
    delta = np.diff(coords, axis=0, prepend=np.zeros((1, 2), np.int64))
    first_of_feature = np.r_[True, coord_feature[1:] != coord_feature[:-1]] if len(coords) else np.zeros(0, bool)
    delta[first_of_feature] = coords[first_of_feature]
    zz = _zigzag(delta)
    # per ring: MoveTo(1) dx dy, LineTo(n-1) dx dy …, ClosePath(1) → 2n + 3 integers
    length = 2 * count + 3
    offset = _starts(length)
    stream = np.empty(int(length.sum()), dtype=np.uint64)
    stream[offset] = MOVE_TO | (1 << 3)
    stream[offset + 3] = (LINE_TO | ((count - 1) << 3)).astype(np.uint64)
    stream[offset + length - 1] = CLOSE_PATH | (1 << 3)
    ring_start = _starts(count)
    k = np.arange(len(coords)) - np.repeat(ring_start, count)  # index of the point within its ring
    base = np.repeat(offset, count) + 1 + 2 * k + (k > 0)  # the LineTo command sits after the first point
    stream[base] = zz[:, 0]
    stream[base + 1] = zz[:, 1]
    return stream, np.repeat(ring_feature, length)


def _values(values: list) -> bytes:
    """The layer's ``values`` field: ``Value`` messages, strings first (vectorised), then the others."""
    strings = [str(v).encode("utf-8") for v in values if isinstance(v, str)]
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    out = [_prefixed(np.column_stack([np.full(len(strings), 0x22), 1 + _sizes(lengths) + lengths,
                                      np.full(len(strings), 0x0A), lengths]).astype(np.uint64), strings)]
    for value in values[len(strings):]:
        if isinstance(value, (bool, np.bool_)):
            message = b"\x38" + _varint(int(value))
        elif isinstance(value, (int, np.integer)):
            message = b"\x30" + _varint(int(_zigzag(np.array([int(value)]))[0]))
        else:
            message = b"\x19" + np.float64(value).tobytes()
        out.append(_field(0x22, message))
    return b"".join(out)


def _layer(name: str, ids: np.ndarray, geometries: np.ndarray, properties: Mapping[str, Sequence],
           extent: int) -> bytes:
    stream, owner = _polygon_commands(geometries)
    if not len(stream):
        return b""
    features = np.unique(owner)  # features that kept a ring, in order
    geometry_count = np.bincount(owner, minlength=len(geometries))[features]
    geometry_bytes = np.bincount(owner, weights=_sizes(stream), minlength=len(geometries))[features].astype(np.int64)
    # tags: (key, value) index pairs of each feature's non-missing properties. Values are numbered strings first
    # (so that they are written in one vectorised pass), each distinct value of a key once.
    keys, columns = list(properties), []
    for key in keys:
        codes, uniques = pd.factorize(pd.Series(np.asarray(properties[key], dtype=object)[features]))
        uniques = np.asarray(uniques, dtype=object)
        columns.append((codes, uniques, np.array([isinstance(u, str) for u in uniques], dtype=bool)))
    n_strings = sum(int(is_str.sum()) for _, _, is_str in columns)
    values, next_string, next_other, tag_columns = [None] * (n_strings + sum(len(u) for _, u, _ in columns)), 0, 0, []
    for k, (codes, uniques, is_str) in enumerate(columns):
        index = np.empty(len(uniques), dtype=np.int64)
        index[is_str] = next_string + np.arange(int(is_str.sum()))
        index[~is_str] = n_strings + next_other + np.arange(int((~is_str).sum()))
        next_string += int(is_str.sum())
        next_other += int((~is_str).sum())
        for i, u in zip(index, uniques, strict=True):
            values[i] = u
        tag_columns.append((codes >= 0, k, np.where(codes >= 0, index[np.maximum(codes, 0)], 0)))
    values = values[:n_strings + next_other]
    n = len(features)
    if tag_columns:
        present = np.column_stack([p for p, _, _ in tag_columns])
        pairs = np.stack([np.column_stack([np.full(n, k), c]) for _, k, c in tag_columns], axis=1)  # n × cols × 2
        tags = pairs[present].reshape(-1).astype(np.uint64)
        tag_count = 2 * present.sum(axis=1)
    else:
        tags, tag_count = np.zeros(0, np.uint64), np.zeros(n, np.int64)
    tag_owner = np.repeat(np.arange(n), tag_count)
    tag_bytes = np.bincount(tag_owner, weights=_sizes(tags), minlength=n).astype(np.int64)
    fid = np.asarray(ids)[features].astype(np.uint64)
    # feature body: 0x08 id | 0x12 len tags | 0x18 3 | 0x22 len geometry; framed by 0x12 len in the layer
    body = (1 + _sizes(fid) + 1 + _sizes(tag_bytes) + tag_bytes + 2 + 1 + _sizes(geometry_bytes) + geometry_bytes)
    # integers per feature: 0x12 body 0x08 id 0x12 taglen, the tags, 0x18 3 0x22 geomlen, the geometry
    per_feature = 10 + tag_count + geometry_count
    offset = _starts(per_feature)
    out = np.empty(int(per_feature.sum()), dtype=np.uint64)
    out[offset] = 0x12
    out[offset + 1] = body.astype(np.uint64)
    out[offset + 2] = 0x08
    out[offset + 3] = fid
    out[offset + 4] = 0x12
    out[offset + 5] = tag_bytes.astype(np.uint64)
    tag_start = _starts(tag_count)
    out[np.repeat(offset + 6 - tag_start, tag_count) + np.arange(len(tags))] = tags
    after = offset + 6 + tag_count
    out[after] = 0x18
    out[after + 1] = POLYGON
    out[after + 2] = 0x22
    out[after + 3] = geometry_bytes.astype(np.uint64)
    geometry_start = _starts(geometry_count)
    out[np.repeat(after + 4 - geometry_start, geometry_count) + np.arange(len(stream))] = stream
    parts = [b"\x78\x02", _field(0x0A, name.encode("utf-8")), varints(out)]
    parts += [_field(0x1A, key.encode("utf-8")) for key in keys]
    parts.append(_values(values))
    parts.append(b"\x28" + _varint(extent))
    return b"".join(parts)


def encode_layers(layers: Sequence[tuple[str, np.ndarray, np.ndarray, Mapping[str, Sequence]]],
                  extent: int = 4096) -> bytes:
    """One tile from layers given as ``(name, feature ids, polygons in tile pixels, {property: values})``.
    Features whose rings all collapse when rounded to pixels are left out; a layer left empty is not written."""
    out = []
    for name, ids, geometries, properties in layers:
        layer = _layer(name, ids, np.asarray(geometries, dtype=object), properties, extent)
        if layer:
            out.append(_field(0x1A, layer))
    return b"".join(out)
