"""The registry handle: the library's entry point for everything the CLI and the HTTP API do.

Example::

    import cadastre
    reg = cadastre.init("sqlite:///var/example.sqlite", counties=["141031"])
    reg.import_zoning("var/samples/141031-zoning.zip")
    reg.summary()
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cadastre.core import settings, workers
from cadastre.core.auth import Failures, Permission, Principal, RecentTokens, Role, SignInThrottle, mask_name
from cadastre.core.errors import (
    AuthenticationError,
    CadastreError,
    ConflictError,
    CorruptOriginal,
    Gone,
    InputError,
    NotFoundError,
    PermissionDenied,
    QuotaExceeded,
    TooManyAttempts,
    ZoningError,
    shown,
)
from cadastre.core.files import sha256_of, single_file
from cadastre.core.findings import blocking, records
from cadastre.core.progress import Progress, safe
from cadastre.core.settings import County
from cadastre.read.zoning import Zoning, read_zoning, validate_zoning
from cadastre.store.engine import create_engine, lookup_engine, serialise, write_transaction
from cadastre.store.originals import keep_original
from cadastre.store.schema import RegistryInfo, init_database, registry_info
from cadastre.store.spatial import aware as _aware
from cadastre.store.zoning import ZoningImportResult, current_zoning, save_zoning

__all__ = ["Registry", "Summary", "Received", "OriginalFile", "open_registry", "init_registry", "restore_registry"]

log = logging.getLogger("cadastre.registry")


@dataclass(frozen=True)
class Received:
    """A package the service has taken in: its id, checksum, and whether the same bytes had come before."""

    package_id: int
    sha256: str
    duplicate: bool


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token as issued: the token itself is shown this once (the registry keeps its SHA-256)."""

    id: int
    token: str
    name: str
    role: str
    kind: str  # session | api
    expires_at: datetime | None

    def to_dict(self) -> dict:
        return {"id": self.id, "access_token": self.token, "token_type": "bearer", "name": self.name,
                "role": self.role, "kind": self.kind,
                "expires_at": None if self.expires_at is None else self.expires_at.isoformat()}


@dataclass(frozen=True)
class OriginalFile:
    path: Path
    filename: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Summary:
    """Counts of what the registry holds now."""

    counties: tuple[str, ...]
    storage_srid: int
    dialect: str
    districts: int
    subdistricts: int
    zoned_area_km2: float
    parcels: int
    buildings: int
    units: int
    packages: int
    issued_codes: int

    def to_dict(self) -> dict:
        return asdict(self)


def _moment(value: datetime | str | None) -> datetime | None:
    """A time given by a user: a datetime or an ISO 8601 text (a date alone is its midnight); naive means UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"时间 {shown(value)} 应为 ISO 8601，如 2026-11-01", f"bad time {shown(value)}") from None
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _size(n: int) -> str:
    """A byte count as people read it: 4.8 GB, 320 MB."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} 字节"


def _time(value) -> datetime | None:
    """A timestamp from a frame (NaT → None)."""
    return None if value is None or value is pd.NaT or (isinstance(value, float) and value != value) else value


def _report_of(state):
    """The :class:`cadastre.qa.report.Report` of a stored package's state; ConflictError while it is processed."""
    from cadastre.qa.report import Report

    if state.report is None:
        raise ConflictError(f"成果包 {state.id} 尚在处理中，报告还没有生成", f"package {state.id} not processed yet")
    return Report.from_dict(state.report)


class Registry:
    """A registry database: its counties, zoning, packages, parcels, buildings, units and codes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lookups = lookup_engine(engine)  # point lookups: autocommit on PostgreSQL (see lookup_engine)
        self.recent_tokens = RecentTokens()  # tokens found live in the last seconds (see principal)
        self.sign_in_throttle = SignInThrottle.from_settings()  # how failed sign-ins slow the next (see login)
        self.info: RegistryInfo = registry_info(engine)
        self._extent: tuple[tuple, list[float] | None] | None = None  # (data version, bounds): see extent()

    @property
    def counties(self) -> list[County]:
        return [settings.county(code) for code in self.info.counties]

    @property
    def storage_srid(self) -> int:
        return self.info.storage_srid

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------------------------------------------- zoning
    def zoning(self, counties: Sequence[str] | None = None) -> Zoning:
        """The current 地籍区 and 地籍子区 as GeoDataFrames in the storage CRS."""
        with self.engine.connect() as connection:
            return current_zoning(connection, self.storage_srid, list(counties) if counties else None)

    def import_zoning(self, path: str | os.PathLike, *, imported_by: str | None = None,
                      actor: Principal | None = None) -> ZoningImportResult:
        """Load 地籍区/地籍子区 from a zip, folder or GeoPackage, replacing the current zoning of its counties.

        The original file is kept; zoning with any error finding is refused with :class:`ZoningError` (its
        ``findings`` name the codes) and changes nothing. Importing identical zoning again records the import as
        ``unchanged``.
        """
        path = Path(path)
        zoning = read_zoning(path, self.counties[0], self.storage_srid)
        findings = validate_zoning(zoning, self.counties)
        errors = blocking(findings)
        if len(errors):
            raise ZoningError(f"地籍区划 {path.name} 有 {len(errors)} 处错误，未导入",
                              f"zoning {path.name} has {len(errors)} errors; nothing imported",
                              records(errors))
        from cadastre.store.auth import record

        with single_file(path) as upload, write_transaction(self.engine) as connection:
            serialise(connection, *(f"county:{county.code}" for county in self.counties))
            original = keep_original(connection, upload, path.name + ("/" if path.is_dir() else ""))
            result = save_zoning(connection, zoning, original, self.storage_srid, imported_by)
            record(connection, actor, "zoning.import", result.import_id, {"status": result.status,
                                                                          "sha256": result.sha256})
            return result

    # ---------------------------------------------------------------------------------------- findings, waivers
    def findings(self, package_id: int | None = None, *, rule: str | None = None, severity: str | None = None,
                 stage: str | None = None, status: str | None = None, surveyor: str | None = None,
                 since: datetime | str | None = None, until: datetime | str | None = None):
        """Findings of stored packages as a GeoDataFrame: one row per finding with its waiver (``waived_by``,
        ``waiver_reason``) and its package's ``stage``, ``status``, ``surveyor`` (the surveying firm),
        ``project_name`` and ``received_at``; geometry the finding's place in the storage CRS (none for a finding
        about a whole file). Filters: one package, a rule or rule family (``"GEO"``), severity, package stage and
        status, firm, and packages received in [``since``, ``until``)."""
        import geopandas as gpd

        from cadastre.serve.features import lonlat_points
        from cadastre.store.packages import findings_across

        with self.engine.connect() as connection:
            frame = findings_across(connection, package_id=package_id, rule=rule, severity=severity, stage=stage,
                                    status=status, surveyor=surveyor, since=_moment(since), until=_moment(until))
        return gpd.GeoDataFrame(frame, geometry=lonlat_points(frame["lon"], frame["lat"], self.storage_srid),
                                crs=self.storage_srid)

    def package_summaries(self, *, stage: str | None = None, status: str | None = None,
                          surveyor: str | None = None, since: datetime | str | None = None,
                          until: datetime | str | None = None):
        """Stored packages as a DataFrame, oldest first: stage, status, project, surveying firm, times, and the
        counts of their errors, warnings, notes (``infos``) and waivers."""
        from cadastre.store.packages import package_summaries

        with self.engine.connect() as connection:
            return package_summaries(connection, stage=stage, status=status, surveyor=surveyor,
                                     since=_moment(since), until=_moment(until))

    def waive(self, package_id: int, rule: str, feature: str | None, *, by: str, reason: str,
              actor: Principal | None = None):
        """Waive one finding of a stored package (staff decision, kept as history and in the audit log)."""
        from cadastre.store.auth import record
        from cadastre.store.packages import add_waiver

        with write_transaction(self.engine) as connection:
            waiver = add_waiver(connection, package_id, rule, feature, by, reason)
            record(connection, actor, "finding.waive", package_id, {"rule": rule, "feature": feature, "reason": reason})
            return waiver

    # ------------------------------------------------------------------------------------------------- permits
    def record_permit(self, permit, *, by: str | None = None, actor: Principal | None = None):
        """Record a planning permit (a :class:`~cadastre.core.permit.Permit` or a permit.json path). A new version of a
        permit already recorded ends the current one (kept in history); the same content again changes nothing.
        Its red line, when given, is in the registry's storage CRS."""
        from cadastre.core.permit import Permit, load_permit
        from cadastre.store.auth import record
        from cadastre.store.permits import record_permit

        if not isinstance(permit, Permit):
            permit = load_permit(permit)
        with write_transaction(self.engine) as connection:
            result = record_permit(connection, permit, self.storage_srid, recorded_by=by)
            record(connection, actor, "permit.record", permit.number)
            return result

    def permit(self, number: str):
        """Every recorded version of a permit, oldest first (the last is current unless ended)."""
        from cadastre.store.permits import permit_history

        with self.engine.connect() as connection:
            return permit_history(connection, number)

    def check(self, path: str | os.PathLike, *, permit=None, progress: Progress | None = None,
              span: tuple[float, float] = (0.0, 1.0)):
        """Check a package against this registry (nothing stored)."""
        from cadastre.qa.pipeline import check_package

        county = self.info.counties[0] if len(self.info.counties) == 1 else None
        return check_package(path, county=county, permit=permit, registry=self, progress=progress, span=span)

    def ingest(self, path: str | os.PathLike, *, submitted_by: str | None = None, progress: Progress | None = None,
               actor: Principal | None = None):
        """Check, store and (when no unwaived error remains) accept a survey package; see ``cadastre.ingest``.
        ``progress(stage, fraction)`` hears how far it is (``cadastre.core.progress``)."""
        from cadastre.ingest import ingest_package

        return ingest_package(self, path, submitted_by=submitted_by, progress=progress, actor=actor)

    # ---------------------------------------------------------------------------------- packages, as a service
    def receive(self, path: str | os.PathLike, *, filename: str | None = None,
                submitted_by: str | None = None, actor: Principal | None = None) -> Received:
        """Keep an uploaded package and record it as received, to be processed by :meth:`process` (the service
        answers the upload at once with this id). Bytes received before give that package's id back
        (``duplicate``); processing it again accepts a rejected package whose errors have all been waived since.

        New bytes count toward the submitting account's upload quota over the last 24 hours
        (``service.toml`` ``[uploads]``, or the account's own): past it, :class:`QuotaExceeded`."""
        from cadastre.store.auth import record
        from cadastre.store.packages import package_by_checksum, receive_package

        path = Path(path)
        digest = sha256_of(path)
        with write_transaction(self.engine) as connection:
            serialise(connection, f"package:{digest}")  # the same bytes uploaded at once: one package
            known = package_by_checksum(connection, digest)
            if known is not None:
                return Received(int(known.id), digest, duplicate=True)
            if submitted_by is not None:
                serialise(connection, f"uploads:{submitted_by}")  # two uploads at once count against one quota
                self._within_quota(connection, submitted_by, path.stat().st_size, actor)
            original = keep_original(connection, path, filename or path.name)
            package_id = receive_package(connection, original, submitted_by)
            record(connection, actor, "package.upload", package_id, {"filename": filename or path.name,
                                                                     "sha256": digest, "size": original.size})
            return Received(package_id, digest, duplicate=False)

    def _within_quota(self, connection, name: str, size: int, actor: Principal | None) -> None:
        """Refuse an upload that would take ``name`` past its quota of bytes over the last 24 hours (an
        administrator's own uploads are not counted)."""
        from cadastre.store.auth import account_row
        from cadastre.store.packages import uploaded_bytes

        if actor is not None and actor.can(Permission.ADMINISTER):
            return
        account = account_row(connection, name, missing_ok=True)
        quota = account["upload_quota_bytes"] if account is not None else None
        if quota is None:
            quota = int(settings.service()["uploads"]["quota_bytes_per_day"])
        if quota <= 0:
            return
        now = datetime.now(UTC)
        used, oldest = uploaded_bytes(connection, name, now - timedelta(days=1))
        if used + size > quota:
            wait = ((oldest + timedelta(days=1)) - now).total_seconds() if oldest else 86400.0
            raise QuotaExceeded(
                f"{name} 近 24 小时已上传 {_size(used)}，加上本文件 {_size(size)} 超过上传配额 {_size(quota)}；"
                f"请 {math.ceil(wait / 3600)} 小时后再上传，或请管理员调整配额",
                f"upload quota of {name} exceeded: {used} + {size} > {quota} bytes", retry_after_s=wait)

    def process(self, package_id: int, *, progress: Progress | None = None, actor: Principal | None = None,
                retry: bool = False):
        """Process a received package (check, store, accept when clean) and record its progress as it goes, so
        that :meth:`package` shows it. Returns the :class:`~cadastre.ingest.IngestResult`, or None when a live
        worker holds the package, it is waiting for its next try, or it was decided already (a rejected one is
        looked at again for waivers).

        The claim carries this process's identity and a heartbeat (:mod:`cadastre.core.workers`): if the process dies,
        another worker takes the package up (at once on the same host). A transient failure (the database away,
        a full disk) schedules another try with growing delays; any other failure waits for a person.
        ``retry``: try a failed or waiting package now (a registrar's request, or the same bytes uploaded again)."""
        from cadastre.ingest import ingest_package
        from cadastre.store.packages import claim_package, claims, set_progress

        state = self.package(package_id, report=False)
        actor = actor or self._submitter(state.submitted_by)
        if state.status == "rejected":
            return self.ingest(self.original(package_id).path, progress=progress, actor=actor)
        if state.status != "received":
            return None
        me, now = workers.identity(), datetime.now(UTC)
        with write_transaction(self.engine) as connection:
            found = claims(connection, [package_id])
            if found.empty:
                return None
            row = found.iloc[0]
            previous = row["claimed_by"] if isinstance(row["claimed_by"], str) else None
            if not workers.due(row["stage"], previous, _time(row["heartbeat_at"]), _time(row["retry_at"]), now,
                               retry=retry):
                return None
            if not claim_package(connection, package_id, me, previous, now):
                return None
        shown = safe(progress)
        last = {"stage": None, "percent": -1.0}

        def record(stage: str, fraction: float) -> None:
            shown(stage, fraction)
            if stage != last["stage"] or 100 * fraction - last["percent"] >= 1.0:
                with write_transaction(self.engine) as c:
                    set_progress(c, package_id, stage, fraction)
                last.update(stage=stage, percent=100 * fraction)

        try:
            with self._claim_kept(package_id, me):
                result = ingest_package(self, self.original(package_id).path, package_id=package_id,
                                        progress=safe(record), actor=actor)
        except Exception as e:
            self._release_failed(package_id, me, int(row["attempts"]) + 1, e)
            raise
        with write_transaction(self.engine) as c:
            set_progress(c, package_id, "done", 1.0)
        shown("done", 1.0)
        return result

    @contextmanager
    def _claim_kept(self, package_id: int, worker: str):
        """Refresh the claim's heartbeat from a thread of its own while the body works (see cadastre.core.workers)."""
        from cadastre.store.packages import heartbeat

        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(workers.HEARTBEAT_S):
                try:
                    with write_transaction(self.engine) as c:
                        heartbeat(c, package_id, worker, datetime.now(UTC))
                except CadastreError:  # the database is away: the claim lapses if it stays away
                    continue

        thread = threading.Thread(target=beat, daemon=True, name=f"cadastre-claim-{package_id}")
        thread.start()
        try:
            yield
        finally:
            stop.set()  # not joined: a heartbeat waiting for the SQLite write lock ends by itself

    def _release_failed(self, package_id: int, worker: str, attempts: int, error: Exception) -> None:
        """Let a package go after a failed attempt, saying why in Chinese and when it is tried again."""
        from cadastre.store.packages import release_package

        message = error.message_zh if isinstance(error, CadastreError) else f"内部错误：{type(error).__name__}"
        delay = workers.retry_delay(attempts) if workers.transient(error) else None
        retry_at = None if delay is None else datetime.now(UTC) + timedelta(seconds=delay)
        if retry_at is not None:
            message += f"；将于 {retry_at.astimezone():%H:%M:%S} 自动重试（已失败 {attempts} 次）"
        elif workers.transient(error):
            message += f"；已自动重试 {attempts} 次仍未成功，请登记员重新处理"
        try:
            with write_transaction(self.engine) as c:
                release_package(c, package_id, worker, stage="waiting" if retry_at else "failed", error=message,
                                attempts=attempts, retry_at=retry_at)
        except CadastreError:  # the database is still away: the claim lapses and the package is taken up again
            log.warning("package %s: could not record the failed attempt", package_id)

    def packages_due(self) -> list[int]:
        """Received packages a worker may take now: never taken, their worker gone, or their next try due."""
        from cadastre.store.packages import claims

        now = datetime.now(UTC)
        with self.engine.connect() as connection:
            frame = claims(connection)
        return [int(r.package_id) for r in frame.itertuples()
                if workers.due(r.stage, r.claimed_by if isinstance(r.claimed_by, str) else None,
                               _time(r.heartbeat_at), _time(r.retry_at), now)]

    def package(self, package_id: int, *, report: bool = True):
        """A stored package: status, processing stage and percent, and (with ``report``) its report."""
        from cadastre.store.packages import package_state

        with self.engine.connect() as connection:
            return package_state(connection, package_id, report=report)

    def packages(self, *, submitted_by: str | None = None, status: str | None = None, limit: int = 100,
                 before: int | None = None):
        """Stored packages, newest first (``before``: an id, for the next page)."""
        from cadastre.store.packages import package_list

        with self.engine.connect() as connection:
            return package_list(connection, submitted_by=submitted_by, status=status, limit=limit, before=before)

    def original(self, package_id: int, *, verify: bool = False) -> OriginalFile:
        """The original bytes of a package as uploaded: path, file name, SHA-256 and size. ``verify``: read them
        and refuse (:class:`CorruptOriginal`) bytes that no longer match their SHA-256, as the service does
        before it hands them out. Missing bytes are :class:`CorruptOriginal` too; the bytes of a refused upload
        deleted after their retention period are :class:`Gone`."""
        from cadastre.store.originals import originals_root, package_original

        with self.engine.connect() as connection:
            row = package_original(connection, package_id)
        if row is None:
            raise NotFoundError(f"成果包 {package_id} 不存在", f"package {package_id} does not exist")
        if row.purged_at is not None:
            raise Gone(f"成果包 {package_id} 被拒收，其原始文件已于 {_aware(row.purged_at):%Y-%m-%d} 按保留期限删除",
                       f"the original of refused package {package_id} was deleted after its retention period")
        path = originals_root(self.engine) / row.path
        if not path.is_file():
            raise CorruptOriginal(f"成果包 {package_id} 的原始文件缺失，请管理员从备份恢复（cadastre verify 可查出全部缺失）",
                                  f"the original of package {package_id} is missing")
        if verify and (path.stat().st_size != row.size or sha256_of(path) != row.sha256):
            raise CorruptOriginal(f"成果包 {package_id} 的原始文件已损坏（与 SHA-256 校验和不符），不予提供；"
                                  "请管理员从备份恢复", f"the original of package {package_id} does not match its SHA-256")
        return OriginalFile(path, row.filename, row.sha256, int(row.size))

    def purge_refused(self, *, retention: timedelta | None = None, dry_run: bool = False,
                      actor: Principal | None = None) -> list[dict]:
        """Delete the bytes of uploads refused longer ago than ``retention`` (default ``service.toml``
        ``[uploads] refused_retention_days``, 30 days) that nothing else needs; their packages keep the refusal
        and the original's row records when and why its bytes went. Returns what was (or, with ``dry_run``, would
        be) deleted."""
        from cadastre.store.auth import record
        from cadastre.store.originals import mark_purged, originals_root, refused_originals

        if retention is None:
            retention = timedelta(days=float(settings.service()["uploads"]["refused_retention_days"]))
        days = retention.total_seconds() / 86400
        now = datetime.now(UTC)
        with write_transaction(self.engine) as connection:
            found = refused_originals(connection, now - retention)
            purged = [{"sha256": sha, "size": size, "packages": ids} for sha, _, size, ids in found]
            if dry_run or not found:
                return purged
            mark_purged(connection, [sha for sha, *_ in found], now, f"拒收文件保留 {days:g} 天期满")
            record(connection, actor, "original.purge", None, {"originals": len(found),
                                                               "bytes": sum(size for _, _, size, _ in found)})
        root = originals_root(self.engine)
        for _, relative, _, _ in found:  # after the commit: a failed one leaves bytes, never a row without them
            (root / relative).unlink(missing_ok=True)
        return purged

    def report(self, package_id: int):
        """The report of a stored package as a :class:`cadastre.qa.report.Report` (findings, counts, planning
        indicators, what was accepted and coded); ConflictError while it is still being processed."""
        return _report_of(self.package(package_id))

    def report_html(self, package_id: int) -> str:
        """The Chinese HTML report of a stored package (maps drawn from its original)."""
        from cadastre.qa.render import render_html
        from cadastre.read.package import read_package

        state = self.package(package_id)
        report = _report_of(state)
        package = None
        if not report.refused:
            try:
                package = read_package(self.original(package_id).path, county=state.county,
                                       storage_epsg=self.storage_srid)
            except CadastreError:
                package = None
        return render_html(report, package)

    def building_table(self, building_code: str):
        """The 楼盘表 of a current building (24-character code: 宗地代码 + F + 幢号)."""
        from cadastre.allocate.buildingtable import building_table
        from cadastre.store.queries import building_rows

        with self.engine.connect() as connection:
            return building_table(building_rows(connection, building_code))

    def parcel(self, zddm: str, *, viewer: Principal | None = None) -> dict:
        """A parcel: its current version, buildings, history (versions and code lineage) and readiness.

        ``viewer``: who asks (the service passes the caller). Without :attr:`Permission.READ_OWNERS` the owner's
        name (``qlr``) is masked; with it, the read is written to the audit log. None: the library used locally
        (trusted like the database file), names as stored and nothing logged."""
        from cadastre.store.queries import parcel_rows

        with self.lookups.connect() as connection:
            rows = parcel_rows(connection, zddm)
        land_fields = ("land_code", "land_issued_at", "land_retired_at", "land_retired_reason")
        versions = [{k: v for k, v in row.items() if k not in land_fields and k != "open_errors"}
                    for row in rows["versions"]]
        first = rows["versions"][0] if rows["versions"] else {}
        land = ({"code": first["land_code"], "issued_at": first["land_issued_at"],
                 "retired_at": first["land_retired_at"], "retired_reason": first["land_retired_reason"]}
                if first.get("land_code") else None)
        open_errors = first.get("open_errors") or 0
        current = next((v for v in versions if v["valid_to"] is None), None)
        reasons = []
        if current is None:
            reasons.append("宗地已不是现势宗地")
        elif current["package_status"] != "accepted":
            reasons.append("权籍调查成果包未受理")
        if open_errors:
            reasons.append(f"尚有 {open_errors} 处未豁免的错误")
        if land is None:
            reasons.append("未发放土地不动产单元代码")
        owners = viewer is None or viewer.can(Permission.READ_OWNERS)
        if not owners:
            for version in versions:
                version["qlr"] = mask_name(version["qlr"])
        elif viewer is not None and any(v["qlr"] for v in versions):
            self.audit("owners.read", zddm, actor=viewer, detail={"via": "parcel"})
        return {
            "zddm": zddm, "current": current or {}, "land_code": land,
            "buildings": rows["buildings"],
            "history": [{k: v[k] for k in ("valid_from", "valid_to", "end_reason", "package_id")} for v in versions],
            "lineage": rows["lineage"],
            "ready_for_first_registration": not reasons, "not_ready_because": reasons,
        }

    def unit(self, bdcdyh: str) -> dict:
        """A unit (户): its current version, every earlier one (pre-sale → as-built), its code and the code's
        lineage both ways (what it replaced, what replaced it)."""
        from cadastre.store.lookups import unit_rows

        with self.lookups.connect() as connection:
            rows = unit_rows(connection, bdcdyh)
        versions = rows["versions"]
        current = [v for v in versions if v["valid_to"] is None]
        return {"bdcdyh": bdcdyh, "current": current[0] if current else None, "versions": versions,
                "code": rows["code"][0] if rows["code"] else None, "lineage": rows["lineage"]}

    def parcel_at(self, lon: float, lat: float, *, viewer: Principal | None = None) -> dict:
        """The card of the current parcel containing the point (lon/lat, CGCS2000 ≈ WGS 84)."""
        from cadastre.serve.features import transformer
        from cadastre.store.lookups import parcel_codes_at

        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputError(f"经纬度 {lon},{lat} 超出范围", f"lon/lat {lon},{lat} out of range")
        x, y = transformer(4326, self.storage_srid).transform(lon, lat)
        with self.lookups.connect() as connection:
            codes = parcel_codes_at(connection, self.storage_srid, x, y)
        if not codes:
            raise NotFoundError(f"经纬度 {lon:.6f},{lat:.6f} 处没有现势宗地", f"no current parcel at {lon},{lat}")
        return self.parcel(codes[0], viewer=viewer)

    def search(self, text: str, *, limit: int = 20) -> list[dict]:
        """Parcels, buildings and units by code (or its start) or by 坐落 / building name, each with its
        lon/lat bounding box for the map."""
        from cadastre.serve.features import output_coordinates
        from cadastre.store.lookups import search_rows

        text = (text or "").strip()
        if not text:
            raise InputError("请输入宗地代码、不动产单元代码或坐落", "empty search")
        with self.engine.connect() as connection:
            frame = search_rows(connection, self.storage_srid, text, limit=max(1, min(int(limit), 100)))
        boxes = shapely.bounds(output_coordinates(frame.geometry.to_numpy(), self.storage_srid, 4326))
        return [{"kind": kind, "code": code, "label": label, "zl": zl, "bbox": [round(float(v), 7) for v in box]}
                for kind, code, label, zl, box in zip(frame["kind"], frame["code"], frame["label"], frame["zl"],
                                                      boxes, strict=True)]

    def extent(self) -> list[float] | None:
        """The lon/lat bounding box of the current parcels (else of the zoning), or None when empty.

        The full-table aggregates run again only when the set of accepted packages or the zoning has changed since
        (a query over the small package table tells), in this process or any other on the same database."""
        from cadastre.serve.features import transformer

        with self.engine.connect() as connection:
            version = tuple(connection.execute(sa.text(
                "SELECT (SELECT count(*) FROM package WHERE status = 'accepted'), "
                "(SELECT sum(id) FROM package WHERE status = 'accepted'), (SELECT max(id) FROM zoning_import)")).first())
            if self._extent is not None and self._extent[0] == version:
                return self._extent[1]
            bounds = None
            for table in ("parcel", "cadastral_subdistrict"):
                sql = (f"SELECT min(ST_MinX(geom)), min(ST_MinY(geom)), max(ST_MaxX(geom)), max(ST_MaxY(geom)) "
                       f"FROM {table} WHERE valid_to IS NULL")
                if connection.dialect.name == "postgresql":
                    sql = (f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e "
                           f"FROM {table} WHERE valid_to IS NULL) s")
                box = connection.execute(sa.text(sql)).first()
                if box is not None and box[0] is not None:
                    box = transformer(self.storage_srid, 4326).transform_bounds(*map(float, box), densify_pts=11)
                    bounds = [round(v, 7) for v in box]
                    break
        self._extent = (version, bounds)
        return bounds

    # ------------------------------------------------------------------------------------- features and tiles
    def features(self, collection: str, *, bbox: Sequence[float] | None = None, bbox_crs: str | None = None,
                 limit: int = 10, after: str | None = None, crs: str | None = None,
                 package: int | None = None, viewer: Principal | None = None):
        """A page of a feature collection (``parcels``, ``buildings``, ``units``, ``findings``): current rows in
        code order after ``after``, within ``bbox`` (in ``bbox_crs``, default lon/lat). The page's
        ``features`` is a GeoDataFrame in the storage CRS; ``to_geojson()`` writes it in ``crs``. Owners' names
        are masked or logged for ``viewer`` as in :meth:`parcel`."""
        from cadastre.serve.features import MAX_LIMIT, FeaturePage, bbox_in_storage, parse_crs
        from cadastre.store.features import feature_rows

        spec = _collection(collection)
        if not 1 <= int(limit) <= MAX_LIMIT:
            raise InputError(f"limit 应在 1–{MAX_LIMIT} 之间", f"limit must be 1..{MAX_LIMIT}")
        epsg = parse_crs(crs, self.storage_srid)
        storage_box = lonlat_box = None
        if bbox is not None:
            if len(bbox) != 4:
                raise InputError("bbox 应有 4 个数：最小x,最小y,最大x,最大y", "bbox needs 4 numbers")
            bbox_epsg = parse_crs(bbox_crs, self.storage_srid)
            storage_box = bbox_in_storage(tuple(map(float, bbox)), bbox_epsg, self.storage_srid)
            if not spec.geometry:
                from cadastre.serve.features import transformer

                lonlat_box = transformer(self.storage_srid, 4326).transform_bounds(*storage_box)
        with self.lookups.connect() as connection:
            frame = feature_rows(connection, spec, self.storage_srid, bbox=storage_box, bbox_lonlat=lonlat_box,
                                 limit=int(limit) + 1, after=None if after is None else spec.split_id(after),
                                 package_id=package, submitted_by=_own_only(viewer))
        more = len(frame) > int(limit)
        frame = self._owners(frame.iloc[:int(limit)].copy(), viewer, collection)
        return FeaturePage(spec, frame, str(frame["id"].iat[-1]) if more else None, self.storage_srid, epsg)

    def feature(self, collection: str, feature_id: str, *, crs: str | None = None,
                viewer: Principal | None = None):
        """One current feature by its id (宗地代码, 自然幢代码, 不动产单元代码, finding number), as a one-row page."""
        from cadastre.serve.features import FeaturePage, parse_crs
        from cadastre.store.features import one_feature

        spec = _collection(collection)
        epsg = parse_crs(crs, self.storage_srid)
        with self.lookups.connect() as connection:
            frame = one_feature(connection, spec, self.storage_srid, spec.split_id(feature_id),
                                submitted_by=_own_only(viewer))
        return FeaturePage(spec, self._owners(frame, viewer, collection), None, self.storage_srid, epsg)

    def _owners(self, frame, viewer: Principal | None, what: str):
        """Mask the owner columns of ``frame`` for a viewer who may not read them; log the read for one who may."""
        from cadastre.serve.features import OWNER_PROPERTIES

        columns = [c for c in OWNER_PROPERTIES if c in frame.columns]
        if not columns or viewer is None or not len(frame):
            return frame
        if not viewer.can(Permission.READ_OWNERS):
            for column in columns:
                frame[column] = frame[column].map(mask_name)
        elif frame[columns].notna().any().any():
            ids = frame["id"].astype(str)
            self.audit("owners.read", ids.iat[0] if len(ids) == 1 else f"{ids.iat[0]}…{ids.iat[-1]}", actor=viewer,
                       detail={"via": what, "features": len(frame)})
        return frame

    # ------------------------------------------------------------------------------------- layers for analysts
    def parcels(self, *, subdistrict: str | None = None, bbox: Sequence[float] | None = None,
                as_of: datetime | str | None = None, viewer: Principal | None = None):
        """The parcels current now — or at ``as_of`` (a datetime or ISO date), from the history — within a
        地籍子区 (``subdistrict``: its 12-digit code) and a bbox in the storage CRS, as a GeoDataFrame in the storage
        CRS (one row per parcel version; ``qlr`` masked for a ``viewer`` who may not read owners' names)."""
        return self._layer("parcel", subdistrict, bbox, as_of, viewer)

    def buildings(self, *, subdistrict: str | None = None, bbox: Sequence[float] | None = None,
                  as_of: datetime | str | None = None, stage: str | None = None):
        """The buildings (自然幢), current or at ``as_of``, as :meth:`parcels` does; ``stage``: only those last
        surveyed ``presale`` (预测) or ``asbuilt`` (实测)."""
        return self._layer("building", subdistrict, bbox, as_of, None, stage)

    def units(self, *, subdistrict: str | None = None, bbox: Sequence[float] | None = None,
              as_of: datetime | str | None = None, stage: str | None = None):
        """The units (户), current or at ``as_of``, as :meth:`parcels` does (``subdistrict`` matches the start
        of 不动产单元代码), with their building's ``zddm`` and ``zrzh``; ``stage`` as for :meth:`buildings`."""
        return self._layer("unit", subdistrict, bbox, as_of, None, stage)

    def export(self, target: str | os.PathLike, *, layers: Sequence[str] = ("parcels",), fmt: str | None = None,
               subdistrict: str | None = None, bbox: Sequence[float] | None = None,
               as_of: datetime | str | None = None, viewer: Principal | None = None) -> Path:
        """Export ``layers`` (parcels, buildings, units) — current or at ``as_of``, within a 地籍子区 and bbox — to
        ``target`` as GeoPackage, zipped GBK shapefiles or GeoJSON (``fmt``, default from the suffix), in the
        package's own layer and field names, so the file goes back in through the package reader
        (:mod:`cadastre.serve.export`). Owners' names are masked for a ``viewer`` who may not read them."""
        from cadastre.serve.export import LAYERS, export_format, named_layer, write_layers

        fmt = export_format(fmt, target)
        if not layers:
            raise InputError(f"请指定要导出的图层：{', '.join(LAYERS)}", "no layer to export")
        tables = {name: named_layer(name).table for name in layers}  # an unknown name is refused before any reading
        frames = {name: self._layer(table, subdistrict, bbox, as_of, viewer) for name, table in tables.items()}
        county = subdistrict[:6] if subdistrict else (self.info.counties[0] if len(self.info.counties) == 1 else None)
        return write_layers(frames, target, fmt=fmt, county_code=county)

    def unit_list(self, office: str, *, subdistrict: str | None = None, as_of: datetime | str | None = None):
        """The units as the housing office (``office="housing"``, 住建) or the tax office (``"tax"``, 税务) lists
        them: one row per unit with Chinese headings (:func:`cadastre.serve.export.unit_list`); save it with
        :func:`cadastre.serve.export.write_unit_list`."""
        from cadastre.serve.export import unit_list

        return unit_list(self._layer("unit", subdistrict, None, as_of, None),
                         self._layer("building", subdistrict, None, as_of, None),
                         self._layer("parcel", subdistrict, None, as_of, None), office=office)

    def _layer(self, table: str, subdistrict, bbox, as_of, viewer, stage: str | None = None):
        from cadastre.store.queries import layer_frame

        if stage is not None and stage not in ("presale", "asbuilt"):
            raise InputError(f"测绘阶段 {shown(stage)} 应为 presale（预测）或 asbuilt（实测）", f"bad stage {shown(stage)}")
        if subdistrict is not None and not (str(subdistrict).isdigit() and len(str(subdistrict)) in (6, 9, 12)):
            raise InputError(f"地籍子区代码 {subdistrict} 应为 6、9 或 12 位数字（县、地籍区、地籍子区）",
                             f"bad subdistrict {subdistrict}")
        as_of = _moment(as_of)
        if bbox is not None and len(bbox) != 4:
            raise InputError("bbox 应有 4 个数：最小x,最小y,最大x,最大y", "bbox needs 4 numbers")
        with self.engine.connect() as connection:
            frame = layer_frame(connection, table, self.storage_srid, subdistrict=subdistrict, bbox=bbox,
                                as_of=as_of, stage=stage)
        return self._owners(frame, viewer, table) if table == "parcel" else frame

    def tile(self, layer: str, z: int, x: int, y: int) -> bytes:
        """One layer of the XYZ vector tile z/x/y (Mapbox Vector Tile bytes; empty below the layer's minzoom or
        where it has nothing)."""
        from cadastre.serve.tiles import check_tile, encode_tile, tile_bounds, tile_layer
        from cadastre.store.features import tile_rows

        spec = tile_layer(layer)
        check_tile(z, x, y)
        if z < spec.minzoom:
            return b""
        bounds = tile_bounds(z, x, y, self.storage_srid)
        with self.lookups.connect() as connection:
            frame = tile_rows(connection, spec, self.storage_srid, bounds)
        return encode_tile({spec.name: frame}, z, x, y)

    # ------------------------------------------------------------------------------- accounts, tokens, audit
    def add_user(self, name: str, role: str, *, password: str | None = None, actor: Principal | None = None) -> None:
        """An account for a person (with a password, for the login) or a system (tokens only)."""
        from cadastre.core.auth import hash_password
        from cadastre.store.auth import insert_account, record

        name = _account_name(name)
        role = Role.parse(role)
        hashed = hash_password(password) if password is not None else None
        with write_transaction(self.engine) as connection:
            insert_account(connection, name, role.value, hashed, datetime.now(UTC))
            record(connection, actor, "user.add", name, {"role": role.value, "password": hashed is not None})

    def update_user(self, name: str, *, role: str | None = None, password: str | None = None,
                    disabled: bool | None = None, upload_quota: int | str | None = None,
                    actor: Principal | None = None) -> None:
        """Change an account's role or password, disable it (its tokens stop working) or enable it again, or set
        its upload quota: bytes per 24 hours (0: none), or ``"default"`` for the service's."""
        from cadastre.core.auth import hash_password
        from cadastre.store.auth import record, update_account

        values: dict = {}
        if role is not None:
            values["role"] = Role.parse(role).value
        if password is not None:
            values["password_hash"] = hash_password(password)
        if disabled is not None:
            values["disabled_at"] = datetime.now(UTC) if disabled else None
        if upload_quota is not None:
            if upload_quota != "default" and not (isinstance(upload_quota, int) and upload_quota >= 0):
                raise InputError("上传配额应为字节数（0 为不限）或 default", f"bad upload quota {upload_quota!r}")
            values["upload_quota_bytes"] = None if upload_quota == "default" else upload_quota
        if not values:
            raise InputError("没有要修改的内容", "nothing to change")
        with write_transaction(self.engine) as connection:
            update_account(connection, name, **values)
            record(connection, actor, "user.update", name,
                   {k: (v if k in ("role", "upload_quota_bytes") else True) for k, v in values.items()
                    if k != "disabled_at"} | ({"disabled": disabled} if disabled is not None else {}))
        self.recent_tokens.clear()

    def users(self):
        from cadastre.store.auth import accounts

        with self.engine.connect() as connection:
            return accounts(connection)

    def issue_token(self, name: str, *, role: str | None = None, label: str | None = None,
                    lifetime: timedelta | None = None, kind: str = "api",
                    actor: Principal | None = None) -> IssuedToken:
        """A bearer token for account ``name``, carrying its role (an admin's account may carry any role, for a
        system that needs less); ``lifetime`` None: until revoked."""
        from cadastre.core.auth import new_token, token_digest
        from cadastre.store.auth import account_row, insert_token, record

        now = datetime.now(UTC)
        with write_transaction(self.engine) as connection:
            account = account_row(connection, name)
            if account["disabled_at"] is not None:
                raise ConflictError(f"用户 {name} 已停用", f"account {name} is disabled")
            granted = Role.parse(role) if role else Role(account["role"])
            if granted.value != account["role"] and account["role"] != Role.ADMIN:
                raise PermissionDenied(f"用户 {name} 的角色是 {account['role']}，不能领取 {granted.value} 令牌",
                                       f"{name} is {account['role']}, not {granted}")
            token = new_token()
            expires = now + lifetime if lifetime is not None else None
            token_id = insert_token(connection, account["id"], role=granted.value, kind=kind, label=label,
                                    digest=token_digest(token), now=now, expires_at=expires)
            record(connection, actor, "token.create" if kind == "api" else "auth.login", name,
                   {"token": token_id, "role": granted.value, "kind": kind,
                    "expires_at": None if expires is None else expires.isoformat()})
        return IssuedToken(token_id, token, name, granted.value, kind, expires)

    def login(self, name: str, password: str, *, source: str | None = None) -> IssuedToken:
        """The OAuth2 password flow: a session token (:data:`cadastre.core.auth.SESSION_LIFETIME`) for a right name
        and password. A wrong one is recorded in the audit log and answered with the same message, in the same
        time, whether the name exists or not. Repeated failures of a name or from an address slow the next
        attempts (:attr:`sign_in_throttle`): one made too early raises :class:`TooManyAttempts` without looking
        at the password."""
        from cadastre.core.auth import SESSION_LIFETIME, check_password
        from cadastre.store.auth import AUDIT_TEXT, account_row, append_audit, sign_in_failures

        name, now = str(name), datetime.now(UTC)
        throttle = self.sign_in_throttle
        with self.engine.connect() as connection:
            account_failures, address_failures = sign_in_failures(connection, name, source, now - throttle.window)
            wait = throttle.wait(account_failures, address_failures, now)
            if wait > 0:
                raise TooManyAttempts(f"登录失败次数过多，请 {math.ceil(wait)} 秒后再试",
                                      f"too many failed sign-ins: wait {wait:.0f} s", retry_after_s=wait)
            account = account_row(connection, name, missing_ok=True)
        usable = account is not None and account["disabled_at"] is None
        if not check_password(account["password_hash"] if usable else None, password):
            after = Failures(account_failures.count + 1, now), Failures(address_failures.count + 1, now)
            locked = throttle.wait(*after, now)
            with write_transaction(self.engine) as connection:  # who tried is not known: no role
                append_audit(connection, actor=name[:AUDIT_TEXT], role=None, action="auth.login_failed",
                             target=name[:AUDIT_TEXT], source=source, now=now,
                             detail={"wait_s": math.ceil(locked)} if locked > 0 else None)
            raise AuthenticationError("用户名或密码错误", "wrong name or password")
        return self.issue_token(account["name"], kind="session", lifetime=SESSION_LIFETIME,
                                actor=Principal(account["name"], Role(account["role"]), source))

    def revoke_token(self, token_id: int, *, actor: Principal | None = None) -> None:
        from cadastre.store.auth import record, revoke_token

        with write_transaction(self.engine) as connection:
            name = revoke_token(connection, int(token_id), datetime.now(UTC))
            record(connection, actor, "token.revoke", name, {"token": int(token_id)})
        self.recent_tokens.clear()

    def tokens(self, name: str | None = None):
        from cadastre.store.auth import tokens

        with self.engine.connect() as connection:
            return tokens(connection, name)

    def principal(self, token: str | None, *, source: str | None = None) -> Principal:
        """Who holds ``token``: :class:`AuthenticationError` unless it is known, live and its account enabled.

        A token found live is trusted for :attr:`recent_tokens` ``.seconds`` (5) without asking the database again:
        a revocation, a disabled account or a new role takes effect at once in this process and within those
        seconds in the service's other worker processes."""
        from cadastre.core.auth import token_digest
        from cadastre.store.auth import token_principal

        if not token:
            raise AuthenticationError("请先登录（需要 Authorization: Bearer 令牌）", "no bearer token")
        digest = token_digest(token)
        known = self._recent_principal(digest, source)
        if known is not None:
            return known
        with self.lookups.connect() as connection:
            found = token_principal(connection, digest, datetime.now(UTC))
        if found is None:
            raise AuthenticationError("令牌无效、已过期或已吊销，请重新登录", "invalid, expired or revoked token")
        name, role, token_id, expires_at = found
        self.recent_tokens.put(digest, (name, role, token_id), expires_at=expires_at)
        return Principal(name, Role(role), source, token_id)

    def cached_principal(self, token: str | None, *, source: str | None = None) -> Principal | None:
        """The holder of ``token`` if it was found live in the last few seconds, without touching the database
        (the service checks this on its event loop); None: ask :meth:`principal`."""
        from cadastre.core.auth import token_digest

        return self._recent_principal(token_digest(token), source) if token else None

    def _recent_principal(self, digest: str, source: str | None) -> Principal | None:
        found = self.recent_tokens.get(digest)
        return None if found is None else Principal(found[0], Role(found[1]), source, found[2])

    def audit(self, action: str, target: object = None, *, actor: Principal | None = None,
              detail: dict | None = None) -> None:
        """Append an event to the audit log (used for reads of owners' names; writes record themselves)."""
        from cadastre.store.auth import record

        with write_transaction(self.engine) as connection:
            record(connection, actor, action, target, detail)

    def audit_log(self, *, since: datetime | None = None, user: str | None = None, action: str | None = None,
                  limit: int = 1000):
        """The audit log, oldest first: the latest ``limit`` events since ``since`` by ``user``."""
        from cadastre.store.auth import audit_rows

        with self.engine.connect() as connection:
            return audit_rows(connection, since=since, actor=user, action=action, limit=limit)

    def _submitter(self, name: str | None) -> Principal:
        """The uploader of a package, as the actor of its processing (the service worker acts for them)."""
        from cadastre.store.auth import account_row

        with self.engine.connect() as connection:
            account = account_row(connection, name, missing_ok=True) if name else None
        return Principal(name or "local", Role(account["role"]) if account else Role.ADMIN, "worker")

    # ------------------------------------------------------------------------------------------ backup, verify
    def backup(self, folder: str | os.PathLike, *, actor: Principal | None = None):
        """A consistent backup of this registry and its originals in ``folder`` (empty or new), with a manifest of
        checksums (:mod:`cadastre.store.backup`); safe while the service runs. ``.problems`` lists originals that
        were missing or damaged."""
        from cadastre.store.auth import record
        from cadastre.store.backup import backup

        result = backup(self.engine, Path(folder))
        with write_transaction(self.engine) as connection:
            record(connection, actor, "registry.backup", str(folder),
                   {"originals": len(result.manifest["originals"]), "problems": len(result.problems)})
        return result

    def verify(self, *, originals: bool = True) -> list:
        """Check the registry's invariants (:mod:`cadastre.qa.integrity`); returns the problems found (empty: sound).
        ``originals=False`` skips hashing every original (the slow part on a large store)."""
        from cadastre.qa import integrity
        from cadastre.qa.integrity import Problem
        from cadastre.store import integrity as stored
        from cadastre.store.originals import originals_root

        problems: list[Problem] = []
        with self.engine.connect() as connection:
            issued = stored.issued_codes(connection)
            problems += integrity.code_problems(issued, stored.code_uses(connection))
            problems += integrity.counter_problems(issued, stored.counters(connection))
            tolerance = float(settings.rules()["geometry"]["overlap_tolerance"])
            problems += integrity.overlap_problems(stored.current_parcel_shapes(connection, self.storage_srid),
                                                   tolerance)
            problems += integrity.package_problems(stored.package_rows(connection))
            files = stored.original_rows(connection)
        if originals:
            root = originals_root(self.engine)
            missing, damaged = [], []
            for sha, relative, size in zip(files["sha256"], files["path"], files["size"], strict=True):
                path = root / relative
                if not path.is_file():
                    missing.append(sha)
                elif path.stat().st_size != size or sha256_of(path) != sha:
                    damaged.append(sha)
            if missing:
                problems.append(Problem("originals", f"{len(missing)} 个原始文件缺失", missing[:20]))
            if damaged:
                problems.append(Problem("originals", f"{len(damaged)} 个原始文件与其 SHA-256 不符（已损坏）",
                                        damaged[:20]))
        order = list(integrity.CHECKS)
        return sorted(problems, key=lambda p: order.index(p.check))

    # ------------------------------------------------------------------------------------------------- summary
    def summary(self) -> Summary:
        counts = {}
        with self.engine.connect() as c:
            for key, table in (("districts", "cadastral_district"), ("subdistricts", "cadastral_subdistrict"),
                               ("parcels", "parcel"), ("buildings", "building"), ("units", "unit")):
                counts[key] = c.execute(sa.text(f"SELECT count(*) FROM {table} WHERE valid_to IS NULL")).scalar_one()
            counts["packages"] = c.execute(sa.text("SELECT count(*) FROM package")).scalar_one()
            counts["issued_codes"] = c.execute(sa.text("SELECT count(*) FROM issued_code")).scalar_one()
            area = c.execute(sa.text("SELECT sum(ST_Area(geom)) FROM cadastral_subdistrict "
                                     "WHERE valid_to IS NULL")).scalar_one()
        return Summary(self.info.counties, self.storage_srid, self.info.dialect,
                       zoned_area_km2=round((area or 0.0) / 1e6, 3), **counts)


def _own_only(viewer: Principal | None) -> str | None:
    """The account whose packages alone ``viewer`` may see (a surveyor: their own), None for every package."""
    return None if viewer is None or viewer.can(Permission.READ_ALL_PACKAGES) else viewer.name


def _collection(name: str):
    from cadastre.serve.features import COLLECTIONS

    try:
        return COLLECTIONS[name]
    except KeyError:
        raise NotFoundError(f"没有要素集合 {name}：可用 {', '.join(COLLECTIONS)}", f"no collection {name}") from None


def _account_name(name: str) -> str:
    name = str(name).strip()
    if not name or len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise InputError("用户名应为 1–64 个可见字符，不含空格", f"bad account name {name!r}")
    return name


def restore_registry(folder: str | os.PathLike, url: str, *, originals: str | os.PathLike | None = None) -> Registry:
    """Restore the backup in ``folder`` (:meth:`Registry.backup`) into the empty database at ``url`` and an empty
    originals folder, after checking every file of the backup against its manifest; returns the registry."""
    from cadastre.store.backup import restore

    restore(Path(folder), url, None if originals is None else Path(originals))
    return open_registry(url)


def open_registry(url: str | None = None) -> Registry:
    """Open an initialised registry (URL: argument, ``CADASTRE_DB``, or the default SpatiaLite file)."""
    return Registry(create_engine(url, must_exist=True))


def init_registry(url: str | None = None, counties: Sequence[str] = ()) -> Registry:
    """Create the registry for ``counties`` (or migrate an existing one) and open it."""
    engine = create_engine(url)
    init_database(engine, counties)
    return Registry(engine)
