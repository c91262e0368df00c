"""Packages as the service takes them: received at once (the original kept, counted against the uploader's quota),
processed in the background by a worker that claims them (``cadastre.core.workers``), tried again after transient
failures, their refused bytes deleted after their retention period; their state, original and report."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cadastre.core import settings, workers
from cadastre.core.auth import Permission, Principal
from cadastre.core.errors import (
    CadastreError,
    ConflictError,
    CorruptOriginal,
    Gone,
    InputError,
    NotFoundError,
    QuotaExceeded,
)
from cadastre.core.events import Event, package_links
from cadastre.core.files import sha256_of
from cadastre.core.progress import Progress, safe
from cadastre.qa.render import render_html
from cadastre.qa.report import Report
from cadastre.read.container import sniff
from cadastre.read.package import read_package
from cadastre.registry import access
from cadastre.registry.context import Context, OriginalFile, Received, byte_size, frame_time
from cadastre.registry.events import emit
from cadastre.registry.ingest import ingest_package
from cadastre.store.auth import account_row, record
from cadastre.store.engine import serialise, write_transaction
from cadastre.store.originals import (
    keep_original,
    mark_purged,
    originals_root,
    package_original,
    refused_originals,
)
from cadastre.store.packages import (
    claim_package,
    claims,
    heartbeat,
    package_by_checksum,
    package_list,
    package_state,
    receive_package,
    release_package,
    set_progress,
    uploaded_bytes,
)
from cadastre.store.spatial import aware

__all__ = ["receive", "process", "packages_due", "package", "packages", "original", "purge_refused", "report",
           "report_html"]

log = logging.getLogger("cadastre.registry")

#: a package's progress row takes a new percent at most this often (a new stage at once): each record is a commit,
#: and a page following the package is answered on each; the project's check moved a percent every 0.02 s
PROGRESS_EVERY_S = 0.25


def _decided(state):
    """The report of a stored package's state; ConflictError while it is processed."""
    if state.report is None:
        raise ConflictError(f"成果包 {state.id} 尚在处理中，报告还没有生成", f"package {state.id} not processed yet")
    return state.report


def _report_of(state) -> Report:
    """The :class:`cadastre.qa.report.Report` of a stored package's state; ConflictError while it is processed."""
    return Report.from_dict(_decided(state))


def receive(ctx: Context, path: str | os.PathLike, *, filename: str | None = None,
            submitted_by: str | None = None, actor: Principal | None = None) -> Received:
    """Keep an uploaded package and record it as received, to be processed by :func:`process` (the service
    answers the upload at once with this id). Bytes received before give that package's id back
    (``duplicate``); processing it again accepts a rejected package whose errors have all been waived since.

    New bytes count toward the submitting account's upload quota over the last 24 hours
    (``service.toml`` ``[uploads]``, or the account's own): past it, :class:`QuotaExceeded`."""
    path = Path(path)
    name = filename or path.name
    if path.is_file() and sniff(path) is None:  # what it is comes from its content, not its name
        raise InputError(f"无法识别的文件类型：{name}（应为 zip 压缩包、GeoPackage、GeoJSON 或个人地理数据库 .mdb）",
                         f"{name} is neither a zip, a GeoPackage, a GeoJSON nor a personal geodatabase")
    digest = sha256_of(path)
    with write_transaction(ctx.engine) as connection:
        serialise(connection, f"package:{digest}")  # the same bytes uploaded at once: one package
        known = package_by_checksum(connection, digest)
        if known is not None:
            return Received(int(known.id), digest, duplicate=True)
        if submitted_by is not None:
            serialise(connection, f"uploads:{submitted_by}")  # two uploads at once count against one quota
            _within_quota(ctx, connection, submitted_by, path.stat().st_size, actor)
        original = keep_original(connection, path, name)
        package_id = receive_package(connection, original, submitted_by)
        record(connection, actor, "package.upload", package_id, {"filename": name,
                                                                 "sha256": digest, "size": original.size})
        emit(connection, [Event("package.received", {"package_id": package_id, "filename": name,
                                                     "sha256": digest, "size": int(original.size),
                                                     "links": package_links(package_id)})])
        return Received(package_id, digest, duplicate=False)


def _within_quota(ctx: Context, connection, name: str, size: int, actor: Principal | None) -> None:
    """Refuse an upload that would take ``name`` past its quota of bytes over the last 24 hours (an
    administrator's own uploads are not counted)."""
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
            f"{name} 近 24 小时已上传 {byte_size(used)}，加上本文件 {byte_size(size)} 超过上传配额 "
            f"{byte_size(quota)}；"
            f"请 {math.ceil(wait / 3600)} 小时后再上传，或请管理员调整配额",
            f"upload quota of {name} exceeded: {used} + {size} > {quota} bytes", retry_after_s=wait)


def process(ctx: Context, package_id: int, *, progress: Progress | None = None, actor: Principal | None = None,
            retry: bool = False):
    """Process a received package (check, store, accept when clean) and record its progress as it goes, so
    that :func:`package` shows it. Returns the :class:`~cadastre.registry.ingest.IngestResult`, or None when a live
    worker holds the package, it is waiting for its next try, or it was decided already (a rejected one is
    looked at again for waivers).

    The claim carries this process's identity and a heartbeat (:mod:`cadastre.core.workers`): if the process dies,
    another worker takes the package up (at once on the same host). A transient failure (the database away,
    a full disk) schedules another try with growing delays; any other failure waits for a person.
    ``retry``: try a failed or waiting package now (a registrar's request, or the same bytes uploaded again).
    ``progress`` hears each change of the progress row once it is recorded (a new stage; a percent more, at most
    every :data:`PROGRESS_EVERY_S`; done); a rejected package looked at again records none, and its caller hears the
    steps of its check."""
    state = package(ctx, package_id, report=False)
    actor = actor or access.submitter(ctx, state.submitted_by)
    if state.status == "rejected":
        upload = original(ctx, package_id)
        return ingest_package(ctx, upload.path, progress=progress, actor=actor, name=upload.filename)
    if state.status != "received":
        return None
    me, now = workers.identity(), datetime.now(UTC)
    with write_transaction(ctx.engine) as connection:
        found = claims(connection, [package_id])
        if found.empty:
            return None
        row = found.iloc[0]
        previous = row["claimed_by"] if isinstance(row["claimed_by"], str) else None
        if not workers.due(row["stage"], previous, frame_time(row["heartbeat_at"]), frame_time(row["retry_at"]),
                           now, retry=retry):
            return None
        if not claim_package(connection, package_id, me, previous, now):
            return None
    shown = safe(progress)
    last = {"stage": None, "percent": -1.0, "at": 0.0}

    def kept(stage: str, fraction: float) -> None:  # on the package's progress row, then told to the caller
        now = time.monotonic()
        if stage != last["stage"] or (100 * fraction - last["percent"] >= 1.0
                                      and now - last["at"] >= PROGRESS_EVERY_S):
            with write_transaction(ctx.engine) as c:
                set_progress(c, package_id, stage, fraction)
            last.update(stage=stage, percent=100 * fraction, at=now)
            shown(stage, fraction)  # after the row: a caller told of a change finds it recorded (api.jobs)

    try:
        with _claim_kept(ctx, package_id, me):
            upload = original(ctx, package_id)  # kept under its checksum; read under the name it was uploaded as
            result = ingest_package(ctx, upload.path, package_id=package_id, progress=safe(kept), actor=actor,
                                    name=upload.filename)
    except Exception as e:
        _release_failed(ctx, package_id, me, int(row["attempts"]) + 1, e)
        raise
    with write_transaction(ctx.engine) as c:
        set_progress(c, package_id, "done", 1.0)
    shown("done", 1.0)
    return result


@contextmanager
def _claim_kept(ctx: Context, package_id: int, worker: str):
    """Refresh the claim's heartbeat from a thread of its own while the body works (see cadastre.core.workers)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(workers.HEARTBEAT_S):
            try:
                with write_transaction(ctx.engine) as c:
                    heartbeat(c, package_id, worker, datetime.now(UTC))
            except CadastreError:  # the database is away: the claim lapses if it stays away
                continue

    thread = threading.Thread(target=beat, daemon=True, name=f"cadastre-claim-{package_id}")
    thread.start()
    try:
        yield
    finally:
        stop.set()  # not joined: a heartbeat waiting for the SQLite write lock ends by itself


def _release_failed(ctx: Context, package_id: int, worker: str, attempts: int, error: Exception) -> None:
    """Let a package go after a failed attempt, saying why in Chinese and when it is tried again."""
    message = error.message_zh if isinstance(error, CadastreError) else f"内部错误：{type(error).__name__}"
    delay = workers.retry_delay(attempts) if workers.transient(error) else None
    retry_at = None if delay is None else datetime.now(UTC) + timedelta(seconds=delay)
    if retry_at is not None:
        message += f"；将于 {retry_at.astimezone():%H:%M:%S} 自动重试（已失败 {attempts} 次）"
    elif workers.transient(error):
        message += f"；已自动重试 {attempts} 次仍未成功，请登记员重新处理"
    try:
        with write_transaction(ctx.engine) as c:
            release_package(c, package_id, worker, stage="waiting" if retry_at else "failed", error=message,
                            attempts=attempts, retry_at=retry_at)
    except CadastreError:  # the database is still away: the claim lapses and the package is taken up again
        log.warning("package %s: could not record the failed attempt", package_id)


def packages_due(ctx: Context) -> list[int]:
    """Received packages a worker may take now: never taken, their worker gone, or their next try due."""
    now = datetime.now(UTC)
    with ctx.engine.connect() as connection:
        frame = claims(connection)
    return [int(r.package_id) for r in frame.itertuples()
            if workers.due(r.stage, r.claimed_by if isinstance(r.claimed_by, str) else None,
                           frame_time(r.heartbeat_at), frame_time(r.retry_at), now)]


def package(ctx: Context, package_id: int, *, report: bool = True, summary: bool = False, embedded: bool = False):
    """A stored package: status, processing stage and percent, and (with ``report``) its report — ``summary``:
    without its per-unit lists, their sizes in ``assigned_counts`` and ``comparison_summary`` (what a status page
    shows; :func:`report` has everything); ``embedded``: as JSON text, for a response to carry as it is
    (:func:`cadastre.core.jsontext.embedded`)."""
    with ctx.engine.connect() as connection:
        return package_state(connection, package_id, report=report, summary=summary, embedded=embedded)


def packages(ctx: Context, *, submitted_by: str | None = None, status: str | None = None, limit: int = 100,
             before: int | None = None):
    """Stored packages, newest first (``before``: an id, for the next page)."""
    with ctx.engine.connect() as connection:
        return package_list(connection, submitted_by=submitted_by, status=status, limit=limit, before=before)


def original(ctx: Context, package_id: int, *, verify: bool = False) -> OriginalFile:
    """The original bytes of a package as uploaded: path, file name, SHA-256 and size. ``verify``: read them
    and refuse (:class:`CorruptOriginal`) bytes that no longer match their SHA-256, as the service does
    before it hands them out. Missing bytes are :class:`CorruptOriginal` too; the bytes of a refused upload
    deleted after their retention period are :class:`Gone`."""
    with ctx.engine.connect() as connection:
        row = package_original(connection, package_id)
    if row is None:
        raise NotFoundError(f"成果包 {package_id} 不存在", f"package {package_id} does not exist")
    if row.purged_at is not None:
        raise Gone(f"成果包 {package_id} 被拒收，其原始文件已于 {aware(row.purged_at):%Y-%m-%d} 按保留期限删除",
                   f"the original of refused package {package_id} was deleted after its retention period")
    path = originals_root(ctx.engine) / row.path
    if not path.is_file():
        raise CorruptOriginal(f"成果包 {package_id} 的原始文件缺失，请管理员从备份恢复（cadastre verify 可查出全部缺失）",
                              f"the original of package {package_id} is missing")
    if verify and (path.stat().st_size != row.size or sha256_of(path) != row.sha256):
        raise CorruptOriginal(f"成果包 {package_id} 的原始文件已损坏（与 SHA-256 校验和不符），不予提供；"
                              "请管理员从备份恢复", f"the original of package {package_id} does not match its SHA-256")
    return OriginalFile(path, row.filename, row.sha256, int(row.size))


def purge_refused(ctx: Context, *, retention: timedelta | None = None, dry_run: bool = False,
                  actor: Principal | None = None) -> list[dict]:
    """Delete the bytes of uploads refused longer ago than ``retention`` (default ``service.toml``
    ``[uploads] refused_retention_days``, 30 days) that nothing else needs; their packages keep the refusal
    and the original's row records when and why its bytes went. Returns what was (or, with ``dry_run``, would
    be) deleted."""
    if retention is None:
        retention = timedelta(days=float(settings.service()["uploads"]["refused_retention_days"]))
    days = retention.total_seconds() / 86400
    now = datetime.now(UTC)
    with write_transaction(ctx.engine) as connection:
        found = refused_originals(connection, now - retention)
        purged = [{"sha256": sha, "size": size, "packages": ids} for sha, _, size, ids in found]
        if dry_run or not found:
            return purged
        mark_purged(connection, [sha for sha, *_ in found], now, f"拒收文件保留 {days:g} 天期满")
        record(connection, actor, "original.purge", None, {"originals": len(found),
                                                           "bytes": sum(size for _, _, size, _ in found)})
    root = originals_root(ctx.engine)
    for _, relative, _, _ in found:  # after the commit: a failed one leaves bytes, never a row without them
        (root / relative).unlink(missing_ok=True)
    return purged


def report(ctx: Context, package_id: int):
    """The report of a stored package as a :class:`cadastre.qa.report.Report` (findings, counts, planning
    indicators, what was accepted and coded); ConflictError while it is still being processed."""
    return _report_of(package(ctx, package_id))


def report_json(ctx: Context, package_id: int, *, embedded: bool = False):
    """The report of a stored package as the JSON document ``ingest`` returned (``cadastre check --json``'s,
    with what was coded: ``assigned``, ``comparison``); ``embedded``: its stored text, for a response to carry as
    it is (:func:`cadastre.core.jsontext.embedded`). ConflictError while it is still being processed."""
    return _decided(package(ctx, package_id, embedded=embedded))


def report_html(ctx: Context, package_id: int) -> str:
    """The Chinese HTML report of a stored package (maps drawn from its original)."""
    state = package(ctx, package_id)
    document = _report_of(state)
    read = None
    if not document.refused:
        try:
            upload = original(ctx, package_id)
            read = read_package(upload.path, county=state.county, storage_epsg=ctx.srid, name=upload.filename)
        except CadastreError:
            read = None
    return render_html(document, read)
