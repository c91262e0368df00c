"""Consistent snapshots of the registry's database and its originals, and restoring them into an empty place.

A backup is a folder:

- ``registry.sqlite`` (SQLite: ``VACUUM INTO``, a transaction-consistent copy taken while the service runs; a plain
  copy of the file misses what sits in the write-ahead log) or ``registry.dump`` (PostgreSQL: ``pg_dump`` in its
  custom format, taken in a snapshot exported from our own transaction);
- ``originals/``: the uploaded bytes the snapshot refers to, content-addressed as in the live store, each hashed
  while it is copied;
- ``manifest.json``: what was backed up — engine, schema revision, counties, counts — and the SHA-256 and size of
  every file, so that :func:`check_backup` can tell a damaged backup before anything is restored.

Restoring goes into an empty place only (a SQLite path that does not exist, an empty PostgreSQL database, an empty
originals folder): a restore never merges into, or overwrites, a registry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cadastre.core.errors import DatabaseError, InputError
from cadastre.core.files import CHUNK, sha256_of
from cadastre.store.engine import create_engine, is_sqlite, redact
from cadastre.store.originals import original_path, originals_root

__all__ = ["BackupResult", "backup", "check_backup", "restore", "MANIFEST", "FORMAT"]

MANIFEST = "manifest.json"
FORMAT = "cadastre-backup/1"
_SQLITE_FILE, _PG_FILE = "registry.sqlite", "registry.dump"


@dataclass
class BackupResult:
    """What a backup holds, and the originals it could not copy intact (missing, or not matching their SHA-256)."""

    folder: Path
    manifest: dict
    problems: list[str] = field(default_factory=list)


def _tool(name: str) -> str:
    """A PostgreSQL client program: on the PATH, else the newest under /usr/lib/postgresql (Debian)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
    if candidates:
        return str(candidates[-1])
    raise DatabaseError(f"找不到 {name}：请安装 Debian 软件包 postgresql-client", f"{name} not found")


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it."""
    url = engine.url
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    parts = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None), env


def _copy_hashed(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` and return the SHA-256 of the bytes copied (one read of the source)."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("wb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _originals_in(connection) -> list[tuple[str, int]]:
    rows = connection.execute(sa.text("SELECT sha256, size FROM original WHERE purged_at IS NULL ORDER BY sha256"))
    return [(r[0], int(r[1])) for r in rows]


def _describe(connection) -> dict:
    from cadastre.store.schema import _read_registry

    registry = _read_registry(connection)
    revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    counts = {table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
              for table in ("package", "parcel", "building", "unit", "issued_code", "code_counter", "audit_event")}
    return {"counties": list(registry.counties), "storage_srid": int(registry.storage_srid), "revision": revision,
            "counts": counts}


def backup(engine: Engine, folder: Path) -> BackupResult:
    """Back up the registry behind ``engine`` and its originals into ``folder`` (created; it must be empty)."""
    from cadastre import __version__

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"备份目录 {folder} 不是空的：请给出新的或空的目录", f"backup folder {folder} is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    root = originals_root(engine)
    if is_sqlite(engine):
        database = folder / _SQLITE_FILE
        raw = engine.raw_connection()  # outside any transaction: VACUUM runs in its own
        try:
            raw.driver_connection.execute("VACUUM INTO ?", (str(database),))
        finally:
            raw.close()
        snapshot = create_engine(f"sqlite:///{database}")
        try:
            with snapshot.connect() as connection:
                originals, described = _originals_in(connection), _describe(connection)
        finally:
            snapshot.dispose()
    else:
        database = folder / _PG_FILE
        target, env = _libpq(engine)
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                snapshot_id = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
                originals, described = _originals_in(connection), _describe(connection)
                done = subprocess.run([_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot_id}",
                                       "--no-owner", f"--file={database}", target],
                                      env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise DatabaseError(f"pg_dump 失败：{done.stderr.strip()[-500:]}", f"pg_dump failed: {done.stderr}")
    files, problems = [], []
    for sha, size in originals:
        relative = original_path(Path("originals"), sha)
        source = original_path(root, sha)
        if not source.is_file():
            problems.append(f"原始文件 {sha} 缺失，未备份")
            continue
        copied = _copy_hashed(source, folder / relative)
        if copied != sha:
            problems.append(f"原始文件 {sha} 已损坏（内容的 SHA-256 为 {copied}），已按现状备份")
        files.append({"path": relative.as_posix(), "sha256": copied, "size": (folder / relative).stat().st_size})
    manifest = {
        "format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "cadastre_version": __version__,
        "engine": engine.dialect.name, "source": redact(engine.url.render_as_string(False)), **described,
        "database": {"path": database.name, "sha256": sha256_of(database), "size": database.stat().st_size},
        "originals": files, "problems": problems,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return BackupResult(folder, manifest, problems)


def check_backup(folder: Path) -> dict:
    """The manifest of the backup in ``folder`` once every file has been found whole (:class:`InputError`
    names the first that is not)."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(f"{folder} 不是 cadastre 备份（缺少或无法读取 {MANIFEST}）",
                         f"{folder} is not a cadastre backup") from None
    if manifest.get("format") != FORMAT:
        raise InputError(f"{folder} 的备份格式 {manifest.get('format')} 无法识别", "unknown backup format")
    for entry in [manifest["database"], *manifest["originals"]]:
        path = folder / entry["path"]
        if not path.is_file() or path.stat().st_size != entry["size"] or sha256_of(path) != entry["sha256"]:
            raise InputError(f"备份中的 {entry['path']} 缺失或已损坏（与清单中的 SHA-256 不符），未恢复任何内容",
                             f"{entry['path']} in the backup is missing or damaged")
    return manifest


def _empty_postgres(engine: Engine) -> bool:
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    return not (tables - {"spatial_ref_sys"})


def restore(folder: Path, url: str, originals: Path | None = None) -> dict:
    """Restore the backup in ``folder`` into the empty database at ``url`` and an empty originals folder
    (``originals``; default: where that database keeps them). Checks every file of the backup first."""
    manifest = check_backup(folder)
    engine = create_engine(url)
    try:
        if engine.dialect.name != manifest["engine"]:
            raise InputError(f"备份来自 {manifest['engine']}，不能恢复到 {engine.dialect.name}",
                             f"a {manifest['engine']} backup cannot be restored into {engine.dialect.name}")
        root = Path(originals) if originals else originals_root(engine)
        if root.exists() and any(root.iterdir()):
            raise InputError(f"原始文件目录 {root} 不是空的：恢复只能恢复到空的位置", f"{root} is not empty")
        source = folder / manifest["database"]["path"]
        if is_sqlite(engine):
            target = Path(engine.url.database or "")
            if target.exists() and target.stat().st_size > 0:
                raise InputError(f"数据库文件 {target} 已存在：恢复只能恢复到空的位置", f"{target} exists")
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".restoring-", delete=False) as tmp:
                partial = Path(tmp.name)
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        else:
            if not _empty_postgres(engine):
                raise InputError(f"数据库 {redact(url)} 不是空的：恢复只能恢复到空的数据库",
                                 f"database {redact(url)} is not empty")
            target_db, env = _libpq(engine)
            done = subprocess.run([_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
                                   f"--dbname={target_db}", str(source)], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise DatabaseError(f"pg_restore 失败：{done.stderr.strip()[-500:]}", f"pg_restore failed: {done.stderr}")
        for entry in manifest["originals"]:
            sha = entry["sha256"]
            target = original_path(root, sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / entry["path"], target)
        return manifest
    finally:
        engine.dispose()
