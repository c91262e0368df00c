"""Stored packages, their findings, waivers, and the progress of packages being processed.

A package is stored once with its report and findings (``save_package``); its status moves forward only. The
service first *receives* a package (``receive_package``: status ``received``, the original kept, a progress row)
and answers at once; a worker *claims* it (:func:`claim_package`, so only one process works on it, and keeps the
claim alive with :func:`heartbeat`), reports its progress (:func:`set_progress`) and finally saves its report into
the same row; a failed attempt lets the package go (:func:`release_package`) to be tried again later. A waiver
is a staff decision, by name and with a reason, to accept one finding as an exception: waivers are appended, never
edited or deleted, and a waived error no longer blocks acceptance (:func:`blocking_findings`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core import findings as fnd
from cadastre.core import jsontext
from cadastre.core.catalogue import PLANNING_PREFIX
from cadastre.core.errors import ConflictError, InputError, NotFoundError
from cadastre.store.bulk import insert_columns
from cadastre.store.models import Finding, Original, Package, PackageProgress, Waiver
from cadastre.store.originals import StoredOriginal
from cadastre.store.spatial import aware, result_frame, utc_times

__all__ = ["WaiverRecord", "save_package", "add_findings", "package_findings", "findings_across", "package_summaries",
           "blocking_findings", "add_waiver",
           "receive_package", "accept_package", "package_by_checksum", "uploaded_bytes", "claims", "claim_package", "heartbeat", "set_progress", "release_package",
           "package_state", "package_list", "report_summary"]


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


def save_package(connection: Connection, original: StoredOriginal | None, report, status: str,
                 submitted_by: str | None = None, *, package_id: int | None = None) -> int:
    """Store a checked package (its report and every finding) and return its id: a new row, or the row of the
    received package ``package_id``, which moves from ``received`` to ``status``."""
    now = datetime.now(UTC)
    p = report.package
    manifest = p.get("manifest") or {}
    values = dict(
        county=p.get("county_code"), stage=p.get("stage"), status=status,
        project_name=manifest.get("project_name"), surveyor=manifest.get("surveyor"),
        survey_date=manifest.get("survey_date"), permit_number=manifest.get("permit_number"),
        parcel_code=manifest.get("parcel_code"), manifest=manifest or None, report=report.to_dict(), decided_at=now)
    if package_id is None:
        package_id = connection.execute(sa.insert(Package).values(
            sha256=original.sha256, filename=original.filename, submitted_by=submitted_by, received_at=now, **values,
        ).returning(Package.id)).scalar_one()
    else:
        moved = connection.execute(sa.update(Package).where(Package.id == package_id, Package.status == "received")
                                   .values(**values)).rowcount
        if moved != 1:
            raise ConflictError(f"成果包 {package_id} 已处理过，不能再次保存结果",
                                f"package {package_id} is no longer in status received")
    add_findings(connection, package_id, report.findings)
    return package_id


def add_findings(connection: Connection, package_id: int, findings: pd.DataFrame) -> None:
    """Store findings (a findings frame) of package ``package_id``, column by column in one bulk statement (a
    county's baseline may carry 60 000 warnings)."""
    if findings.empty:
        return
    columns = fnd.plain_columns(findings, finite=True)
    columns["figures"] = [f if isinstance(f, dict) and f else None for f in columns["figures"]]
    insert_columns(connection, "finding", {"package_id": [package_id] * len(findings), **columns})


def package_findings(connection: Connection, package_id: int) -> pd.DataFrame:
    """The findings of a stored package, with ``waived_by`` / ``waiver_reason`` where a waiver exists."""
    if connection.execute(sa.select(Package.id).where(Package.id == package_id)).first() is None:
        raise NotFoundError(f"成果包 {package_id} 不存在", f"package {package_id} does not exist")
    query = (sa.select(Finding.id, Finding.rule, Finding.severity, Finding.layer, Finding.feature, Finding.message,
                       Finding.lon, Finding.lat, Finding.measured, Finding.limit, Waiver.waived_by,
                       Waiver.reason.label("waiver_reason"), Waiver.created_at.label("waived_at"))
             .outerjoin(Waiver, Waiver.finding_id == Finding.id)
             .where(Finding.package_id == package_id).order_by(Finding.id))
    return result_frame(connection.execute(query))


def findings_across(connection: Connection, *, package_id: int | None = None, rule: str | None = None,
                    severity: str | None = None, stage: str | None = None, status: str | None = None,
                    surveyor: str | None = None, since: datetime | None = None,
                    until: datetime | None = None) -> pd.DataFrame:
    """Findings of every stored package matching the filters (``rule`` may be a prefix such as ``GEO``), each
    with its package's stage, status, surveying firm and times and its waiver if any; oldest package first.
    A ``package_id`` that does not exist is a :class:`NotFoundError`."""
    if package_id is not None and connection.execute(
            sa.select(Package.id).where(Package.id == package_id)).first() is None:
        raise NotFoundError(f"成果包 {package_id} 不存在", f"package {package_id} does not exist")
    query = (sa.select(Finding.id, Finding.package_id, Finding.rule, Finding.severity, Finding.layer,
                       Finding.feature, Finding.message, Finding.lon, Finding.lat, Finding.measured, Finding.limit,
                       Waiver.waived_by, Waiver.reason.label("waiver_reason"), Waiver.created_at.label("waived_at"),
                       Package.stage, Package.status, Package.surveyor, Package.project_name, Package.submitted_by,
                       Package.received_at)
             .join(Package, Package.id == Finding.package_id)
             .outerjoin(Waiver, Waiver.finding_id == Finding.id)
             .order_by(Package.received_at, Finding.id))
    if package_id is not None:
        query = query.where(Finding.package_id == package_id)
    if rule:
        query = query.where(sa.or_(Finding.rule == rule, Finding.rule.startswith(rule.rstrip("-") + "-", autoescape=True)))
    if severity is not None:
        query = query.where(Finding.severity == severity)
    query = _packages_where(query, stage=stage, status=status, surveyor=surveyor, since=since, until=until)
    return utc_times(result_frame(connection.execute(query)), "received_at", "waived_at")


def package_summaries(connection: Connection, *, stage: str | None = None, status: str | None = None,
                      surveyor: str | None = None, since: datetime | None = None,
                      until: datetime | None = None) -> pd.DataFrame:
    """One row per stored package (oldest first) with its counts of errors, warnings and notes and of waivers."""
    counts = (sa.select(Finding.package_id,
                        *(sa.func.sum(sa.case((Finding.severity == s, 1), else_=0)).label(f"{s}s")
                          for s in ("error", "warning", "info")),
                        sa.func.count(Waiver.id).label("waived"))
              .outerjoin(Waiver, Waiver.finding_id == Finding.id)
              .group_by(Finding.package_id).subquery())
    query = (sa.select(Package.id, Package.county, Package.stage, Package.status, Package.project_name,
                       Package.surveyor, Package.survey_date, Package.permit_number, Package.parcel_code,
                       Package.submitted_by, Package.filename, Package.received_at, Package.decided_at,
                       *(sa.func.coalesce(counts.c[c], 0).label(c) for c in ("errors", "warnings", "infos", "waived")))
             .outerjoin(counts, counts.c.package_id == Package.id).order_by(Package.received_at, Package.id))
    query = _packages_where(query, stage=stage, status=status, surveyor=surveyor, since=since, until=until)
    return utc_times(result_frame(connection.execute(query)), "received_at", "decided_at")


def _packages_where(query, *, stage, status, surveyor, since, until):
    """``query`` narrowed to packages of a stage, status and surveying firm, received in [since, until)."""
    for column, value in ((Package.stage, stage), (Package.status, status), (Package.surveyor, surveyor)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(Package.received_at >= since)
    if until is not None:
        query = query.where(Package.received_at < until)
    return query


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
        raise ConflictError(f"该问题已于 {first['waived_at']} 由 {first['waived_by']} 豁免（理由：{first['waiver_reason']}），"
                         "豁免记录不可修改", f"already waived by {first['waived_by']}")
    finding_id = int(open_["id"].iat[0])
    now = datetime.now(UTC)
    waiver_id = connection.execute(sa.insert(Waiver).values(
        finding_id=finding_id, waived_by=waived_by.strip(), reason=reason.strip(), created_at=now,
    ).returning(Waiver.id)).scalar_one()
    return WaiverRecord(waiver_id, package_id, finding_id, rule, feature, waived_by.strip(), reason.strip(), now)


# --------------------------------------------------------------------------------------- received packages, progress


@dataclass(frozen=True)
class PackageState:
    """A stored package as the service shows it: where it stands, and its report once it has one.

    Asked for its *summary*, ``report`` leaves out what grows with the package (``assigned``: a code per unit;
    ``comparison``: 预测/实测 per unit) and ``assigned_counts`` / ``comparison_summary`` say how many there are."""

    id: int
    status: str
    stage: str
    percent: float
    filename: str | None
    sha256: str
    size: int | None
    package_stage: str | None  # cadastral | presale | asbuilt, once read
    county: str | None
    project_name: str | None
    submitted_by: str | None
    received_at: datetime
    decided_at: datetime | None
    error: str | None
    attempts: int
    retry_at: datetime | None
    original_purged_at: datetime | None  # the bytes of a refused upload deleted after their retention period
    report: dict | None  # or, asked for embedded, its stored text for core.jsontext to write as it is
    assigned_counts: dict | None = None  # summary: {"parcels", "units", "retired"} coded / retired
    comparison_summary: dict | None = None  # summary, as built: {"units", "flagged", "added", "removed", "limit_percent"}

    @property
    def version(self) -> str:
        """Changes whenever anything but the report does (the report is written once, when the status changes):
        the state's ETag, for a client waiting for the next change."""
        fields = {k: getattr(self, k) for k in ("status", "stage", "percent", "error", "attempts", "retry_at",
                                                "decided_at", "original_purged_at")}
        return hashlib.blake2b(jsontext.dumps_bytes(fields), digest_size=8).hexdigest()

    def to_dict(self, *, report: bool = True) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__
               if k not in ("report", "assigned_counts", "comparison_summary")}
        out["version"] = self.version
        if report:
            out.update(report=self.report, assigned_counts=self.assigned_counts,
                       comparison_summary=self.comparison_summary)
        return out


def accept_package(connection: Connection, package_id: int, now: datetime, report: dict) -> None:
    """Mark a stored package accepted, with the report of what was coded."""
    connection.execute(sa.update(Package).where(Package.id == package_id).values(
        status="accepted", decided_at=now, report=report))


def package_by_checksum(connection: Connection, sha256: str):
    """The first package stored with these bytes (id, status, report), or None."""
    return connection.execute(sa.select(Package.id, Package.status, Package.report)
                              .where(Package.sha256 == sha256).order_by(Package.id)).first()


def uploaded_bytes(connection: Connection, submitted_by: str, since: datetime) -> tuple[int, datetime | None]:
    """Bytes of the packages ``submitted_by`` sent since ``since``, and when the oldest of them came."""
    used, oldest = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Original.size), 0), sa.func.min(Package.received_at))
        .join(Original, Original.sha256 == Package.sha256)
        .where(Package.submitted_by == submitted_by, Package.received_at >= since)).one()
    return int(used), aware(oldest)


def receive_package(connection: Connection, original: StoredOriginal, submitted_by: str | None = None) -> int:
    """Record a package as received (not yet read) with a progress row; returns its id."""
    now = datetime.now(UTC)
    package_id = connection.execute(sa.insert(Package).values(
        sha256=original.sha256, filename=original.filename, status="received", submitted_by=submitted_by,
        received_at=now).returning(Package.id)).scalar_one()
    connection.execute(sa.insert(PackageProgress).values(package_id=package_id, stage="received", percent=0.0,
                                                         updated_at=now))
    return package_id


def claims(connection: Connection, package_ids: list[int] | None = None) -> pd.DataFrame:
    """The processing state of received packages (all, or ``package_ids``): ``package_id``, ``stage``,
    ``claimed_by``, ``heartbeat_at``, ``attempts``, ``retry_at``; what a worker decides to take from."""
    query = (sa.select(PackageProgress.package_id, PackageProgress.stage, PackageProgress.claimed_by,
                       PackageProgress.heartbeat_at, PackageProgress.attempts, PackageProgress.retry_at)
             .join(Package, Package.id == PackageProgress.package_id)
             .where(Package.status == "received").order_by(PackageProgress.package_id))
    if package_ids is not None:
        query = query.where(PackageProgress.package_id.in_(package_ids))
    return utc_times(result_frame(connection.execute(query)), "heartbeat_at", "retry_at")


def claim_package(connection: Connection, package_id: int, worker: str, previous: str | None,
                  now: datetime) -> bool:
    """Take a received package for ``worker``: True for the one caller that gets it. ``previous`` is the claimant
    the caller found (None: unclaimed) and judged gone: the claim changes hands only if it is still that one."""
    held = (PackageProgress.claimed_by.is_(None) if previous is None else PackageProgress.claimed_by == previous)
    taken = connection.execute(
        sa.update(PackageProgress)
        .where(PackageProgress.package_id == package_id, held,
               PackageProgress.package_id.in_(sa.select(Package.id).where(Package.status == "received")))
        .values(claimed_by=worker, claimed_at=now, heartbeat_at=now, updated_at=now, retry_at=None)).rowcount
    return taken == 1


def heartbeat(connection: Connection, package_id: int, worker: str, now: datetime) -> None:
    """Say that ``worker`` is still processing the package."""
    connection.execute(sa.update(PackageProgress).where(PackageProgress.package_id == package_id,
                                                        PackageProgress.claimed_by == worker)
                       .values(heartbeat_at=now))


def set_progress(connection: Connection, package_id: int, stage: str, fraction: float,
                 error: str | None = None) -> None:
    now = datetime.now(UTC)
    connection.execute(sa.update(PackageProgress).where(PackageProgress.package_id == package_id).values(
        stage=stage, percent=round(100.0 * fraction, 1), updated_at=now, heartbeat_at=now, error=error))


def release_package(connection: Connection, package_id: int, worker: str, *, stage: str, error: str | None,
                    attempts: int, retry_at: datetime | None) -> None:
    """``worker`` lets a package go after a failed attempt: its stage (``waiting`` for a retry at ``retry_at``,
    ``failed`` for a person to decide), the Chinese reason and the count of failed attempts."""
    connection.execute(sa.update(PackageProgress).where(PackageProgress.package_id == package_id,
                                                        PackageProgress.claimed_by == worker)
                       .values(claimed_by=None, heartbeat_at=None, stage=stage, error=error, attempts=attempts,
                               retry_at=retry_at, updated_at=datetime.now(UTC)))


_STATE_COLUMNS = (Package.id, Package.status, PackageProgress.stage, PackageProgress.percent, Package.filename,
                  Package.sha256, Original.size, Package.stage.label("package_stage"), Package.county,
                  Package.project_name, Package.submitted_by, Package.received_at, Package.decided_at,
                  PackageProgress.error, sa.func.coalesce(PackageProgress.attempts, 0).label("attempts"),
                  PackageProgress.retry_at, Original.purged_at.label("original_purged_at"))


def _state(values: dict, report: dict | None) -> PackageState:
    values = dict(values)
    for key in ("received_at", "decided_at", "retry_at", "original_purged_at"):
        values[key] = aware(values[key])
    if values["stage"] is None:  # stored by the CLI: never queued, decided at once
        values["stage"], values["percent"] = "done", 100.0
    return PackageState(**values, report=report)


def package_state(connection: Connection, package_id: int, *, report: bool = True, summary: bool = False,
                  embedded: bool = False) -> PackageState:
    """Status, progress and (with ``report``) the report of a stored package; ``summary``: the report without its
    per-unit lists, and their sizes (:func:`report_summary`); ``embedded``: the report as its stored JSON text, to be
    written as it is into a response (:func:`cadastre.core.jsontext.embedded`) — a project's report is 13 MB,
    parsed and encoded again in 0.3 s."""
    stored = sa.cast(Package.report, sa.Text).label("report") if embedded else Package.report
    columns = _STATE_COLUMNS + ((stored,) if report and not summary else ())
    row = connection.execute(
        sa.select(*columns).join(Original, Original.sha256 == Package.sha256)
        .outerjoin(PackageProgress, PackageProgress.package_id == Package.id).where(Package.id == package_id)).first()
    if row is None:
        raise NotFoundError(f"成果包 {package_id} 不存在", f"package {package_id} does not exist")
    values = dict(row._mapping)
    if report and summary:
        text, assigned, comparison = report_summary(connection, package_id)
        return replace(_state(values, _report_value(text, embedded)), assigned_counts=assigned,
                       comparison_summary=comparison)
    return _state(values, _report_value(values.pop("report", None), embedded))


def _report_value(text, embedded: bool):
    """The report as asked for: its stored text to be written as it is (``embedded``), else parsed; what the JSON
    column already parsed (a dict) as it is."""
    if text is None or not embedded:
        return jsontext.loads(text) if isinstance(text, str) else text
    return jsontext.embedded(text)


_SUMMARY_SQL = {
    # SQLite parses a document once for the statement's several JSON functions (its JSON cache)
    "sqlite": """SELECT json_remove(report, '$.assigned', '$.comparison'),
        json_array_length(report, '$.assigned.parcels'), json_array_length(report, '$.assigned.units'),
        json_array_length(report, '$.assigned.retired'), json_array_length(report, '$.comparison.units'),
        json_extract(report, '$.comparison.flagged'), json_array_length(report, '$.comparison.added'),
        json_array_length(report, '$.comparison.removed'), json_extract(report, '$.comparison.limit_percent')
        FROM package WHERE id = :id""",
    # the json column read as jsonb once, in the sub-select
    "postgresql": """SELECT CAST(r - 'assigned' - 'comparison' AS text),
        jsonb_array_length(r #> '{assigned,parcels}'), jsonb_array_length(r #> '{assigned,units}'),
        jsonb_array_length(r #> '{assigned,retired}'), jsonb_array_length(r #> '{comparison,units}'),
        CAST(r #>> '{comparison,flagged}' AS integer), jsonb_array_length(r #> '{comparison,added}'),
        jsonb_array_length(r #> '{comparison,removed}'), CAST(r #>> '{comparison,limit_percent}' AS float)
        FROM (SELECT CAST(report AS jsonb) AS r FROM package WHERE id = :id) s""",
}


def report_summary(connection: Connection, package_id: int) -> tuple[str | None, dict | None, dict | None]:
    """A package's report as JSON text without its per-unit lists (``assigned``, ``comparison``), and their sizes:
    what was coded and retired (``parcels``, ``units``, ``retired``), and the 预测/实测 comparison's ``units``,
    ``flagged``, ``added``, ``removed`` and ``limit_percent``; None where the report has none. Made by the
    database, so a project's 13 MB of per-unit lists never leave it (0.1 s)."""
    row = connection.execute(sa.text(_SUMMARY_SQL[connection.dialect.name]), {"id": package_id}).first()
    if row is None or row[0] is None:
        return None, None, None
    text, parcels, units, retired, compared, flagged, added, removed, limit = row
    assigned = None if units is None else {"parcels": parcels, "units": units, "retired": retired}
    comparison = None if compared is None else {"units": compared, "flagged": flagged, "added": added,
                                                "removed": removed, "limit_percent": limit}
    return text, assigned, comparison


def package_list(connection: Connection, *, submitted_by: str | None = None, status: str | None = None,
                 limit: int = 100, before: int | None = None) -> list[PackageState]:
    """Stored packages, newest first (keyset: ``before`` an id), without their reports."""
    query = (sa.select(*_STATE_COLUMNS).join(Original, Original.sha256 == Package.sha256)
             .outerjoin(PackageProgress, PackageProgress.package_id == Package.id)
             .order_by(Package.id.desc()).limit(limit))
    if submitted_by is not None:
        query = query.where(Package.submitted_by == submitted_by)
    if status is not None:
        query = query.where(Package.status == status)
    if before is not None:
        query = query.where(Package.id < before)
    return [_state(dict(row._mapping), None) for row in connection.execute(query)]
