"""Receiving and processing packages as the service does: the same bytes uploaded at once, claims tied to a live
worker, failed processing retried, and a server killed mid-processing resuming when it starts again (issue 18)."""

from __future__ import annotations

import os
import threading

import pytest
import sqlalchemy as sa

from cadastre.registry import open_registry
from cadastre.samples import Quirks, sample_cadastral, sample_manifest, write_package


def cadastral_zip(tmp_path, name="cadastral.zip", block=0):
    return write_package(tmp_path / name, sample_cadastral(block=block), manifest=sample_manifest("cadastral"),
                         quirks=Quirks())


def test_the_same_bytes_uploaded_eight_times_at_once_are_one_package(registry, db_url, tmp_path):
    path = cadastral_zip(tmp_path)
    barrier = threading.Barrier(8)
    outcomes, errors = [], []

    def upload(i: int) -> None:
        with open_registry(db_url) as own:  # each upload its own connection pool, as server processes have
            barrier.wait()
            try:
                outcomes.append(own.receive(path, filename=f"上传{i}.zip", submitted_by="王工"))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len({o.package_id for o in outcomes}) == 1
    assert sorted(o.duplicate for o in outcomes) == [False] + [True] * 7
    with registry.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM package")).scalar_one() == 1
        assert c.execute(sa.text("SELECT count(*) FROM original")).scalar_one() == 2  # zoning and this package


def county_cadastral(tmp_path, parcels=3000):
    """A first survey of a few thousand parcels (blank 宗地代码): a package whose processing takes seconds."""
    from cadastre.samples import inside_subdistricts, synthetic_county

    layers = inside_subdistricts(synthetic_county(parcels, 1, 1))
    layers["ZDJBXX"]["ZDDM"] = ""
    return write_package(tmp_path / "county-cadastral.zip", {"ZDJBXX": layers["ZDJBXX"], "JZD": layers["JZD"]},
                         manifest={"county_code": "141031", "stage": "cadastral"})


def _poll(client, url, headers, until, timeout):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(url, headers=headers).json()
        if until(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"{url}: still {state['status']} / {state['stage']} after {timeout} s")


def test_a_server_killed_mid_processing_resumes_the_package_when_it_starts_again(registry, db_url, tmp_path):
    """Before: the claim stood for 30 minutes (stale_after_s=1800), so the restarted server left the package
    ``received``. Now the claim names its process, and a process that is gone holds nothing."""
    import time

    import httpx

    from cadastre.testing import ServiceProcess, role_tokens

    token = role_tokens(registry)["surveyor"]
    headers = {"Authorization": f"Bearer {token}"}
    path = county_cadastral(tmp_path)
    with ServiceProcess(db_url) as service, httpx.Client(base_url=service.url, timeout=30) as client:
        with path.open("rb") as f:
            upload = client.post("/api/packages", headers=headers, files={"file": (path.name, f)})
        assert upload.status_code == 202, upload.text
        package_id = upload.json()["id"]
        _poll(client, f"/api/packages/{package_id}", headers,
              lambda s: s["stage"] in ("reading", "checking", "storing"), 60)
        service.kill()
    assert registry.package(package_id, report=False).status == "received"
    restarted = time.monotonic()
    with ServiceProcess(db_url) as service, httpx.Client(base_url=service.url, timeout=30) as client:
        state = _poll(client, f"/api/packages/{package_id}", headers, lambda s: s["status"] != "received", 120)
    assert state["status"] == "accepted", state
    assert time.monotonic() - restarted < 90  # taken up at start (was 30 minutes)
    with registry.engine.connect() as c:  # nothing of the killed attempt is left half-written
        assert c.execute(sa.text("SELECT count(*) FROM package")).scalar_one() == 1
        parcels = c.execute(sa.text("SELECT count(*) FROM parcel")).scalar_one()
        assert parcels == c.execute(sa.text("SELECT count(*) FROM issued_code WHERE kind = 'parcel'")).scalar_one()


def _full_database(db_url, tiny_disk):
    """A Registry whose writes fail because the database's disk is full: on SQLite the file capped at its size
    (``max_page_count``: SQLite's own SQLITE_FULL), on PostgreSQL the tables of parcels and codes moved to a
    tablespace on a small filesystem that is then filled up (PostgreSQL's own 53100 disk_full). Returns (registry, undo)."""
    import pwd

    from sqlalchemy import event

    from cadastre.registry import Registry
    from cadastre.store.engine import create_engine

    engine = create_engine(db_url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def cap(dbapi_connection, _record):
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        return Registry(engine), lambda: None
    disk = tiny_disk(1 << 20)
    owner = pwd.getpwnam("postgres")
    os.chown(disk, owner.pw_uid, owner.pw_gid)
    name = "full_" + disk.name.replace("-", "_").lower()
    tables = ("parcel", "boundary_point", "boundary_line", "issued_code")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql(f"CREATE TABLESPACE {name} LOCATION '{disk}'")
        for table in tables:
            c.exec_driver_sql(f"ALTER TABLE {table} SET TABLESPACE {name}")
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # every byte left taken: the next block those tables need fails
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)

    def undo():
        filler.unlink()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for table in tables:
                c.exec_driver_sql(f"ALTER TABLE {table} SET TABLESPACE pg_default")
            c.exec_driver_sql(f"DROP TABLESPACE {name}")

    return Registry(engine), undo


def test_processing_that_fails_on_a_full_disk_is_tried_again_later_and_by_a_registrar(registry, db_url, tmp_path,
                                                                                     tiny_disk):
    from datetime import UTC, datetime

    import pytest

    from cadastre.core.errors import StorageFull

    received = registry.receive(cadastral_zip(tmp_path), filename="府前街.zip", submitted_by="王工")
    full, undo = _full_database(db_url, tiny_disk)
    try:
        with pytest.raises(StorageFull):
            full.process(received.package_id)
    finally:
        full.close()
        undo()
    state = registry.package(received.package_id, report=False)
    assert (state.status, state.stage, state.attempts) == ("received", "waiting", 1)
    assert "存储空间已满" in state.error and "自动重试" in state.error
    assert state.retry_at > datetime.now(UTC)
    assert received.package_id not in registry.packages_due()  # its next try is not due yet
    assert registry.process(received.package_id) is None
    with registry.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM parcel")).scalar_one() == 0  # nothing half-stored
    again = registry.process(received.package_id, retry=True)  # a registrar: now
    assert again.status == "accepted"
    assert registry.package(received.package_id, report=False).stage == "done"


def test_a_claim_of_a_process_that_is_gone_is_taken_at_once_and_a_live_one_is_not(registry, tmp_path):
    import subprocess
    import sys
    from datetime import UTC, datetime, timedelta

    from cadastre.core import workers
    from cadastre.store.engine import write_transaction
    from cadastre.store.packages import claim_package

    received = registry.receive(cadastral_zip(tmp_path), submitted_by="王工")
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    gone = workers.identity().split(":")[0] + f":{finished.pid}:1"  # a process of this host, no longer running
    now = datetime.now(UTC)
    with write_transaction(registry.engine) as c:
        assert claim_package(c, received.package_id, gone, None, now)
    assert registry.packages_due() == [received.package_id]  # taken at once, not after 30 minutes
    with write_transaction(registry.engine) as c:
        assert claim_package(c, received.package_id, workers.identity(), gone, now)  # this live process takes it
        assert not claim_package(c, received.package_id, "someone-else", gone, now)  # and only one can
    assert registry.packages_due() == []
    assert not workers.abandoned(workers.identity(), now, now)
    assert workers.abandoned("another-host:1:1", now - timedelta(seconds=workers.CLAIM_TIMEOUT_S + 1), now)
    assert not workers.abandoned("another-host:1:1", now - timedelta(seconds=5), now)


def test_uploads_past_an_accounts_daily_quota_are_refused_until_it_frees(registry, tmp_path):
    from cadastre.core.auth import Principal, Role
    from cadastre.core.errors import QuotaExceeded

    registry.add_user("王工", "surveyor")
    registry.update_user("王工", upload_quota=cadastral_zip(tmp_path).stat().st_size + 100)
    surveyor = Principal("王工", Role.SURVEYOR)
    first = registry.receive(cadastral_zip(tmp_path, "a.zip"), submitted_by="王工", actor=surveyor)
    assert registry.receive(cadastral_zip(tmp_path, "a.zip"), submitted_by="王工", actor=surveyor).duplicate
    with pytest.raises(QuotaExceeded, match="超过上传配额") as refused:
        registry.receive(cadastral_zip(tmp_path, "b.zip", block=1), submitted_by="王工", actor=surveyor)
    assert 23 * 3600 < refused.value.retry_after_s <= 24 * 3600
    registry.update_user("王工", upload_quota=0)  # no quota
    assert not registry.receive(cadastral_zip(tmp_path, "b.zip", block=1), submitted_by="王工",
                                actor=surveyor).duplicate
    assert registry.package(first.package_id, report=False).status == "received"


def test_refused_uploads_are_deleted_after_their_retention_and_say_so(registry, tmp_path):
    from datetime import timedelta

    from cadastre.core.errors import Gone

    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    received = registry.receive(junk, submitted_by="王工")
    assert registry.process(received.package_id).status == "refused"
    kept = registry.receive(cadastral_zip(tmp_path), submitted_by="王工")
    registry.process(kept.package_id)
    assert registry.purge_refused() == []  # within its 30 days
    path = registry.original(received.package_id).path
    purged = registry.purge_refused(retention=timedelta(0))  # as if its 30 days were over
    assert [p["packages"] for p in purged] == [[received.package_id]]
    assert not path.exists() and registry.original(kept.package_id).path.exists()
    with pytest.raises(Gone, match="按保留期限删除"):
        registry.original(received.package_id)
    state = registry.package(received.package_id)
    assert state.status == "refused" and state.report["refused"]  # the refusal stays
    assert registry.purge_refused() == []


def test_progress_is_recorded_on_each_new_stage_and_a_percent_more_at_most_every_quarter_second(registry, tmp_path,
                                                                                               monkeypatch):
    # each record is a commit and an answer to a page following the package: a project's check moved a percent
    # every 0.02 s (21 records); now a stage change at once, a percent more only after PROGRESS_EVERY_S
    import time

    from cadastre.registry import packages

    received = registry.receive(cadastral_zip(tmp_path), submitted_by="王工")
    stored = []

    def ingesting(ctx, path, *, progress, **_):
        progress("reading", 0.0)
        for k in range(16):  # quicker than PROGRESS_EVERY_S: the first only
            progress("checking", 0.24 + 0.03 * k)
        time.sleep(packages.PROGRESS_EVERY_S + 0.05)
        progress("checking", 0.70)
        progress("checking", 0.705)  # less than a percent more: never recorded
        progress("storing", 0.8)  # a new stage at once
        stored.append(registry.package(received.package_id, report=False))
        return "decided"

    monkeypatch.setattr(packages, "ingest_package", ingesting)
    heard = []
    assert registry.process(received.package_id, progress=lambda s, f: heard.append((s, round(f, 3)))) == "decided"
    assert heard == [("reading", 0.0), ("checking", 0.24), ("checking", 0.7), ("storing", 0.8), ("done", 1.0)]
    assert (stored[0].stage, stored[0].percent) == ("storing", 80)  # recorded before it is told
