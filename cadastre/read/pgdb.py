"""ESRI personal geodatabases (``.mdb``, as EPS 地理信息工作站 and many CASS workflows write them).

A personal geodatabase is an Access database: its tables are read with MDB Tools (Debian's ``mdbtools``:
``mdb-tables`` lists them, ``mdb-export`` writes one as CSV with binary columns in hex). ESRI's own tables say which
tables are feature classes, in which column their geometry is and in which coordinate system (``GDB_GeomColumns``,
``GDB_SpatialRefs``). The geometry column holds ESRI shape buffers — the content of a shapefile record — which
:func:`decode_shapes` reads with pyshp by laying them out as the records of an in-memory shapefile: polygons with
holes and several parts come out as pyshp's shapefile reading gives them, Z and M are dropped (the reader reports
that as GEO-005).

Whatever cannot be read with certainty — not a geodatabase, MDB Tools missing, a shape kind other than points,
lines and polygons (curves, multipatches) — is refused naming the file, with what to do instead: export the data to
a File Geodatabase or shapefiles.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapefile
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from cadastre.core.errors import InputError

__all__ = ["table_names", "read_table", "decode_shapes", "frame_from_export", "EXPORT_ADVICE"]

#: what a surveyor can do with a personal geodatabase the service cannot read with certainty
EXPORT_ADVICE = "请在 ArcGIS 或 EPS 中导出为文件地理数据库（.gdb，压缩为 zip）或 shapefile 后重新提交"

#: shape types a personal geodatabase stores for points, multipoints, lines and polygons (plain, Z, M, ZM)
_SHAPE_TYPES = {1, 3, 5, 8, 11, 13, 15, 18, 21, 23, 25, 28}
#: ESRI's bookkeeping tables and Access's own, never layers
_SYSTEM_PREFIXES = ("msys", "gdb_", "selections", "~")


def _refuse(member: str, why: str, why_en: str) -> InputError:
    return InputError(f"个人地理数据库 {member} {why}；{EXPORT_ADVICE}", f"personal geodatabase {member}: {why_en}",
                      rule="PKG-002")


def _mdb(tool: str, *args: str, member: str) -> str:
    """Run an MDB Tools program and return what it printed (UTF-8)."""
    program = shutil.which(tool)
    if program is None:
        raise _refuse(member, "无法读取：本机未安装 MDB Tools（Debian 软件包 mdbtools）",
                      f"{tool} not found (install Debian's mdbtools)")
    # text comes out as UTF-8; Access 97 (Jet 3) files carry no code page of their own: Chinese Windows wrote GBK
    environment = {**os.environ, "MDB_JET3_CHARSET": "CP936"}
    done = subprocess.run([program, *args], capture_output=True, env=environment, check=False)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", errors="replace").strip()[-200:]
        raise _refuse(member, f"无法读取（{reason or '文件已损坏'}）", f"{tool} failed: {reason}")
    try:
        return done.stdout.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise _refuse(member, "中的文字无法解码（文件可能已损坏）", f"{tool} wrote text that is not UTF-8") from None


@lru_cache(maxsize=64)  # per opened file; uploads come and go, so bounded
def _tables(path: Path, member: str) -> tuple[str, ...]:
    return tuple(line for line in _mdb("mdb-tables", "-1", str(path), member=member).splitlines() if line.strip())


def _export(path: Path, table: str, member: str) -> pd.DataFrame:
    text = _mdb("mdb-export", "-b", "hex", "-D", "%Y-%m-%d %H:%M:%S", str(path), table, member=member)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


@lru_cache(maxsize=64)  # per opened file; uploads come and go, so bounded
def _feature_classes(path: Path, member: str) -> dict[str, tuple[str, str | None]]:
    """Feature class (casefolded) → (geometry column, coordinate system WKT or None), from ESRI's own tables."""
    tables = {t.casefold(): t for t in _tables(path, member)}
    if "gdb_geomcolumns" not in tables:
        raise _refuse(member, "不是 ESRI 个人地理数据库（没有 GDB_GeomColumns 表），无法确定其中的图层",
                      "not a personal geodatabase (no GDB_GeomColumns table)")
    columns = _export(path, tables["gdb_geomcolumns"], member)
    refs = _export(path, tables["gdb_spatialrefs"], member) if "gdb_spatialrefs" in tables else pd.DataFrame()
    wkt = dict(zip(refs.get("SRID", []), refs.get("SRTEXT", []), strict=True))
    return {str(t).casefold(): (str(field), wkt.get(srid) or None)
            for t, field, srid in zip(columns["TableName"], columns["FieldName"], columns.get("SRID", [""] * len(columns)),
                                      strict=True)}


def table_names(path: Path, member: str) -> list[str]:
    """The feature classes and tables of a personal geodatabase (ESRI's and Access's own left out)."""
    _feature_classes(path, member)  # refuses what is not a personal geodatabase
    return [t for t in _tables(path, member)
            if not t.casefold().startswith(_SYSTEM_PREFIXES) and not t.casefold().endswith("_shape_index")]


def read_table(path: Path, table: str, member: str) -> pd.DataFrame:
    """One feature class (a GeoDataFrame, in its own coordinate system) or table (a DataFrame) of a personal
    geodatabase, text as read; the geometry column becomes ``geometry``."""
    geometry = _feature_classes(path, member).get(table.casefold())
    frame = _export(path, table, member)
    if geometry is None:
        return frame
    field, wkt = geometry
    return frame_from_export(frame, field, wkt, f"{member}:{table}")


def frame_from_export(frame: pd.DataFrame, field: str, wkt: str | None, where: str) -> gpd.GeoDataFrame:
    """A feature class exported by ``mdb-export -b hex``: its shape buffers (hex) decoded into geometries."""
    column = next((c for c in frame.columns if c.casefold() == field.casefold()), None)
    if column is None:
        raise _refuse(where, f"的几何字段 {field} 缺失", f"geometry column {field} missing")
    blobs = [bytes.fromhex(h) if h else None for h in frame[column]]
    crs = None
    if wkt:
        try:
            crs = CRS.from_user_input(wkt)
        except CRSError:
            raise _refuse(where, "的坐标系定义无法识别", "unreadable coordinate system") from None
    out = gpd.GeoDataFrame(frame.drop(columns=[column]), geometry=decode_shapes(blobs, where), crs=crs)
    # shape types 11–28 carry Z or M: the reader says they were dropped (GEO-005)
    out.attrs["dropped_z"] = any(b is not None and len(b) >= 4 and struct.unpack("<i", b[:4])[0] > 10 for b in blobs)
    return out


def decode_shapes(buffers: list[bytes | None], where: str = "") -> np.ndarray:
    """ESRI shape buffers (the content of shapefile records) as shapely geometries (None for null shapes), read by
    pyshp from an in-memory shapefile made of them: parts, holes and ring order as a shapefile reader takes them; Z
    and M dropped."""
    kinds = {struct.unpack("<i", b[:4])[0] for b in buffers if b and len(b) >= 4}
    if kinds - _SHAPE_TYPES - {0}:
        raise _refuse(where, f"含有无法确定读取的几何类型（{sorted(kinds - _SHAPE_TYPES - {0})}，如曲线或多面体）",
                      f"shape types {sorted(kinds)} cannot be read with certainty")
    kind = next(iter(kinds - {0}), 0)
    records = io.BytesIO()
    for number, buffer in enumerate(buffers, start=1):
        content = buffer if buffer else struct.pack("<i", 0)
        content += b"\x00" * (len(content) % 2)  # a record's length counts 16-bit words
        records.write(struct.pack(">2i", number, len(content) // 2) + content)
    body = records.getvalue()
    header = struct.pack(">7i", 9994, 0, 0, 0, 0, 0, (100 + len(body)) // 2) + struct.pack("<2i", 1000, kind)
    header += struct.pack("<8d", *([0.0] * 8))
    try:
        shapes = shapefile.Reader(shp=io.BytesIO(header + body)).shapes()
    except Exception as e:  # pyshp's own exceptions for a damaged buffer
        raise _refuse(where, f"的几何数据已损坏（{e}）", f"damaged shape buffers: {e}") from None
    out = np.full(len(buffers), None, dtype=object)
    for i, shape in enumerate(shapes):
        if shape.shapeType != 0 and shape.points:
            out[i] = shapely.geometry.shape(shape.__geo_interface__)  # x and y: Z and M are left behind
    return out
