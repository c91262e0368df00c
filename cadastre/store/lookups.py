"""Lookups for registration staff: a unit with its history, code lineage both ways, the parcel at a point, search.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.codes import prefix_range
from cadastre.core.errors import NotFoundError
from cadastre.store.models import versions_where
from cadastre.store.spatial import index_filter, query_records, read_frame

__all__ = ["unit_rows", "lineage", "parcel_codes_at", "search_rows"]



def lineage(connection: Connection, code: str) -> list[dict]:
    """Every lineage link reachable from ``code``: its predecessors (``direction`` = ``from``) and successors
    (``to``), transitively, in order of time."""
    sql = """
    WITH RECURSIVE back(old_code, new_code, reason, package_id, created_at, depth) AS (
        SELECT old_code, new_code, reason, package_id, created_at, 1 FROM code_lineage WHERE new_code = :c
        UNION
        SELECT l.old_code, l.new_code, l.reason, l.package_id, l.created_at, b.depth + 1
        FROM code_lineage l JOIN back b ON l.new_code = b.old_code WHERE b.depth < 50),
    fwd(old_code, new_code, reason, package_id, created_at, depth) AS (
        SELECT old_code, new_code, reason, package_id, created_at, 1 FROM code_lineage WHERE old_code = :c
        UNION
        SELECT l.old_code, l.new_code, l.reason, l.package_id, l.created_at, f.depth + 1
        FROM code_lineage l JOIN fwd f ON l.old_code = f.new_code WHERE f.depth < 50)
    SELECT 'from' AS direction, old_code, new_code, reason, package_id, created_at, depth FROM back
    UNION ALL
    SELECT 'to', old_code, new_code, reason, package_id, created_at, depth FROM fwd
    ORDER BY created_at, direction, depth"""
    return query_records(connection, sql, c=code)


def unit_rows(connection: Connection, bdcdyh: str) -> dict[str, list[dict]]:
    """Every version of unit ``bdcdyh`` (pre-sale and as-built), its issued code and its lineage."""
    versions = query_records(connection, "SELECT u.id, u.bdcdyh, u.stage, u.sjc, u.myc, u.dyh, u.hh, u.shbw, u.fwyt, "
                                  "u.fwlx, u.fwxz, u.ycjzmj, u.yctnjzmj, u.ycftjzmj, u.scjzmj, u.sctnjzmj, u.scftjzmj, "
                                  "u.valid_from, u.valid_to, u.end_reason, u.package_id, "
                                  "b.zddm || 'F' || b.zrzh AS building, b.jzwmc, p.zl "
                                  "FROM unit u JOIN building b ON b.id = u.building_id "
                                  f"JOIN parcel p ON p.id = b.parcel_id WHERE u.id IN ({versions_where('unit', 'bdcdyh', 'c')}) "
                                  "ORDER BY u.valid_from, u.id", c=bdcdyh)
    code = query_records(connection, "SELECT code, kind, issued_at, package_id, retired_at, retired_reason "
                              "FROM issued_code WHERE code = :c", c=bdcdyh)
    if not versions and not code:
        raise NotFoundError(f"没有不动产单元 {bdcdyh}", f"no unit {bdcdyh}")
    return {"versions": versions, "code": code, "lineage": lineage(connection, bdcdyh)}


def parcel_codes_at(connection: Connection, srid: int, x: float, y: float) -> list[str]:
    """宗地代码 of the current parcels containing the point (x, y) in the storage CRS (normally one)."""
    point = "MakePoint(:x, :y, :srid)" if connection.dialect.name == "sqlite" else "ST_SetSRID(ST_MakePoint(:x, :y), :srid)"
    sql = (f"SELECT p.zddm FROM parcel p WHERE p.valid_to IS NULL AND {index_filter(connection, 'parcel', 'p', point)} "
           f"AND ST_Intersects(p.geom, {point}) ORDER BY p.zddm")
    return [r[0] for r in connection.execute(sa.text(sql), {"x": x, "y": y, "srid": srid})]


_CODE = re.compile(r"^[0-9A-Z]+$")

#: LIKE patterns escape their wildcards with a backslash (the same clause on both engines)
LIKE_ESCAPE = "ESCAPE '\\'"


def like_literal(text: str) -> str:
    """``text`` to be matched literally inside a LIKE pattern: ``%``, ``_`` and the escape character itself are
    characters a clerk typed, not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_rows(connection: Connection, srid: int, text: str, limit: int = 20):
    """Parcels, buildings and units matching ``text``: a code or the start of one (宗地代码, 自然幢代码,
    不动产单元代码), else a part of a parcel's 坐落 or a building's name. Envelopes come in the storage CRS."""
    text = text.strip()
    upper = text.upper()
    params = {"limit": int(limit), "srid": srid}
    parts = []
    if _CODE.match(upper) and len(upper) >= 6:
        # code prefixes as key ranges, which the code indexes serve
        params["lo"], params["hi"] = prefix_range(upper[:19])
        parts.append("SELECT 'parcel' AS kind, p.zddm AS code, p.zl AS label, p.zl AS zl, "
                     "ST_AsBinary(ST_Envelope(p.geom)) AS wkb FROM parcel p "
                     "WHERE p.valid_to IS NULL AND p.zddm >= :lo AND p.zddm < :hi")
        if len(upper) > 19:
            params["building"] = upper[:24]
            params["unit_lo"], params["unit_hi"] = prefix_range(upper)
            parts.append("SELECT 'building', b.zddm || 'F' || b.zrzh, b.jzwmc, p.zl, ST_AsBinary(ST_Envelope(b.geom)) "
                         "FROM building b JOIN parcel p ON p.id = b.parcel_id WHERE b.valid_to IS NULL "
                         "AND b.zddm = substr(:building, 1, 19) AND b.zrzh = substr(:building, 21, 4)")
            parts.append("SELECT 'unit', u.bdcdyh, u.shbw, p.zl, ST_AsBinary(ST_Envelope(b.geom)) FROM unit u "
                         "JOIN building b ON b.id = u.building_id JOIN parcel p ON p.id = b.parcel_id "
                         "WHERE u.valid_to IS NULL AND u.bdcdyh >= :unit_lo AND u.bdcdyh < :unit_hi")
    else:
        params["words"] = "%" + like_literal(text) + "%"
        parts.append("SELECT 'parcel' AS kind, p.zddm AS code, p.zl AS label, p.zl AS zl, "
                     "ST_AsBinary(ST_Envelope(p.geom)) AS wkb FROM parcel p "
                     f"WHERE p.valid_to IS NULL AND p.zl LIKE :words {LIKE_ESCAPE}")
        parts.append("SELECT 'building', b.zddm || 'F' || b.zrzh, b.jzwmc, p.zl, ST_AsBinary(ST_Envelope(b.geom)) "
                     "FROM building b JOIN parcel p ON p.id = b.parcel_id "
                     f"WHERE b.valid_to IS NULL AND b.jzwmc LIKE :words {LIKE_ESCAPE}")
    sql = " UNION ALL ".join(f"SELECT * FROM ({part} LIMIT :limit) s{i}" for i, part in enumerate(parts))
    return read_frame(connection, sql + " ORDER BY 1, 2 LIMIT :limit", params, srid=srid)
