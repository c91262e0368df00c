"""Lookups for registration staff: a unit with its history, code lineage both ways, the parcel at a point, search.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from cadastre.core.codes import prefix_range
from cadastre.core.errors import NotFoundError
from cadastre.core.search import parse_query, room_labels
from cadastre.store.models import versions_where
from cadastre.store.spatial import (
    index_filter,
    query_records,
    query_records_together,
    query_records_together_async,
    read_frame,
)

__all__ = ["unit_rows", "unit_rows_async", "lineage", "parcel_codes_at", "search_rows"]



#: every lineage link reachable from code ``:c``, both ways, transitively
_LINEAGE = """
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


def lineage(connection: Connection, code: str) -> list[dict]:
    """Every lineage link reachable from ``code``: its predecessors (``direction`` = ``from``) and successors
    (``to``), transitively, in order of time."""
    return query_records(connection, _LINEAGE, c=code)


def unit_rows(connection: Connection, bdcdyh: str) -> dict[str, list[dict]]:
    """Every version of unit ``bdcdyh`` (pre-sale and as-built), its issued code and its lineage: three queries
    sent together (:func:`~cadastre.store.spatial.query_records_together`)."""
    return _unit_result(bdcdyh, *query_records_together(connection, *_unit_queries(bdcdyh)))


async def unit_rows_async(connection: AsyncConnection, bdcdyh: str) -> dict[str, list[dict]]:
    """:func:`unit_rows` on an event loop (PostgreSQL, :func:`~cadastre.store.spatial.query_records_together_async`)."""
    return _unit_result(bdcdyh, *await query_records_together_async(connection, *_unit_queries(bdcdyh)))


def _unit_queries(bdcdyh: str) -> list[tuple[str, dict]]:
    return [
        ("SELECT u.id, u.bdcdyh, u.stage, u.sjc, u.myc, u.dyh, u.hh, u.shbw, u.fwyt, "
         "u.fwlx, u.fwxz, u.ycjzmj, u.yctnjzmj, u.ycftjzmj, u.scjzmj, u.sctnjzmj, u.scftjzmj, "
         "u.valid_from, u.valid_to, u.end_reason, u.package_id, "
         "b.zddm || 'F' || b.zrzh AS building, b.jzwmc, p.zl "
         "FROM unit u JOIN building b ON b.id = u.building_id "
         f"JOIN parcel p ON p.id = b.parcel_id WHERE u.id IN ({versions_where('unit', 'bdcdyh', 'c')}) "
         "ORDER BY u.valid_from, u.id", {"c": bdcdyh}),
        ("SELECT code, kind, issued_at, package_id, retired_at, retired_reason FROM issued_code WHERE code = :c",
         {"c": bdcdyh}),
        (_LINEAGE, {"c": bdcdyh})]


def _unit_result(bdcdyh: str, versions: list[dict], code: list[dict], lineage: list[dict]) -> dict:
    if not versions and not code:
        raise NotFoundError(f"没有不动产单元 {bdcdyh}", f"no unit {bdcdyh}")
    return {"versions": versions, "code": code, "lineage": lineage}


def parcel_codes_at(connection: Connection, srid: int, x: float, y: float) -> list[str]:
    """宗地代码 of the current parcels containing the point (x, y) in the storage CRS (normally one)."""
    point = "MakePoint(:x, :y, :srid)" if connection.dialect.name == "sqlite" else "ST_SetSRID(ST_MakePoint(:x, :y), :srid)"
    sql = (f"SELECT p.zddm FROM parcel p WHERE p.valid_to IS NULL AND {index_filter(connection, 'parcel', 'p', point)} "
           f"AND ST_Intersects(p.geom, {point}) ORDER BY p.zddm")
    return [r[0] for r in connection.execute(sa.text(sql), {"x": x, "y": y, "srid": srid})]


#: LIKE patterns escape their wildcards with a backslash (the same clause on both engines)
LIKE_ESCAPE = "ESCAPE '\\'"


def like_literal(text: str) -> str:
    """``text`` to be matched literally inside a LIKE pattern: ``%``, ``_`` and the escape character itself are
    characters a clerk typed, not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_PARCEL_HIT = ("SELECT 'parcel' AS kind, p.zddm AS code, p.zl AS label, p.zl AS zl, "
               "ST_AsBinary(ST_Envelope(p.geom)) AS wkb, {rank} AS rank FROM parcel p ")
_BUILDING_HIT = ("SELECT 'building' AS kind, b.zddm || 'F' || b.zrzh AS code, b.jzwmc AS label, p.zl AS zl, "
                 "ST_AsBinary(ST_Envelope(b.geom)) AS wkb, {rank} AS rank "
                 "FROM building b JOIN parcel p ON p.id = b.parcel_id ")
_UNIT_HIT = ("SELECT 'unit' AS kind, u.bdcdyh AS code, coalesce(b.jzwmc || ' ', '') || u.shbw AS label, p.zl AS zl, "
             "ST_AsBinary(ST_Envelope(coalesce(u.geom, b.geom))) AS wkb, {rank} AS rank FROM unit u "
             # ``+``: no index on the join's unit side, so the planner starts from the units (code or 室号 index)
             "JOIN building b ON b.id = +u.building_id JOIN parcel p ON p.id = b.parcel_id ")


def _zl_index_filter(connection: Connection, words: list[str], params: dict) -> str:
    """On SQLite, the parcels whose 坐落 holds every word of three characters or more, from the trigram index
    (migration 0012), ahead of the ``LIKE`` that rechecks them; shorter words only the ``LIKE`` can test.
    PostgreSQL's planner takes its trigram index for the ``LIKE`` itself."""
    long_words = [w for w in words if len(w) >= 3]
    if connection.dialect.name != "sqlite" or not long_words:
        return ""
    params["zl_match"] = " ".join('"' + w.replace('"', '""') + '"' for w in long_words)  # phrases, all required
    return "p.id IN (SELECT rowid FROM parcel_zl_search WHERE parcel_zl_search MATCH :zl_match) AND "


def search_rows(connection: Connection, srid: int, text: str, limit: int = 20):
    """Parcels, buildings and units matching what a clerk typed (:func:`cadastre.core.search.parse_query`): a code
    or its start (a complete one: just its parcel or unit), every word in a parcel's 坐落 or a building's name, a
    room in the buildings those words name (or anywhere, typed alone). Exact matches first (``rank`` 0), then
    matches at the start (1), then the rest (2). Envelopes come in the storage CRS."""
    query = parse_query(text)
    params: dict = {"limit": int(limit), "srid": srid}
    parts: list[tuple[str, bool]] = []  # (a SELECT of hits, whether its rank varies: then its best come first)
    if query.code:
        code = query.code
        params["code"] = code
        if query.exact and len(code) == 28:
            parts.append((_UNIT_HIT.format(rank="0") + "WHERE u.valid_to IS NULL AND u.bdcdyh = :code", False))
        elif query.exact:
            parts.append((_PARCEL_HIT.format(rank="0") + "WHERE p.valid_to IS NULL AND p.zddm = :code", False))
        else:  # code prefixes as key ranges, which the code indexes serve
            params["lo"], params["hi"] = prefix_range(code[:19])
            parts.append((_PARCEL_HIT.format(rank="CASE WHEN p.zddm = :code THEN 0 ELSE 1 END")
                          + "WHERE p.valid_to IS NULL AND p.zddm >= :lo AND p.zddm < :hi", True))
            if len(code) > 19:
                params["building"] = code[:24]
                params["unit_lo"], params["unit_hi"] = prefix_range(code)
                parts.append((_BUILDING_HIT.format(rank="CASE WHEN length(:code) = 24 THEN 0 ELSE 1 END")
                              + "WHERE b.valid_to IS NULL AND b.zddm = substr(:building, 1, 19) "
                                "AND b.zrzh = substr(:building, 21, 4)", False))
                parts.append((_UNIT_HIT.format(rank="1") + "WHERE u.valid_to IS NULL AND u.bdcdyh >= :unit_lo "
                                                           "AND u.bdcdyh < :unit_hi", False))
    else:
        params["text"] = " ".join(query.words)
        zl = " AND ".join(f"p.zl LIKE :w{i} {LIKE_ESCAPE}" for i in range(len(query.words))) or "1 = 1"
        name = " AND ".join(f"b.jzwmc LIKE :w{i} {LIKE_ESCAPE}" for i in range(len(query.words))) or "1 = 1"
        params.update({f"w{i}": f"%{like_literal(w)}%" for i, w in enumerate(query.words)})
        params["start"] = like_literal(params["text"]) + "%"
        rank = "CASE WHEN {c} = :text THEN 0 WHEN {c} LIKE :start " + LIKE_ESCAPE + " THEN 1 ELSE 2 END"
        if query.room is None:
            indexed = _zl_index_filter(connection, query.words, params)
            parts.append((_PARCEL_HIT.format(rank=rank.format(c="p.zl")) + f"WHERE p.valid_to IS NULL AND {indexed}{zl}",
                          True))
            parts.append((_BUILDING_HIT.format(rank=rank.format(c="b.jzwmc")) + f"WHERE b.valid_to IS NULL AND {name}",
                          True))
        else:
            labels, plain = room_labels(query)
            params["labels"], params["plain"], params["unit"] = labels, plain or [""], query.unit or ""
            params["any_label"] = labels + plain
            # every label first, alone, so that the 室号 index drives (an OR hides it: SQLite then read all 10^4
            # buildings' units for a room none has, 170 ms); the OR then keeps a bare room in the typed 单元 only
            room = "u.shbw IN :any_label AND (u.shbw IN :labels OR (u.dyh = :unit AND u.shbw IN :plain))"
            where = f"WHERE u.valid_to IS NULL AND {room}"
            if query.words:  # the room in the buildings (or on the parcels) the words name
                where += f" AND (({name}) OR ({zl}))"
            parts.append((_UNIT_HIT.format(rank="0" if query.words else "1") + where, False))
    # each part stops at the limit; a part whose rank varies keeps its best first, one of a single rank needs no sort
    # (a room typed alone — one in every building of the county — then stops at the first matches: 49 → 11 ms)
    sql = " UNION ALL ".join(f"SELECT * FROM ({part}{' ORDER BY rank' if ordered else ''} LIMIT :limit) s{i}"
                             for i, (part, ordered) in enumerate(parts))
    statement = sa.text(f"SELECT * FROM ({sql}) hits ORDER BY rank, CASE kind WHEN 'parcel' THEN 0 WHEN 'building' "
                        "THEN 1 ELSE 2 END, code LIMIT :limit")
    for name in ("labels", "plain", "any_label"):
        if name in params:
            statement = statement.bindparams(sa.bindparam(name, expanding=True))
    return read_frame(connection, statement, params, srid=srid)
