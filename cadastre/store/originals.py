"""Original uploads, kept byte for byte and addressed by SHA-256.

The bytes go to a content-addressed directory (``<root>/ab/abcdef….bin``), written atomically before the database
transaction that records them: a failed load may leave a file nobody refers to, never a row without its bytes.
The root is ``CADASTRE_ORIGINALS``, else ``originals/`` beside a SQLite database file, else ``./var/originals``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cadastre.core.errors import CorruptOriginal
from cadastre.core.files import CHUNK, sha256_of
from cadastre.store.engine import translate
from cadastre.store.models import Original, Package, ZoningImport

__all__ = ["StoredOriginal", "originals_root", "keep_original", "original_path", "package_original",
           "refused_originals", "mark_purged"]

@dataclass(frozen=True)
class StoredOriginal:
    sha256: str
    filename: str
    size: int
    path: Path
    new: bool  # False when byte-identical bytes were stored before


def originals_root(engine: Engine | Connection) -> Path:
    env = os.environ.get("CADASTRE_ORIGINALS")
    if env:
        return Path(env)
    url = engine.engine.url if isinstance(engine, Connection) else engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent / "originals"
    return Path("var/originals").resolve()


def original_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / f"{sha256}.bin"


def keep_original(connection: Connection, source: Path, filename: str | None = None) -> StoredOriginal:
    """Copy ``source`` into the originals store (if new) and record it in the ``original`` table."""
    root = originals_root(connection)
    digest = sha256_of(source)
    target = original_path(root, digest)
    size = source.stat().st_size
    if not target.exists():
        try:
            _write_atomically(source, target)
        except OSError as e:
            raise translate(e) or e from None
    elif target.stat().st_size != size or sha256_of(target) != digest:
        raise CorruptOriginal(f"原始文件库中 SHA-256 为 {digest[:12]}… 的文件已损坏（校验和不符），请管理员从备份恢复",
                              f"stored original {digest} is corrupt (checksum mismatch)")
    name = filename or source.name
    # two uploads of the same bytes at once both get here: one row, and neither fails on the other's
    inserted = connection.execute(
        sa.text("INSERT INTO original (sha256, filename, size, path, received_at) "
                "VALUES (:h, :name, :size, :path, :now) ON CONFLICT (sha256) DO NOTHING"),
        {"h": digest, "name": name, "size": size, "path": str(target.relative_to(root)), "now": datetime.now(UTC)},
    ).rowcount
    return StoredOriginal(digest, name, size, target, inserted == 1)


def _write_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file in the same folder, renamed when complete and on
    disk: readers see the whole file or none. A failed copy (a full disk) leaves no temporary file behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise



def package_original(connection: Connection, package_id: int):
    """The ``original`` row of a package's bytes (path, filename, sha256, size, purged_at), or None."""
    return connection.execute(sa.select(Original.path, Original.filename, Original.sha256, Original.size,
                                        Original.purged_at)
                              .join(Package, Package.sha256 == Original.sha256)
                              .where(Package.id == package_id)).first()


def refused_originals(connection: Connection, decided_before: datetime) -> list:
    """Originals kept only for packages refused before ``decided_before`` (sha256, path, size, package ids), not
    purged yet: bytes no accepted, rejected, received or zoning record needs."""
    other_use = sa.or_(
        sa.exists().where(Package.sha256 == Original.sha256,
                          sa.or_(Package.status != "refused", Package.decided_at.is_(None),
                                 Package.decided_at >= decided_before)),
        sa.exists().where(ZoningImport.sha256 == Original.sha256))
    rows = connection.execute(
        sa.select(Original.sha256, Original.path, Original.size)
        .where(Original.purged_at.is_(None), sa.exists().where(Package.sha256 == Original.sha256), ~other_use)
        .order_by(Original.sha256)).all()
    if not rows:
        return []
    ids = connection.execute(sa.select(Package.sha256, Package.id).where(
        Package.sha256.in_([r.sha256 for r in rows]))).all()
    by_sha: dict[str, list[int]] = {}
    for sha, package_id in ids:
        by_sha.setdefault(sha, []).append(int(package_id))
    return [(r.sha256, r.path, int(r.size), sorted(by_sha[r.sha256])) for r in rows]


def mark_purged(connection: Connection, shas: list[str], now: datetime, reason: str) -> None:
    """Record that the bytes of ``shas`` were deleted (the rows stay: what was received, and when, is history)."""
    if shas:
        connection.execute(sa.update(Original).where(Original.sha256.in_(shas)).values(purged_at=now,
                                                                                        purge_reason=reason))
