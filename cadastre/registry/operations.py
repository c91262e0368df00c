"""Operating a registry: a consistent backup while the service runs, restoring one into an empty place, and
checking the registry's invariants (``cadastre backup`` / ``restore`` / ``verify``)."""

from __future__ import annotations

import os
from pathlib import Path

from cadastre.core import settings
from cadastre.core.auth import Principal
from cadastre.core.errors import InputError
from cadastre.core.files import sha256_of
from cadastre.qa import integrity
from cadastre.qa.integrity import CHECKS, Problem
from cadastre.registry.context import Context
from cadastre.store import integrity as stored
from cadastre.store.auth import record
from cadastre.store.backup import (
    BackupResult,
    check_backup,
    dump,
    is_empty,
    restore_database,
    restore_originals,
)
from cadastre.store.engine import create_engine, is_sqlite, redact, write_transaction
from cadastre.store.originals import originals_root

__all__ = ["backup", "restore", "verify", "CHECKS"]


def backup(ctx: Context, folder: str | os.PathLike, *, actor: Principal | None = None) -> BackupResult:
    """A consistent backup of this registry and its originals in ``folder`` (empty or new), with a manifest of
    checksums (:mod:`cadastre.store.backup`); safe while the service runs. ``.problems`` lists originals that
    were missing or damaged."""
    with ctx.engine.connect() as connection:
        if not is_sqlite(connection):  # the dump, the list of originals and the counts: one snapshot
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            result = dump(connection, Path(folder), originals_root(ctx.engine))
    with write_transaction(ctx.engine) as connection:
        record(connection, actor, "registry.backup", str(folder),
               {"originals": len(result.manifest["originals"]), "problems": len(result.problems)})
    return result


def restore(folder: str | os.PathLike, url: str, originals: str | os.PathLike | None = None) -> dict:
    """Restore the backup in ``folder`` into the empty database at ``url`` and an empty originals folder
    (default: where that database keeps them), after checking every file of the backup against its manifest.
    Returns the manifest."""
    folder = Path(folder)
    manifest = check_backup(folder)
    engine = create_engine(url)
    try:
        if engine.dialect.name != manifest["engine"]:
            raise InputError(f"备份来自 {manifest['engine']}，不能恢复到 {engine.dialect.name}",
                             f"a {manifest['engine']} backup cannot be restored into {engine.dialect.name}")
        root = Path(originals) if originals else originals_root(engine)
        if root.exists() and any(root.iterdir()):
            raise InputError(f"原始文件目录 {root} 不是空的：恢复只能恢复到空的位置", f"{root} is not empty")
        if not is_sqlite(engine):
            with engine.connect() as connection:
                if not is_empty(connection):
                    raise InputError(f"数据库 {redact(url)} 不是空的：恢复只能恢复到空的数据库",
                                     f"database {redact(url)} is not empty")
        restore_database(manifest, folder, engine)
        restore_originals(manifest, folder, root)
        return manifest
    finally:
        engine.dispose()


def verify(ctx: Context, *, originals: bool = True) -> list[Problem]:
    """Check the registry's invariants (:mod:`cadastre.qa.integrity`); returns the problems found (empty: sound).
    ``originals=False`` skips hashing every original (the slow part on a large store)."""
    problems: list[Problem] = []
    with ctx.engine.connect() as connection:
        issued = stored.issued_codes(connection)
        problems += integrity.code_problems(issued, stored.code_uses(connection))
        problems += integrity.counter_problems(issued, stored.counters(connection))
        tolerance = float(settings.tolerances()["geometry"]["overlap_tolerance"])
        problems += integrity.overlap_problems(stored.current_parcel_shapes(connection, ctx.srid), tolerance)
        problems += integrity.package_problems(stored.package_rows(connection))
        files = stored.original_rows(connection)
    if originals:
        problems += _original_problems(originals_root(ctx.engine), files)
    order = list(integrity.CHECKS)
    return sorted(problems, key=lambda p: order.index(p.check))


def _original_problems(root: Path, files) -> list[Problem]:
    missing, damaged = [], []
    for sha, relative, size in zip(files["sha256"], files["path"], files["size"], strict=True):
        path = root / relative
        if not path.is_file():
            missing.append(sha)
        elif path.stat().st_size != size or sha256_of(path) != sha:
            damaged.append(sha)
    problems = []
    if missing:
        problems.append(Problem("originals", f"{len(missing)} 个原始文件缺失", missing[:20]))
    if damaged:
        problems.append(Problem("originals", f"{len(damaged)} 个原始文件与其 SHA-256 不符（已损坏）", damaged[:20]))
    return problems
