"""What the service does when its database goes away and comes back (issue 18): a real ``cadastre serve`` over a
real PostgreSQL that is stopped under it."""

from __future__ import annotations

import time

import httpx

from cadastre.registry import init_registry
from cadastre.samples import Quirks, sample_cadastral, sample_manifest, write_package
from cadastre.testing import ServiceProcess, TemporaryPostgres, role_tokens

PARCEL = "141031001002GB00001"


def test_postgresql_stopped_gives_503_with_retry_after_logged_once_and_the_service_recovers(tmp_path, zoning_zip,
                                                                                           monkeypatch):
    monkeypatch.setenv("CADASTRE_ORIGINALS", str(tmp_path / "originals"))
    with TemporaryPostgres() as cluster:
        url = cluster.create_database("outage")
        with init_registry(url, ["141031"]) as registry:
            registry.import_zoning(zoning_zip)
            registry.ingest(write_package(tmp_path / "c.zip", sample_cadastral(), manifest=sample_manifest("cadastral"),
                                          quirks=Quirks()))
            token = role_tokens(registry)["analyst"]
        headers = {"Authorization": f"Bearer {token}"}
        with ServiceProcess(url) as service, httpx.Client(base_url=service.url, headers=headers) as client:
            assert client.get(f"/api/parcels/{PARCEL}").status_code == 200
            cluster.halt()
            time.sleep(6)  # past the token cache: every request needs the database
            down = [client.get(path) for path in (f"/api/parcels/{PARCEL}", "/api/summary", "/collections/parcels/items",
                                                  "/api/search?q=府前街") for _ in range(10)]
            for response in down:
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
                assert int(response.headers["retry-after"]) > 0
                assert "数据库暂时不可用" in response.json()["detail"]
                assert response.headers.get("connection") != "close"  # keep-alive kept
            cluster.resume()
            deadline = time.monotonic() + 30
            while (status := client.get(f"/api/parcels/{PARCEL}").status_code) != 200:
                assert status == 503 and time.monotonic() < deadline
                time.sleep(0.5)
            log = service.output()
    assert log.count("database unavailable") == 1, log[-3000:]
    assert log.count("database available again") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
