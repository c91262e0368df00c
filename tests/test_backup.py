"""Backup, restore and verify (issue 18): a backup taken while the service writes restores into an empty place as
a sound registry that goes on numbering where the original left off; verify names each broken invariant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest
import sqlalchemy as sa

from cadastre.registry import open_registry
from cadastre.samples import Quirks, sample_cadastral, sample_manifest, sample_project, write_package
from cadastre.testing import ServiceProcess, role_tokens


def _package(tmp_path, stage, name=None, block=0):
    layers = sample_cadastral(block=block) if stage == "cadastral" else sample_project(stage)
    return write_package(tmp_path / (name or f"{stage}.zip"), layers, manifest=sample_manifest(stage),
                         quirks=Quirks())


def _cli(url, *args, originals=None):
    env = {**os.environ, "CADASTRE_DB": url}
    if originals is not None:
        env["CADASTRE_ORIGINALS"] = str(originals)
    return subprocess.run([sys.executable, "-m", "cadastre", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def empty_target(db_url, tmp_path, request):
    """Where a restore goes: a new SQLite file, or a new empty PostGIS database; and an empty originals folder."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'registry.sqlite'}", tmp_path / "restored" / "originals"
        return
    cluster = request.getfixturevalue("postgres")
    name = f"r_{uuid.uuid4().hex[:12]}"
    yield cluster.create_database(name), tmp_path / "restored-originals"
    cluster.drop_database(name)


def test_a_backup_taken_while_the_service_writes_restores_into_an_empty_place(registry, db_url, tmp_path,
                                                                              empty_target):
    registry.ingest(_package(tmp_path, "cadastral"))
    registry.ingest(_package(tmp_path, "presale"))
    headers = {"Authorization": f"Bearer {role_tokens(registry)['surveyor']}"}
    source_originals = os.environ["CADASTRE_ORIGINALS"]
    with ServiceProcess(db_url) as service, httpx.Client(base_url=service.url, headers=headers, timeout=60) as client:
        with _package(tmp_path, "asbuilt").open("rb") as f:
            package_id = client.post("/api/packages", files={"file": ("asbuilt.zip", f)}).json()["id"]
        backup = _cli(db_url, "backup", tmp_path / "backup", originals=source_originals)  # while it processes
        assert backup.returncode == 0, backup.stderr
        while client.get(f"/api/packages/{package_id}").json()["status"] == "received":
            pass
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "cadastre-backup/1" and manifest["problems"] == []
    assert len(manifest["originals"]) == manifest["counts"]["package"] + 1  # and the zoning's

    url, originals = empty_target
    restored = _cli(url, "restore", tmp_path / "backup", "--originals", originals, originals=originals)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "检查通过" in restored.stdout
    assert _cli(url, "verify", originals=originals).returncode == 0
    again = _cli(url, "restore", tmp_path / "backup", "--originals", originals, originals=originals)
    assert again.returncode == 2 and "空的" in again.stderr  # never over a registry

    os.environ["CADASTRE_ORIGINALS"] = str(originals)
    with open_registry(url) as copy:  # it goes on numbering where the backup left off: no code issued twice
        with copy.engine.connect() as c:
            before = {r[0] for r in c.execute(sa.text("SELECT code FROM issued_code"))}
        result = copy.ingest(_package(tmp_path, "cadastral", "next-block.zip", block=1))
        assert result.status == "accepted"
        assert not {p["zddm"] for p in result.assigned["parcels"]} & before
        assert copy.verify() == []


def test_a_damaged_backup_is_refused_before_anything_is_restored(registry, tmp_path, empty_target):
    registry.ingest(_package(tmp_path, "cadastral"))
    result = registry.backup(tmp_path / "backup")
    original = tmp_path / "backup" / result.manifest["originals"][0]["path"]
    original.write_bytes(original.read_bytes()[:-1] + b"!")
    url, originals = empty_target
    done = _cli(url, "restore", tmp_path / "backup", "--originals", originals, originals=originals)
    assert done.returncode == 2 and "已损坏" in done.stderr
    assert not originals.exists() or not any(originals.iterdir())


def test_verify_names_each_broken_invariant(registry, db_url, tmp_path):
    registry.ingest(_package(tmp_path, "cadastral"))
    registry.ingest(_package(tmp_path, "presale"))
    registry.ingest(_package(tmp_path, "asbuilt"))
    assert registry.verify() == []
    assert _cli(db_url, "verify").returncode == 0

    def checks():
        return {p.check: p for p in registry.verify()}

    original = registry.original(2).path
    original.write_bytes(original.read_bytes() + b"x")  # a damaged original
    assert "与其 SHA-256 不符" in checks()["originals"].message
    original.unlink()
    assert "缺失" in checks()["originals"].message
    with registry.engine.begin() as c:
        c.execute(sa.text("UPDATE code_counter SET last_value = 1 WHERE prefix = '141031001002GB'"))
        c.execute(sa.text("UPDATE issued_code SET retired_at = valid_from FROM (SELECT min(valid_from) AS valid_from "
                          "FROM unit) u WHERE code = '141031001002GB00001F00010001'"))  # retired, still in use
        c.execute(sa.text("UPDATE package SET status = 'accepted' WHERE id = (SELECT max(id) FROM package)"))
        c.execute(sa.text("DELETE FROM floor WHERE package_id = (SELECT max(id) FROM package)"))
        c.execute(sa.text("UPDATE unit SET package_id = 1 WHERE package_id = (SELECT max(id) FROM package)"))
        c.execute(sa.text("UPDATE building SET package_id = 1 WHERE package_id = (SELECT max(id) FROM package)"))
    found = checks()
    assert "高水位低于已发放的最大序号" in found["counters"].message
    assert any("141031001002GB：高水位 1，已发放至 6" == item for item in found["counters"].items)
    assert "已注销的代码仍有现势宗地或户使用" in found["codes"].message
    assert found["codes"].items == ["141031001002GB00001F00010001"]
    assert found["packages"].items == ["3"]
    done = _cli(db_url, "verify", "--json")
    assert done.returncode == 1
    assert {p["check"] for p in json.loads(done.stdout)["problems"]} == {"originals", "codes", "counters", "packages"}
    assert _cli("sqlite:////nonexistent/registry.sqlite", "verify").returncode == 2


def test_verify_finds_overlapping_current_parcels(registry, tmp_path):
    registry.ingest(_package(tmp_path, "cadastral"))
    with registry.engine.begin() as c:  # a second current parcel on the same land, as the race of issue 18 left
        c.execute(sa.text(
            "INSERT INTO parcel (zddm, bdcdyh, zdtzm, zl, zdmj, qlsdfs, geom, package_id, valid_from) "
            "SELECT '141031001002GB00099', NULL, zdtzm, zl, zdmj, qlsdfs, geom, package_id, valid_from FROM parcel "
            "WHERE zddm = '141031001002GB00001'"))
    found = {p.check: p for p in registry.verify()}
    assert found["overlaps"].items[0].startswith("141031001002GB00001 与 141031001002GB00099")
    assert "不在已发放代码表中" in found["codes"].message
