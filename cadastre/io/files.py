"""Uploads as files: checksums, and a folder turned into one reproducible file."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CHUNK", "sha256_of", "single_file"]

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def single_file(path: Path) -> Iterator[Path]:
    """``path`` itself for a file; for a folder, a deterministic zip of its files (sorted names, fixed times), so
    an upload given as a folder is kept byte for byte too and the same folder always gives the same checksum."""
    if not path.is_dir():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="cadastre-folder-") as tmp:
        archive = Path(tmp) / f"{path.name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
                info = zipfile.ZipInfo(file.relative_to(path).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, file.read_bytes())
        yield archive
