"""Receiving and processing packages as the service does: the same bytes uploaded at once, claims tied to a live
worker, failed processing retried, and a server killed mid-processing resuming when it starts again (issue 18)."""

from __future__ import annotations

import threading

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
