"""Uploads as files: checksums, and a folder turned into one reproducible file."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CHUNK", "sha256_of", "single_file"]

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, or of a folder as :func:`single_file` packs it (computed without writing the zip)."""
    h = hashlib.sha256()
    if path.is_dir():
        _pack(path, _Sink(h.update))
        return h.hexdigest()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class _Sink:
    """A write-only, non-seekable stream: zipfile then writes the same bytes to it whatever is behind it."""

    def __init__(self, write) -> None:
        self._write = write
        self._position = 0

    def write(self, data) -> int:
        self._write(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass


def _pack(folder: Path, sink: _Sink) -> None:
    """The folder's files as a zip: sorted names, fixed times, stored (not deflated: a faithful copy is the point,
    and compressing costs seconds)."""
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as zf:
        for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            info = zipfile.ZipInfo(file.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            with file.open("rb") as src, zf.open(info, "w", force_zip64=True) as out:
                shutil.copyfileobj(src, out, CHUNK)


@contextmanager
def single_file(path: Path) -> Iterator[Path]:
    """``path`` itself for a file; for a folder, a reproducible zip of its files (see :func:`sha256_of`), so an
    upload given as a folder is kept byte for byte too and the same folder always gives the same checksum."""
    if not path.is_dir():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="cadastre-folder-") as tmp:
        archive = Path(tmp) / f"{path.name}.zip"
        with archive.open("wb") as f:
            _pack(path, _Sink(f.write))
        yield archive
