"""The originals store: bytes kept byte for byte, a full disk refused cleanly (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from cadastre.core.errors import StorageFull
from cadastre.samples import Quirks, sample_cadastral, sample_manifest, write_package


def _big_package(tmp_path):
    """The sample cadastral package with 2 MB of other files beside its layers (a PDF report, scans …)."""
    folder = write_package(tmp_path / "with-scans", sample_cadastral(), manifest=sample_manifest("cadastral"),
                           quirks=Quirks(container="folder"))
    (folder / "扫描件.pdf").write_bytes(os.urandom(2 << 20))
    return folder


def test_a_full_originals_disk_stores_nothing_and_leaves_no_temporary_file(registry, tiny_disk, tmp_path,
                                                                           monkeypatch):
    disk = tiny_disk(1 << 20)
    monkeypatch.setenv("CADASTRE_ORIGINALS", str(disk))
    with pytest.raises(StorageFull, match="存储空间已满"):
        registry.ingest(_big_package(tmp_path))
    assert [p.name for p in disk.rglob("*") if p.is_file()] == []  # no .incoming- leftover
    with registry.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM package")).scalar_one() == 0
        assert c.execute(sa.text("SELECT count(*) FROM parcel")).scalar_one() == 0


def test_the_command_line_says_so_in_chinese_and_exits_2(registry, db_url, tiny_disk, tmp_path):
    disk = tiny_disk(1 << 20)
    done = subprocess.run([sys.executable, "-m", "cadastre", "ingest", str(_big_package(tmp_path))],
                          env={**os.environ, "CADASTRE_DB": db_url, "CADASTRE_ORIGINALS": str(disk)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "存储空间已满" in done.stderr and "Traceback" not in done.stderr and "Errno" not in done.stderr
