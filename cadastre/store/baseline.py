"""The county's existing registry in the database: what the registry knows about a lot's codes, the codes it
issued (retired ones included), the high-water marks past them, and the 地籍子区 the lots have covered."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.errors import AllocationError
from cadastre.core.model import BaselineFacts
from cadastre.store.bulk import insert_columns
from cadastre.store.context import parcels_near
from cadastre.store.counters import scope_maximum
from cadastre.store.models import Package
from cadastre.store.registry_rows import current_parcels
from cadastre.store.spatial import result_frame
from cadastre.store.zoning import current_zoning

__all__ = ["baseline_facts", "issue_baseline_codes", "raise_marks", "cover_subdistricts", "covered_subdistricts",
           "baseline_lots", "lot_codes"]

_TS = sa.DateTime(timezone=True)
_CHUNK = 10_000


def lot_codes(package) -> list[str]:
    """Every code a lot carries: 宗地代码 and land codes of its parcels, its units' codes, its DYDM table."""
    out: list[np.ndarray] = []
    for layer, columns in (("ZDJBXX", ("ZDDM", "BDCDYH")), ("H", ("BDCDYH",)), ("DYDM", ("BDCDYH",))):
        frame = package.layers.get(layer)
        for column in columns:
            if frame is not None and column in frame:
                out.append(frame[column].astype("str").str.strip().dropna().to_numpy(object))
    return list(pd.unique(np.concatenate(out))) if out else []


def issued_among(connection: Connection, codes: list[str]) -> pd.DataFrame:
    """The codes among ``codes`` the registry has issued: code, kind, retired, package_id, stage, filename,
    issued_at — through the primary key, on PostgreSQL with the codes as one array parameter, on SQLite 10 000 at
    a time."""
    select = ("SELECT i.code, i.kind, i.retired_at IS NOT NULL AS retired, i.package_id, p.stage, p.filename, "
              "i.issued_at FROM issued_code i LEFT JOIN package p ON p.id = i.package_id ")
    if connection.dialect.name == "postgresql":
        batches = [(sa.text(select + "WHERE i.code = ANY(CAST(:codes AS text[]))"), codes)] if codes else []
    else:
        query = sa.text(select + "WHERE i.code IN :codes").bindparams(sa.bindparam("codes", expanding=True))
        batches = [(query, codes[i:i + _CHUNK]) for i in range(0, len(codes), _CHUNK)]
    frames = [f for f in (result_frame(connection.execute(q, {"codes": part})) for q, part in batches) if len(f)]
    if not frames:
        return pd.DataFrame(columns=["code", "kind", "retired", "package_id", "stage", "filename", "issued_at"])
    out = pd.concat(frames, ignore_index=True)
    out["retired"] = out["retired"].astype(bool)
    return out


def baseline_facts(connection: Connection, srid: int, package) -> BaselineFacts:
    """What :func:`cadastre.qa.baseline.check_baseline_against_registry` needs, read in the caller's transaction
    (under the county's lock when importing)."""
    buildings = package.layers.get("ZRZ")
    parcels = package.layers.get("ZDJBXX")
    named = set() if buildings is None else set(buildings["ZDDM"].astype("str").dropna())
    named -= set() if parcels is None else set(parcels["ZDDM"].astype("str").dropna())
    registered = frozenset(current_parcels(connection, sorted(named), srid)["zddm"]) if named else frozenset()
    zones = current_zoning(connection, srid, [package.county.code]).subdistricts
    return BaselineFacts(issued_among(connection, lot_codes(package)), registered, None if zones.empty else zones,
                         parcels_near(connection, srid, package))


def issue_baseline_codes(connection: Connection, codes: pd.DataFrame, package_id: int, now: datetime) -> None:
    """Record the old registry's codes as issued by lot ``package_id``: ``codes`` has code, kind (parcel | unit) and
    retired (bool; retired ones are recorded retired now, with the reason that the old system retired them). The
    primary key refuses a code issued before."""
    if codes.empty:
        return
    retired = codes["retired"].to_numpy(bool)
    n = len(codes)
    try:  # a county's codes are half a million rows and more: one bulk statement (COPY on PostgreSQL)
        insert_columns(connection, "issued_code", {
            "code": codes["code"].to_numpy(object), "kind": codes["kind"].to_numpy(object),
            "issued_at": np.full(n, now, dtype=object), "package_id": np.full(n, package_id, dtype=np.int64),
            "retired_at": np.where(retired, now, None),
            "retired_reason": np.where(retired, "原系统中已注销（存量数据导入）", None)})
    except sa.exc.IntegrityError:
        raise AllocationError("存量数据中有登记库已发放过的代码（代码不得重复）",
                              "a code of the baseline was issued before") from None


def raise_marks(connection: Connection, marks: dict[str, int]) -> None:
    """Raise every scope's high-water mark to at least its value in ``marks``, in one bulk upsert."""
    if not marks:
        return
    for prefix, value in marks.items():
        if value > max(scope_maximum(prefix), 9_999):
            raise AllocationError(f"编号 {value} 超出范围 {prefix}", f"number {value} outside scope {prefix}")
    greatest = "max" if connection.dialect.name == "sqlite" else "GREATEST"
    connection.execute(
        sa.text("INSERT INTO code_counter (prefix, last_value, updated_at) VALUES (:prefix, :v, :now) "
                f"ON CONFLICT (prefix) DO UPDATE SET last_value = {greatest}(code_counter.last_value, "
                "excluded.last_value), updated_at = excluded.updated_at").bindparams(sa.bindparam("now", type_=_TS)),
        [{"prefix": prefix, "v": value, "now": datetime.now(UTC)} for prefix, value in marks.items()])


def cover_subdistricts(connection: Connection, djzqdm: list[str], how: str, now: datetime, *,
                       package_id: int | None = None, declared_by: str | None = None,
                       reason: str | None = None) -> None:
    if djzqdm:
        connection.execute(sa.text(
            "INSERT INTO baseline_coverage (djzqdm, how, package_id, declared_by, reason, created_at) "
            "VALUES (:d, :how, :p, :by, :reason, :now)").bindparams(sa.bindparam("now", type_=_TS)),
            [{"d": d, "how": how, "p": package_id, "by": declared_by, "reason": reason, "now": now} for d in djzqdm])


def covered_subdistricts(connection: Connection, djzqdm: list[str]) -> set[str]:
    """The sub-districts among ``djzqdm`` whose earlier codes the registry knows (imported or declared empty)."""
    if not djzqdm:
        return set()
    return set(connection.execute(sa.text("SELECT DISTINCT djzqdm FROM baseline_coverage WHERE djzqdm IN :d")
                                  .bindparams(sa.bindparam("d", expanding=True)), {"d": list(djzqdm)}).scalars())


def baseline_lots(connection: Connection) -> pd.DataFrame:
    """Every baseline lot: id, filename, sha256, status, received_at, decided_at, and what it imported."""
    rows = connection.execute(sa.select(Package.id, Package.filename, Package.sha256, Package.status,
                                        Package.received_at, Package.decided_at, Package.report)
                              .where(Package.stage == "baseline").order_by(Package.id)).all()
    columns = ["id", "filename", "sha256", "status", "received_at", "decided_at"]
    frame = pd.DataFrame([row[:6] for row in rows], columns=columns)
    reports = [row.report if isinstance(row.report, dict) else {} for row in rows]
    for key in ("parcels", "buildings", "units", "issued_codes"):
        frame[key] = [int((r.get("imported") or {}).get(key, 0)) for r in reports]
    frame["subdistricts"] = [", ".join(r.get("subdistricts") or []) for r in reports]
    return frame
