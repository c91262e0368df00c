"""Storing and reading cadastral zoning.

A zoning import replaces the current zoning of the counties it covers: unchanged polygons stay as they are,
changed ones are ended (``valid_to``) and inserted anew, and codes absent from the import are ended, unless current
parcels still lie in them (then the import is refused, naming the codes). Everything happens in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.codes import prefix_range
from cadastre.core.errors import ZoningError
from cadastre.core.findings import Finding
from cadastre.core.model import Zoning
from cadastre.store.originals import StoredOriginal
from cadastre.store.spatial import geometry_param, index_filter, read_frame, to_wkb

__all__ = ["ZoningImportResult", "current_zoning", "save_zoning", "subdistricts_at"]

_TABLES = {
    # table, code column, name column, extra columns
    "district": ("cadastral_district", "djqdm", "djqmc", ()),
    "subdistrict": ("cadastral_subdistrict", "djzqdm", "djzqmc", ("djqdm",)),
}


@dataclass(frozen=True)
class ZoningImportResult:
    import_id: int
    status: str  # applied | unchanged
    added: list[str]
    changed: list[str]
    ended: list[str]
    unchanged: int
    sha256: str


def current_zoning(connection: Connection, srid: int, counties: list[str] | None = None) -> Zoning:
    """The current 地籍区 and 地籍子区 (optionally of some counties only)."""
    frames = {}
    for kind, (table, code, name, extra) in _TABLES.items():
        columns = ", ".join([code, *extra, name, "county"])
        sql = sa.text(f"SELECT {columns}, ST_AsBinary(geom) AS wkb FROM {table} WHERE valid_to IS NULL"
                      + (" AND county IN :counties" if counties else "") + f" ORDER BY {code}")
        params = {}
        if counties:
            sql = sql.bindparams(sa.bindparam("counties", expanding=True))
            params["counties"] = list(counties)
        frames[kind] = read_frame(connection, sql, params, srid=srid)
    return Zoning(frames["district"], frames["subdistrict"])


def subdistricts_at(connection: Connection, srid: int, geometry) -> list[str]:
    """Codes of the current 地籍子区 that intersect ``geometry`` (through the spatial index)."""
    frame = geometry_param("wkb", "srid")
    sql = (f"SELECT s.djzqdm FROM cadastral_subdistrict s WHERE s.valid_to IS NULL "
           f"AND {index_filter(connection, 'cadastral_subdistrict', 's', frame)} "
           f"AND ST_Intersects(s.geom, {frame}) ORDER BY s.djzqdm")
    rows = connection.execute(sa.text(sql), {"wkb": to_wkb([geometry])[0], "srid": srid})
    return [r[0] for r in rows]


def _same(old_geoms: np.ndarray, new_geoms: np.ndarray) -> np.ndarray:
    # stored geometries went through WKB; compare normalised shapes with a sub-millimetre tolerance
    return shapely.equals_exact(shapely.normalize(old_geoms), shapely.normalize(new_geoms), tolerance=1e-4)


def save_zoning(connection: Connection, zoning: Zoning, original: StoredOriginal, srid: int,
                imported_by: str | None = None) -> ZoningImportResult:
    """Apply validated ``zoning`` inside the caller's transaction; see the module docstring."""
    now = datetime.now(UTC)
    counties = zoning.counties
    current = current_zoning(connection, srid, counties)
    plan = {}
    for kind, (_table, code, name, _extra) in _TABLES.items():
        new = getattr(zoning, kind + "s").set_index(code)
        old = getattr(current, kind + "s").set_index(code)
        common = new.index.intersection(old.index)
        same_geom = _same(np.asarray(old.geometry.loc[common].values, dtype=object),
                          np.asarray(new.geometry.loc[common].values, dtype=object))
        same_name = (old[name].loc[common].fillna("").to_numpy() == new[name].loc[common].fillna("").to_numpy())
        unchanged = common[same_geom & same_name]
        plan[kind] = {
            "added": sorted(new.index.difference(old.index)),
            "changed": sorted(common.difference(unchanged)),
            "ended": sorted(old.index.difference(new.index)),
            "unchanged": len(unchanged),
            "new": new,
        }
    _refuse_ending_used(connection, plan["subdistrict"]["ended"], plan["district"]["ended"])
    status = "unchanged" if not any(p["added"] or p["changed"] or p["ended"] for p in plan.values()) else "applied"
    summary = {kind: {k: v for k, v in p.items() if k != "new"} for kind, p in plan.items()}
    import_id = connection.execute(
        sa.text("INSERT INTO zoning_import (sha256, imported_at, imported_by, status, summary) "
                "VALUES (:sha, :now, :by, :status, :summary) RETURNING id").bindparams(
            sa.bindparam("summary", type_=sa.JSON), sa.bindparam("now", type_=sa.DateTime(timezone=True))),
        {"sha": original.sha256, "now": now, "by": imported_by, "status": status, "summary": summary},
    ).scalar_one()
    for kind, (table, code, name, extra) in _TABLES.items():
        p = plan[kind]
        ending = p["changed"] + p["ended"]
        if ending:
            reason = f"zoning import {import_id}"
            connection.execute(
                sa.text(f"UPDATE {table} SET valid_to = :now, end_reason = :reason "
                        f"WHERE valid_to IS NULL AND {code} IN :codes").bindparams(
                    sa.bindparam("codes", expanding=True), sa.bindparam("now", type_=sa.DateTime(timezone=True))),
                {"now": now, "reason": reason + (" (removed)" if not p["changed"] else ""), "codes": ending},
            )
        inserting = p["added"] + p["changed"]
        if inserting:
            rows = p["new"].loc[inserting]
            wkb = to_wkb(rows.geometry.values)
            columns = [code, *extra, name, "county"]
            values = [
                {**{c: (rows.index[i] if c == code else rows[c].iat[i]) for c in columns},
                 "wkb": wkb[i], "srid": srid, "now": now, "import_id": import_id}
                for i in range(len(rows))
            ]
            connection.execute(
                sa.text(f"INSERT INTO {table} ({', '.join(columns)}, geom, zoning_import_id, valid_from) "
                        f"VALUES ({', '.join(':' + c for c in columns)}, {geometry_param(multi=True)}, "
                        f":import_id, :now)").bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True))),
                values,
            )
    sub = plan["subdistrict"]
    dis = plan["district"]
    return ZoningImportResult(import_id, status, dis["added"] + sub["added"], dis["changed"] + sub["changed"],
                              dis["ended"] + sub["ended"], dis["unchanged"] + sub["unchanged"], original.sha256)


def _refuse_ending_used(connection: Connection, subdistricts: list[str], districts: list[str]) -> None:
    prefixes = subdistricts + districts
    if not prefixes:
        return
    used = []
    for prefix in prefixes:
        n = connection.execute(sa.text("SELECT count(*) FROM parcel WHERE valid_to IS NULL AND zddm >= :lo "
                                       "AND zddm < :hi"), dict(zip(("lo", "hi"), prefix_range(prefix), strict=True))).scalar_one()
        if n:
            used.append((prefix, n))
    if used:
        findings = [Finding("ZON-009", "error", "DJZQ" if len(p) == 12 else "DJQ", p,
                            f"{'地籍子区' if len(p) == 12 else '地籍区'} {p} 内仍有 {n} 宗现势宗地，不能从地籍区划中删除")
                    for p, n in used]
        raise ZoningError("地籍区划导入被拒绝：要删除的区划内仍有现势宗地", "zoning import would end zones still in use",
                          findings)
