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
from sqlalchemy.engine import Connection, Engine

from cadastre.core import __version__
from cadastre.core.errors import DatabaseError, InputError
from cadastre.core.files import CHUNK, sha256_of
from cadastre.store.engine import is_sqlite, redact
from cadastre.store.originals import original_path
from cadastre.store.schema import _read_setup

__all__ = ["BackupResult", "dump", "check_backup", "is_empty", "restore_database", "restore_originals", "MANIFEST",
           "FORMAT"]

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
    setup = _read_setup(connection)
    revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    counts = {table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
              for table in ("package", "parcel", "building", "unit", "issued_code", "code_counter", "audit_event")}
    return {"counties": list(setup.counties), "storage_srid": int(setup.storage_srid), "revision": revision,
            "counts": counts}


def dump(connection: Connection, folder: Path, originals: Path) -> BackupResult:
    """Back up the registry behind ``connection`` — which the caller holds in one read transaction (REPEATABLE
    READ on PostgreSQL), so that the database snapshot, the list of originals and the counts all describe the same
    moment — and the originals under ``originals``, into ``folder`` (created; it must be empty)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"备份目录 {folder} 不是空的：请给出新的或空的目录", f"backup folder {folder} is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    listed, described = _originals_in(connection), _describe(connection)
    if is_sqlite(connection):
        import sqlean

        database = folder / _SQLITE_FILE
        target = sqlean.connect(str(database))
        try:  # SQLite's online backup through the reading connection copies what its transaction sees
            connection.connection.driver_connection.backup(target)
        finally:
            target.close()
    else:
        database = folder / _PG_FILE
        snapshot_id = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
        target, env = _libpq(connection.engine)
        done = subprocess.run([_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot_id}", "--no-owner",
                               f"--file={database}", target], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise DatabaseError(f"pg_dump 失败：{done.stderr.strip()[-500:]}", f"pg_dump failed: {done.stderr}")
    files, problems = [], []
    for sha, _size in listed:
        relative = original_path(Path("originals"), sha)
        source = original_path(originals, sha)
        if not source.is_file():
            problems.append(f"原始文件 {sha} 缺失，未备份")
            continue
        copied = _copy_hashed(source, folder / relative)
        if copied != sha:
            problems.append(f"原始文件 {sha} 已损坏（内容的 SHA-256 为 {copied}），已按现状备份")
        files.append({"path": relative.as_posix(), "sha256": copied, "size": (folder / relative).stat().st_size})
    manifest = {
        "format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "cadastre_version": __version__,
        "engine": connection.dialect.name, "source": redact(connection.engine.url.render_as_string(False)),
        **described, "database": {"path": database.name, "sha256": sha256_of(database),
                                  "size": database.stat().st_size},
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


def is_empty(connection: Connection) -> bool:
    """Whether the database behind ``connection`` holds no table of ours (PostGIS's own may be there)."""
    return not (set(sa.inspect(connection).get_table_names()) - {"spatial_ref_sys"})


def restore_database(manifest: dict, folder: Path, engine: Engine) -> None:
    """Put the backup's database into the empty place ``engine`` points at: a SQLite file written whole then
    renamed, or ``pg_restore`` in one transaction (the caller made sure the database is empty)."""
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
        return
    target_db, env = _libpq(engine)
    done = subprocess.run([_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
                           f"--dbname={target_db}", str(source)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise DatabaseError(f"pg_restore 失败：{done.stderr.strip()[-500:]}", f"pg_restore failed: {done.stderr}")


def restore_originals(manifest: dict, folder: Path, root: Path) -> None:
    """Copy the backup's originals into the empty originals folder ``root``."""
    if root.exists() and any(root.iterdir()):
        raise InputError(f"原始文件目录 {root} 不是空的：恢复只能恢复到空的位置", f"{root} is not empty")
    for entry in manifest["originals"]:
        target = original_path(root, entry["sha256"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / entry["path"], target)
