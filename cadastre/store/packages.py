"""Stored packages, their findings, and waivers.

A package is stored once with its report and findings (``save_package``); its status moves forward only. A waiver
is a staff decision, by name and with a reason, to accept one finding as an exception: waivers are appended, never
edited or deleted, and a waived error no longer blocks acceptance (:func:`blocking_findings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.errors import InputError, NotFoundError
from cadastre.rules import PLANNING_PREFIX
from cadastre.store.models import Finding, Package, Waiver
from cadastre.store.originals import StoredOriginal

__all__ = ["WaiverRecord", "save_package", "package_findings", "blocking_findings", "add_waiver"]


@dataclass(frozen=True)
class WaiverRecord:
    id: int
    package_id: int
    finding_id: int
    rule: str
    feature: str | None
    waived_by: str
    reason: str
    created_at: datetime


def _clean(value):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return value


def save_package(connection: Connection, original: StoredOriginal, report, status: str,
                 submitted_by: str | None = None) -> int:
    """Store a checked package (its report and every finding) and return its id."""
    now = datetime.now(UTC)
    p = report.package
    manifest = p.get("manifest") or {}
    package_id = connection.execute(sa.insert(Package).values(
        sha256=original.sha256, county=p.get("county_code"), stage=p.get("stage"), status=status,
        project_name=manifest.get("project_name"), surveyor=manifest.get("surveyor"),
        survey_date=manifest.get("survey_date"), permit_number=manifest.get("permit_number"),
        parcel_code=manifest.get("parcel_code"), manifest=manifest or None, report=report.to_dict(),
        submitted_by=submitted_by, received_at=now, decided_at=now,
    ).returning(Package.id)).scalar_one()
    rows = [
        {"package_id": package_id, "rule": f["rule"], "severity": f["severity"], "layer": f["layer"],
         "feature": _clean(f["feature"]), "message": f["message"], "lon": _clean(f["lon"]), "lat": _clean(f["lat"]),
         "measured": _clean(f["measured"]), "limit": _clean(f["limit"]),
         "figures": f["figures"] if isinstance(f["figures"], dict) and f["figures"] else None}
        for f in report.findings.to_dict("records")
    ]
    if rows:
        connection.execute(sa.insert(Finding), rows)
    return package_id


def package_findings(connection: Connection, package_id: int) -> pd.DataFrame:
    """The findings of a stored package, with ``waived_by`` / ``waiver_reason`` where a waiver exists."""
    if connection.execute(sa.select(Package.id).where(Package.id == package_id)).first() is None:
        raise NotFoundError(f"成果包 {package_id} 不存在", f"package {package_id} does not exist")
    query = (sa.select(Finding.id, Finding.rule, Finding.severity, Finding.layer, Finding.feature, Finding.message,
                       Finding.lon, Finding.lat, Finding.measured, Finding.limit, Waiver.waived_by,
                       Waiver.reason.label("waiver_reason"), Waiver.created_at.label("waived_at"))
             .outerjoin(Waiver, Waiver.finding_id == Finding.id)
             .where(Finding.package_id == package_id).order_by(Finding.id))
    result = connection.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def blocking_findings(connection: Connection, package_id: int) -> pd.DataFrame:
    """Errors of a stored package that no waiver covers and that stop acceptance: all but planning (PLN) errors,
    which block a building's readiness for 首次登记 instead."""
    findings = package_findings(connection, package_id)
    return findings[(findings["severity"] == "error") & findings["waived_by"].isna()
                    & ~findings["rule"].str.startswith(PLANNING_PREFIX)]


def add_waiver(connection: Connection, package_id: int, rule: str, feature: str | None, waived_by: str,
               reason: str) -> WaiverRecord:
    """Waive the finding ``rule`` / ``feature`` of a stored package. Names, reasons and the finding must exist;
    a finding is waived at most once (a waiver is never edited)."""
    if not (waived_by or "").strip():
        raise InputError("豁免必须写明豁免人", "a waiver needs the name of who gives it")
    if not (reason or "").strip():
        raise InputError("豁免必须写明理由", "a waiver needs a reason")
    findings = package_findings(connection, package_id)
    match = findings[(findings["rule"] == rule) & (
        findings["feature"].isna() if feature is None else findings["feature"] == feature)]
    if match.empty:
        raise NotFoundError(f"成果包 {package_id} 中没有规则 {rule}、要素 {feature or '（无）'} 的问题",
                            f"package {package_id} has no finding {rule} / {feature}")
    open_ = match[match["waived_by"].isna()]
    if open_.empty:
        first = match.iloc[0]
        raise InputError(f"该问题已于 {first['waived_at']} 由 {first['waived_by']} 豁免（理由：{first['waiver_reason']}），"
                         "豁免记录不可修改", f"already waived by {first['waived_by']}")
    finding_id = int(open_["id"].iat[0])
    now = datetime.now(UTC)
    waiver_id = connection.execute(sa.insert(Waiver).values(
        finding_id=finding_id, waived_by=waived_by.strip(), reason=reason.strip(), created_at=now,
    ).returning(Waiver.id)).scalar_one()
    return WaiverRecord(waiver_id, package_id, finding_id, rule, feature, waived_by.strip(), reason.strip(), now)
