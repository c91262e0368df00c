"""Read queries behind lookups: a building with its floors and units, a parcel with its buildings and history."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.errors import NotFoundError
from cadastre.store.models import Package

__all__ = ["building_rows", "parcel_rows"]


def _frame(connection: Connection, sql: str, **params) -> pd.DataFrame:
    result = connection.execute(sa.text(sql), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def building_rows(connection: Connection, building_code: str) -> dict[str, pd.DataFrame]:
    """The current building ``building_code`` (宗地代码 + F + 幢号) with its parcel, floors, units and package."""
    zddm, zrzh = building_code[:19], building_code[20:]
    building = _frame(connection, "SELECT b.*, p.zl, p.qllx, pk.status AS package_status, pk.id AS pkg "
                                  "FROM building b JOIN parcel p ON p.id = b.parcel_id "
                                  "JOIN package pk ON pk.id = b.package_id "
                                  "WHERE b.valid_to IS NULL AND b.zddm = :z AND b.zrzh = :h", z=zddm, h=zrzh)
    if building.empty:
        raise NotFoundError(f"没有现势自然幢 {building_code}", f"no current building {building_code}")
    building_id = int(building["id"].iat[0])
    units = _frame(connection, "SELECT u.*, i.retired_at FROM unit u LEFT JOIN issued_code i ON i.code = u.bdcdyh "
                               "WHERE u.valid_to IS NULL AND u.building_id = :b", b=building_id)
    floors = _frame(connection, "SELECT sjc, myc, cg FROM floor WHERE valid_to IS NULL AND building_id = :b", b=building_id)
    package_id = int(building["package_id"].iat[0])
    findings = _frame(connection, "SELECT f.rule, f.severity, f.feature, f.message FROM finding f "
                                  "LEFT JOIN waiver w ON w.finding_id = f.id "
                                  "WHERE f.package_id = :p AND f.severity = 'error' AND w.id IS NULL", p=package_id)
    report = connection.execute(sa.select(Package.report).where(Package.id == package_id)).scalar_one() or {}
    return {"building": building, "units": units, "floors": floors, "open_errors": findings,
            "indicators": pd.DataFrame(report.get("indicators") or [],
                                       columns=["indicator", "subject", "status", "reason", "rule"])}


def parcel_rows(connection: Connection, zddm: str) -> dict[str, pd.DataFrame]:
    """Every version of parcel ``zddm``, its current buildings with unit counts, and the lineage of its codes."""
    versions = _frame(connection, "SELECT p.id, p.zddm, p.bdcdyh, p.zl, p.zdmj, p.yt, p.qllx, p.qlxz, p.qlsdfs, "
                                  "ST_Area(p.geom) AS area, p.valid_from, p.valid_to, p.end_reason, p.package_id, "
                                  "pk.status AS package_status FROM parcel p JOIN package pk ON pk.id = p.package_id "
                                  "WHERE p.zddm = :z ORDER BY p.valid_from", z=zddm)
    lineage = _frame(connection, "SELECT old_code, new_code, reason, package_id, created_at FROM code_lineage "
                                 "WHERE old_code LIKE :p OR new_code LIKE :p ORDER BY created_at, id", p=zddm + "%")
    if versions.empty and lineage.empty:
        raise NotFoundError(f"没有宗地 {zddm}", f"no parcel {zddm}")
    buildings = _frame(connection, "SELECT b.zrzh, b.jzwmc, b.stage, b.package_id, count(u.id) AS units "
                                   "FROM building b LEFT JOIN unit u ON u.building_id = b.id AND u.valid_to IS NULL "
                                   "WHERE b.valid_to IS NULL AND b.zddm = :z GROUP BY b.id, b.zrzh, b.jzwmc, b.stage, "
                                   "b.package_id ORDER BY b.zrzh", z=zddm)
    land = _frame(connection, "SELECT code, issued_at, retired_at, retired_reason FROM issued_code WHERE code = :c",
                  c=f"{zddm}W00000000")
    open_errors = _frame(connection, "SELECT count(*) AS n FROM finding f LEFT JOIN waiver w ON w.finding_id = f.id "
                                     "WHERE f.severity = 'error' AND w.id IS NULL AND f.package_id IN "
                                     "(SELECT package_id FROM parcel WHERE zddm = :z)", z=zddm)
    return {"versions": versions, "lineage": lineage, "buildings": buildings, "land_code": land,
            "open_errors": open_errors}
