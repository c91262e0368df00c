"""What ``cadastre verify`` reads: every original, every issued code and where it is used, the counters, the current
parcels, and how many rows each accepted package left. The checks themselves are :mod:`cadastre.qa.integrity`."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.store.spatial import query_frame, read_frame

__all__ = ["original_rows", "issued_codes", "code_uses", "counters", "current_parcel_shapes", "package_rows"]


def original_rows(connection: Connection) -> pd.DataFrame:
    """Originals whose bytes should be in the store: sha256, path (relative to the store), size."""
    return query_frame(connection, "SELECT sha256, path, size FROM original WHERE purged_at IS NULL ORDER BY sha256")


def issued_codes(connection: Connection) -> pd.DataFrame:
    """Every code ever issued: code, kind, retired (bool), baseline (bool: issued by a lot of the county's existing
    registry, whose old history was not imported)."""
    return query_frame(connection, "SELECT i.code, i.kind, i.retired_at IS NOT NULL AS retired, "
                                   "coalesce(p.stage = 'baseline', false) AS baseline FROM issued_code i "
                                   "LEFT JOIN package p ON p.id = i.package_id")


def code_uses(connection: Connection) -> pd.DataFrame:
    """Every row that carries a code: code, current (bool), land (bool). A parcel row carries its 宗地代码 and the
    code its land unit got (``land``: kept on the row when buildings later retire that code); a unit row its
    不动产单元代码."""
    return query_frame(connection, """
        SELECT zddm AS code, valid_to IS NULL AS current, 0 AS land FROM parcel
        UNION ALL SELECT bdcdyh, valid_to IS NULL, 1 FROM parcel WHERE bdcdyh IS NOT NULL
        UNION ALL SELECT bdcdyh, valid_to IS NULL, 0 FROM unit""")


def counters(connection: Connection) -> dict[str, int]:
    return {prefix: int(value) for prefix, value in connection.execute(
        sa.text("SELECT prefix, last_value FROM code_counter"))}


def current_parcel_shapes(connection: Connection, srid: int):
    """The current parcels: zddm, qlsdfs, baseline (bool: from a lot of the county's existing registry) and geometry
    (storage CRS)."""
    return read_frame(connection, "SELECT t.zddm, t.qlsdfs, coalesce(p.stage = 'baseline', false) AS baseline, "
                                  "ST_AsBinary(t.geom) AS wkb FROM parcel t JOIN package p ON p.id = t.package_id "
                                  "WHERE t.valid_to IS NULL", srid=srid)


def package_rows(connection: Connection) -> pd.DataFrame:
    """Each accepted package: id, stage, and how many parcel, building and unit rows (current or not) it left."""
    return query_frame(connection, """
        SELECT p.id, p.stage,
               (SELECT count(*) FROM parcel t WHERE t.package_id = p.id) AS parcels,
               (SELECT count(*) FROM building t WHERE t.package_id = p.id) AS buildings,
               (SELECT count(*) FROM unit t WHERE t.package_id = p.id) AS units
        FROM package p WHERE p.status = 'accepted' ORDER BY p.id""")
