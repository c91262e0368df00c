"""PostgreSQL binary ``COPY`` data built column by column with Arrow and numpy, never row by row in Python.

The text formats make the server parse every value back from text (a polygon as hex EWKB is twice its size and the
slowest field to read); the binary format carries the values as the server stores them: big-endian integers and
floats, UTF-8 text, EWKB for geometry, microseconds since 2000-01-01 for timestamps. Each field of a row is a 4-byte
length (−1 for NULL) and its bytes; a row starts with its field count. Building that interleaving is a scatter over
whole columns: every byte's destination is its position in the column plus the offset of its row in the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from geoalchemy2 import Geometry

from cadastre.core import jsontext
from cadastre.store.spatial import to_wkb

__all__ = ["Field", "field", "copy_data", "arrow_column"]

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Field:
    """One column of a COPY: per row the byte length (−1 for NULL), and the non-null values' bytes back to back."""

    lengths: np.ndarray  # int64, -1 for NULL
    data: np.ndarray  # uint8

    @classmethod
    def fixed(cls, values: np.ndarray, missing: np.ndarray, dtype: str) -> Field:
        width = np.dtype(dtype).itemsize
        lengths = np.where(missing, -1, width).astype(np.int64)
        return cls(lengths, np.ascontiguousarray(values[~missing].astype(dtype)).view(np.uint8))

    @classmethod
    def variable(cls, array: pa.Array) -> Field:
        """From an Arrow (large_)string or (large_)binary array: its offsets and data buffer are the field."""
        array = array.cast(pa.large_binary()) if not pa.types.is_large_binary(array.type) else array
        _, offsets, data = array.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
        lengths = np.diff(offsets)
        lengths[np.asarray(array.is_null(), dtype=bool)] = -1
        raw = (np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]] if data is not None
               else np.empty(0, np.uint8))
        return cls(lengths, raw)


def arrow_column(values) -> pa.Array:
    """A column as an Arrow array with nulls for anything missing (None, pd.NA, NaN, NaT), converted in one call;
    a column mixing kinds of values is converted value by value, and one Arrow cannot type even then, as text."""
    array = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    try:
        return pa.array(array, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        plain = [_plain(v) for v in array]
    try:
        return pa.array(plain, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array([None if v is None else str(v) for v in plain], pa.large_string())


def _plain(v):
    """A Python value for one element: None for anything missing, numpy scalars as int / float."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v) if np.isfinite(v) else None
    return v


def field(values, column_type: sa.types.TypeEngine, *, srid: int | None = None, multi: bool = False) -> Field:
    """Encode a column of values for a column of this SQLAlchemy type (missing values become NULL); geometries
    with their SRID, single parts as one-part collections when ``multi`` (:func:`cadastre.store.spatial.to_wkb`)."""
    if isinstance(column_type, Geometry):
        wkb = to_wkb(values, multi=multi, srid=srid or 0)
        return Field.variable(pa.array(wkb, type=pa.large_binary()))
    if isinstance(column_type, sa.JSON):
        return Field.variable(pa.array([None if v is None else jsontext.dumps(v) for v in values],
                                       pa.large_string()))
    array = arrow_column(values)
    if isinstance(column_type, sa.String):  # Text, String, Unicode
        return Field.variable(array if pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
                              else pc.cast(array, pa.large_string()))
    missing = np.asarray(array.is_null(), dtype=bool)
    if isinstance(column_type, sa.DateTime):
        stamps = pc.cast(array, pa.timestamp("us", tz="UTC")) if not pa.types.is_null(array.type) else None
        micros = (np.zeros(len(array), np.int64) if stamps is None else
                  pc.fill_null(stamps.cast(pa.int64()), 0).to_numpy()
                  - int((_POSTGRES_EPOCH - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000)
        return Field.fixed(micros, missing, ">i8")
    kinds = [(sa.Boolean, pa.bool_(), ">u1"), (sa.BigInteger, pa.int64(), ">i8"),
             (sa.SmallInteger, pa.int16(), ">i2"), (sa.Integer, pa.int32(), ">i4"), (sa.Float, pa.float64(), ">f8")]
    for sql_type, arrow_type, dtype in kinds:
        if isinstance(column_type, sql_type):
            if pa.types.is_null(array.type):
                return Field(np.full(len(array), -1, np.int64), np.empty(0, np.uint8))
            # a safe cast: 2.5 for an integer column is an error, not a silent truncation
            numbers = pc.cast(array, arrow_type).to_numpy(zero_copy_only=False)
            return Field.fixed(np.where(missing, 0, numbers) if missing.any() else numbers, missing, dtype)
    raise TypeError(f"no binary COPY encoding for {column_type!r}")


def _put(out: np.ndarray, positions: np.ndarray, values: np.ndarray, dtype: str) -> None:
    """Write big-endian integers at byte positions of ``out``."""
    raw = np.ascontiguousarray(values.astype(dtype)).view(np.uint8).reshape(-1, np.dtype(dtype).itemsize)
    for j in range(raw.shape[1]):
        out[positions + j] = raw[:, j]


def copy_data(fields: list[Field], *, header: bool = True, trailer: bool = True) -> np.ndarray:
    """The binary COPY stream (as a uint8 array) of rows made of these fields, in order."""
    n = len(fields[0].lengths) if fields else 0
    sizes = np.full(n, 2, dtype=np.int64)
    for f in fields:
        sizes += 4 + np.maximum(f.lengths, 0)
    start = len(_SIGNATURE) if header else 0
    row_start = start + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    total = start + int(sizes.sum()) + (2 if trailer else 0)
    out = np.zeros(total, dtype=np.uint8)
    if header:
        out[:start] = np.frombuffer(_SIGNATURE, dtype=np.uint8)
    _put(out, row_start, np.full(n, len(fields)), ">i2")
    position = row_start + 2
    for f in fields:
        _put(out, position, f.lengths, ">i4")
        lengths = np.maximum(f.lengths, 0)
        if len(f.data):
            source_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            out[np.arange(len(f.data), dtype=np.int64) + np.repeat(position + 4 - source_start, lengths)] = f.data
        position = position + 4 + lengths
    if trailer:
        out[-2:] = 0xFF
    return out
