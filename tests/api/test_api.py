"""Every endpoint and its error paths, on SpatiaLite and PostGIS."""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
import time

import mapbox_vector_tile
import shapely
from openpyxl import load_workbook

from cadastre.core.events import package_links
from cadastre.serve.features import CRS84

PARCEL = "141031001002GB00001"
BUILDING = PARCEL + "F0001"
UNIT = BUILDING + "0001"
PROBLEM = "application/problem+json"


def assert_problem(response, status: int):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    assert "Traceback" not in response.text
    return body


# ------------------------------------------------------------------------------------------------ OGC API Features


def test_landing_page_json_and_map_html(client):
    landing = client.get("/", headers={"Accept": "application/json"}).json()
    assert {"service-desc", "conformance", "data"} <= {link["rel"] for link in landing["links"]}
    assert client.get("/?f=json").json()["title"] == landing["title"]
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html") and "不动产测绘成果地图" in page.text


def test_conformance_and_collections(client, loaded_registry):
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in client.get("/conformance").json()["conformsTo"]
    collections = {c["id"]: c for c in client.get("/collections").json()["collections"]}
    assert set(collections) == {"parcels", "buildings", "units", "findings"}
    storage = f"http://www.opengis.net/def/crs/EPSG/0/{loaded_registry.storage_srid}"
    assert collections["parcels"]["crs"] == [CRS84, storage] and collections["parcels"]["storageCrs"] == storage
    assert client.get("/collections/units").json()["title"] == "户"


def test_items_pages_follow_next_links_through_every_feature(client, loaded_registry):
    expected = sorted(loaded_registry.features("units", limit=10_000).features["id"])
    seen, url = [], "/collections/units/items?limit=25"
    while url:
        response = client.get(url)
        assert response.status_code == 200 and response.headers["content-type"] == "application/geo+json"
        assert response.headers["content-crs"] == f"<{CRS84}>"
        page = response.json()
        assert page["numberReturned"] == len(page["features"]) <= 25
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert seen == expected and len(expected) == 84


def test_items_are_lon_lat_and_bbox_filters(client):
    features = client.get("/collections/parcels/items?limit=100").json()["features"]
    assert len(features) >= 3
    first = shapely.geometry.shape(features[0]["geometry"])
    lon, lat = first.centroid.x, first.centroid.y
    assert 110 < lon < 111.5 and 36 < lat < 37.5  # 隰县, lon/lat order (RFC 7946)
    assert features[0]["properties"]["zl"] and "*" not in features[0]["properties"]["qlr"]  # an admin reads names
    box = ",".join(map(str, first.bounds))
    inside = client.get(f"/collections/parcels/items?bbox={box}&limit=100").json()["features"]
    assert features[0]["id"] in {f["id"] for f in inside} and len(inside) < len(features) + 1
    far = client.get("/collections/parcels/items?bbox=100,20,100.1,20.1").json()
    assert far["features"] == []


def test_projected_crs_has_northing_first(client, loaded_registry):
    storage = f"http://www.opengis.net/def/crs/EPSG/0/{loaded_registry.storage_srid}"
    response = client.get(f"/collections/parcels/items/{PARCEL}", params={"crs": storage})
    assert response.headers["content-crs"] == f"<{storage}>"
    northing, easting = response.json()["geometry"]["coordinates"][0][0][0]
    assert 4_000_000 < northing < 4_200_000 and 37_000_000 < easting < 38_000_000  # zone 37 false easting
    bbox = f"{northing - 1},{easting - 1},{northing + 1},{easting + 1}"
    near = client.get("/collections/parcels/items", params={"bbox": bbox, "bbox-crs": storage}).json()
    assert PARCEL in {f["id"] for f in near["features"]}
    assert_problem(client.get("/collections/parcels/items?crs=EPSG:3857"), 422)


def test_single_features_and_errors(client):
    assert client.get(f"/collections/parcels/items/{PARCEL}").json()["properties"]["zddm"] == PARCEL
    assert client.get(f"/collections/buildings/items/{BUILDING}").json()["properties"]["zrzh"] == "0001"
    unit = client.get(f"/collections/units/items/{UNIT}").json()
    assert unit["properties"]["building"] == BUILDING and unit["properties"]["stage"] == "asbuilt"
    finding = client.get("/collections/findings/items?limit=1").json()["features"][0]
    assert client.get(f"/collections/findings/items/{finding['id']}").json()["properties"]["rule"]
    assert_problem(client.get("/collections/parcels/items/141031001002GB09999"), 404)
    assert_problem(client.get("/collections/buildings/items/123"), 422)
    assert_problem(client.get("/collections/findings/items/9223372036854775808"), 422)  # found by schemathesis
    assert_problem(client.get("/collections/findings/items/０"), 422)  # a full-width digit is not a number here
    assert_problem(client.get("/collections/rivers/items"), 400)
    assert_problem(client.get("/collections/parcels/items?limit=10001"), 400)
    assert_problem(client.get("/collections/parcels/items?bbox=1,2,3"), 422)
    assert_problem(client.get("/collections/parcels/items?bbox=3,2,1,4"), 422)


def test_findings_collection_by_package(client):
    packages = client.get("/api/packages").json()["packages"]
    asbuilt = next(p for p in packages if p["package_stage"] == "asbuilt")
    page = client.get(f"/collections/findings/items?package={asbuilt['id']}&limit=10000").json()
    rules = {f["properties"]["rule"] for f in page["features"]}
    assert "PLN-009" in rules and all(f["properties"]["package_id"] == asbuilt["id"] for f in page["features"])


# ------------------------------------------------------------------------------------------------------- tiles


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_vector_tiles_carry_the_parcels_and_buildings(client):
    parcel = shapely.geometry.shape(client.get(f"/collections/parcels/items/{PARCEL}").json()["geometry"])
    x, y = _tile_of(parcel.centroid.x, parcel.centroid.y, 16)
    response = client.get(f"/tiles/parcels/16/{x}/{y}.pbf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(response.content)
    codes = {f["properties"]["zddm"] for f in layers["parcels"]["features"]}
    assert PARCEL in codes
    buildings = mapbox_vector_tile.decode(client.get(f"/tiles/buildings/16/{x}/{y}.pbf").content)
    assert BUILDING in {f["properties"]["code"] for f in buildings["buildings"]["features"]}
    assert client.get(f"/tiles/parcels/10/{x >> 6}/{y >> 6}.pbf").status_code == 204  # below minzoom
    assert client.get("/tiles/parcels/16/0/0.pbf").status_code == 204  # nothing there
    assert_problem(client.get("/tiles/roads/16/0/0.pbf"), 400)
    assert_problem(client.get("/tiles/parcels/3/9/0.pbf"), 422)


# ---------------------------------------------------------------------------------------------------- lookups


def test_parcel_card_by_code_point_and_text(client):
    card = client.get(f"/api/parcels/{PARCEL}").json()
    assert card["zddm"] == PARCEL and card["current"]["zl"] and len(card["buildings"]) == 3
    assert card["history"] and "ready_for_first_registration" in card
    shape = shapely.geometry.shape(client.get(f"/collections/parcels/items/{PARCEL}").json()["geometry"])
    inside = shape.representative_point()
    at = client.get(f"/api/parcels?at={inside.x},{inside.y}").json()["parcels"]
    assert [p["zddm"] for p in at] == [PARCEL]
    found = client.get("/api/parcels", params={"q": card["current"]["zl"]}).json()["parcels"]
    assert PARCEL in {p["code"] for p in found}
    body = assert_problem(client.get("/api/parcels/14103100100GB00001"), 400)
    assert "宗地代码" in body["detail"]
    assert_problem(client.get("/api/parcels/141031001002GB09999"), 404)
    assert_problem(client.get("/api/parcels?at=100,20"), 404)
    assert_problem(client.get("/api/parcels?at=abc"), 422)
    assert_problem(client.get("/api/parcels"), 422)


def test_unit_history_from_presale_to_asbuilt_with_lineage(client):
    unit = client.get(f"/api/units/{UNIT}").json()
    assert [v["stage"] for v in unit["versions"]] == ["presale", "asbuilt"]
    assert unit["current"]["stage"] == "asbuilt" and unit["code"]["retired_at"] is None
    assert any(link["direction"] == "from" for link in unit["lineage"])
    assert_problem(client.get(f"/api/units/{UNIT[:-4]}0999"), 404)
    assert_problem(client.get("/api/units/XYZ"), 400)


def test_building_table_in_three_formats_and_readiness(client):
    table = client.get(f"/api/buildings/{BUILDING}/table").json()
    assert table["code"] == BUILDING and table["unit_count"] == 28 and table["ready"] is True
    html = client.get(f"/api/buildings/{BUILDING}/table?format=html")
    assert html.headers["content-type"].startswith("text/html") and "楼盘表" in html.text
    xlsx = client.get(f"/api/buildings/{BUILDING}/table?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.title == "楼盘表" and BUILDING in sheet.cell(1, 1).value
    late = client.get(f"/api/buildings/{PARCEL}F0002/readiness").json()
    assert late["ready"] is False and any("规划" in r for r in late["not_ready_because"])
    assert_problem(client.get(f"/api/buildings/{PARCEL}F9999/table"), 404)
    assert_problem(client.get(f"/api/buildings/{PARCEL}/table"), 422)
    assert_problem(client.get(f"/api/buildings/{BUILDING}/table?format=pdf"), 400)


def test_search_by_code_text_and_name(client):
    kinds = {r["kind"] for r in client.get(f"/api/search?q={UNIT}").json()["results"]}
    assert "unit" in kinds
    named = client.get("/api/search", params={"q": "龙泉苑1号楼"}).json()["results"]
    assert named[0]["code"] == BUILDING and len(named[0]["bbox"]) == 4
    assert client.get("/api/search?q=不存在的地方").json()["results"] == []
    assert_problem(client.get("/api/search?q="), 400)


def test_summary_and_map_config(client):
    summary = client.get("/api/summary").json()
    assert summary["units"] == 84 and summary["parcels"] >= 3
    config = client.get("/api/map-config").json()
    assert config["basemap"]["url"] is None and len(config["bounds"]) == 4
    assert config["layers"]["parcels"]["minzoom"] == 15


def test_permits_recorded_and_versioned_over_http(client, loaded_registry):
    from cadastre.samples import sample_permit

    permit = sample_permit()
    permit["number"] = "建字第HTTP-1号"
    first = client.post("/api/permits", json=permit, params={"by": "规划科"})
    assert first.status_code == 201
    permit["far"] = (permit.get("far") or 2.0) + 0.1
    client.post("/api/permits", json=permit)
    versions = client.get(f"/api/permits/{permit['number']}").json()["versions"]
    assert len(versions) == 2 and versions[0]["valid_to"] is not None
    assert_problem(client.post("/api/permits", json={"number": ""}), 422)
    assert_problem(client.get("/api/permits/没有的许可"), 404)


# -------------------------------------------------------------------------------------------------- packages


def test_package_status_report_original_findings(client, loaded_registry, sample_files):
    packages = client.get("/api/packages").json()["packages"]
    assert [p["status"] for p in packages] == ["accepted"] * 3
    asbuilt = next(p for p in packages if p["package_stage"] == "asbuilt")
    state = client.get(f"/api/packages/{asbuilt['id']}").json()
    assert state["stage"] == "done" and state["percent"] == 100 and state["report"]["accepted"] is True
    # the state carries the report's summary: everything but the per-unit lists, and their sizes
    stored = loaded_registry.package(asbuilt["id"]).report
    assert stored["comparison"]["units"] and stored["assigned"]["units"]
    assert state["report"] == {k: v for k, v in stored.items() if k not in ("assigned", "comparison")}
    assert state["assigned_counts"] == {kind: len(stored["assigned"][kind]) for kind in ("parcels", "units", "retired")}
    comparison = stored["comparison"]
    assert state["comparison_summary"] == {
        "units": len(comparison["units"]), "flagged": comparison["flagged"], "added": len(comparison["added"]),
        "removed": len(comparison["removed"]), "limit_percent": comparison["limit_percent"]}
    # the whole report, as ingest returned it, where the events send receivers (their links.report was a 404)
    assert state["links"]["report"] == package_links(asbuilt["id"])["report"]
    full = client.get(state["links"]["report"])
    assert full.status_code == 200 and full.json() == stored == loaded_registry.report_json(asbuilt["id"])
    assert full.json()["assigned"]["units"] and full.json()["comparison"]["units"]
    report = client.get(f"/api/packages/{asbuilt['id']}/report.html")
    assert report.headers["content-type"].startswith("text/html") and "质检报告" in report.text
    original = client.get(f"/api/packages/{asbuilt['id']}/original")
    data = sample_files["asbuilt"].read_bytes()
    assert original.content == data and original.headers["x-content-sha256"] == hashlib.sha256(data).hexdigest()
    findings = client.get(f"/api/packages/{asbuilt['id']}/findings").json()["findings"]
    assert any(f["rule"] == "PLN-009" for f in findings)
    paged = client.get("/api/packages?limit=2").json()
    assert len(paged["packages"]) == 2 and paged["next"]
    assert_problem(client.get("/api/packages/999999"), 404)
    assert_problem(client.get("/api/packages/999999/original"), 404)
    assert_problem(client.get("/api/packages/abc"), 400)


def test_upload_is_processed_in_the_background_with_progress(fresh_client, sample_files):
    with sample_files["cadastral"].open("rb") as f:
        response = fresh_client.post("/api/packages", files={"file": ("141031-cadastral.zip", f, "application/zip")})
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/packages/{body['id']}" and body["duplicate"] is False
    fresh_client.worker.wait(120)
    state = fresh_client.get(f"/api/packages/{body['id']}").json()
    assert state["status"] == "accepted" and state["stage"] == "done" and state["percent"] == 100
    assert state["submitted_by"] == "test-surveyor" and state["filename"] == "141031-cadastral.zip"  # who signed in
    assert state["assigned_counts"]["parcels"] > 0 and state["comparison_summary"] is None
    assert len(fresh_client.get(state["links"]["report"]).json()["assigned"]["parcels"]) == \
        state["assigned_counts"]["parcels"]
    with sample_files["cadastral"].open("rb") as f:
        again = fresh_client.post("/api/packages", files={"file": ("copy.zip", f, "application/zip")})
    assert again.json()["id"] == body["id"] and again.json()["duplicate"] is True


def test_state_followed_by_waiting_for_its_next_change(fresh_client, sample_files):
    # as the upload page follows a package: the version it has shown (ETag) and Prefer: wait; each answer comes
    # when the state changes, 304 when it did not within the wait
    with sample_files["cadastral"].open("rb") as f:
        body = fresh_client.post("/api/packages", files={"file": ("宗地.zip", f, "application/zip")}).json()
    url, version, answers = f"/api/packages/{body['id']}", body["version"], []
    while True:
        started = time.monotonic()
        response = fresh_client.get(url, headers={"If-None-Match": f'"{version}"', "Prefer": "wait=20"})
        answers.append((response.status_code, time.monotonic() - started))
        if response.status_code == 304:
            continue
        state = response.json()
        assert response.headers["etag"] == f'"{state["version"]}"' and state["version"] != version
        version = state["version"]
        if state["status"] != "received":
            break
    assert state["status"] == "accepted" and state["assigned_counts"]["parcels"] > 0
    assert all(code == 200 and seconds < 15 for code, seconds in answers), answers  # no wait ran out
    # nothing changes any more: the wait runs out (304, the same ETag); without Prefer the answer is at once
    started = time.monotonic()
    unchanged = fresh_client.get(url, headers={"If-None-Match": f'W/"{version}"', "Prefer": "wait=1"})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == f'"{version}"' and not unchanged.content
    assert 0.9 <= time.monotonic() - started < 5
    started = time.monotonic()
    assert fresh_client.get(url, headers={"If-None-Match": f'"{version}"', "Prefer": "wait=x"}).status_code == 304
    assert fresh_client.get(url, headers={"If-None-Match": f'"{version}"'}).status_code == 304
    assert time.monotonic() - started < 1
    # a version not current (or none) answers with the state at once
    assert fresh_client.get(url, headers={"If-None-Match": '"0"', "Prefer": "wait=20"}).json()["version"] == version


def test_a_wait_on_a_package_processed_here_is_woken_by_its_worker(fresh_client, sample_files, monkeypatch):
    # a page waiting on a package this server is processing is not looked for every 0.1 s: the worker wakes it as
    # it records a change (api.jobs.IngestWorker.watching); queued behind a gate here, the state is read once on
    # arrival and then every QUIET_S only
    worker, registry = fresh_client.worker, fresh_client.app.state.registry
    gate, process, package = threading.Event(), registry.process, registry.package
    reads = []
    monkeypatch.setattr(registry, "process", lambda *a, **k: gate.wait(30) and process(*a, **k))
    monkeypatch.setattr(registry, "package", lambda *a, **k: reads.append(time.monotonic()) or package(*a, **k))
    with sample_files["cadastral"].open("rb") as f:
        body = fresh_client.post("/api/packages", files={"file": ("宗地.zip", f, "application/zip")}).json()
    answer = {}

    def follow() -> None:
        response = fresh_client.get(f"/api/packages/{body['id']}",
                                    headers={"If-None-Match": f'"{body["version"]}"', "Prefer": "wait=20"})
        answer.update(status=response.status_code, at=time.monotonic(), version=response.json()["version"])

    waiting = threading.Thread(target=follow, daemon=True)
    reads.clear()
    waiting.start()
    try:
        time.sleep(1.5)
        assert worker.processing(body["id"]) and not answer
        assert 1 <= len(reads) <= 4, reads  # looked for every 0.1 s, it would have read ~15 times
    finally:
        released = time.monotonic()
        gate.set()
        waiting.join(30)
    assert answer["status"] == 200 and answer["version"] != body["version"]
    assert answer["at"] - released < 1.0  # woken by the change, not by the next look a second later
    worker.wait(120)
    assert worker._watchers == {}  # every waiter gone with its request


def test_rejected_upload_is_waived_then_accepted(fresh_client, sample_files, tmp_path):
    # the as-built package before its pre-sale survey and parcel: refused or rejected, never accepted
    with sample_files["presale"].open("rb") as f:
        body = fresh_client.post("/api/packages", files={"file": ("presale.zip", f)}).json()
    fresh_client.worker.wait(120)
    state = fresh_client.get(f"/api/packages/{body['id']}").json()
    assert state["status"] in ("rejected", "refused") and state["report"]["counts"]["error"] > 0
    assert state["assigned_counts"] is None and state["comparison_summary"] is None  # nothing was coded
    if state["status"] == "rejected":
        error = next(f for f in state["report"]["findings"] if f["severity"] == "error")
        waiver = {"rule": error["rule"], "feature": error["feature"], "reason": "测试"}
        registrar = {"Authorization": f"Bearer {fresh_client.tokens['registrar']}"}
        assert_problem(fresh_client.post(f"/api/packages/{body['id']}/waivers", json=waiver), 403)  # a surveyor
        made = fresh_client.post(f"/api/packages/{body['id']}/waivers", json=waiver, headers=registrar)
        assert made.status_code == 201 and made.json()["waived_by"] == "test-registrar"
        assert_problem(fresh_client.post(f"/api/packages/{body['id']}/waivers", json=waiver, headers=registrar), 409)
    assert_problem(fresh_client.post(f"/api/packages/{body['id']}/waivers", json={"rule": "X"},
                                     headers={"Authorization": f"Bearer {fresh_client.tokens['registrar']}"}), 400)
    assert_problem(fresh_client.get(f"/api/packages/{body['id']}/waivers"), 405)


def test_upload_limits_and_wrong_files(fresh_client, tmp_path):
    big = tmp_path / "big.zip"
    big.write_bytes(b"0" * (6 << 20))
    with big.open("rb") as f:
        body = assert_problem(fresh_client.post("/api/packages", files={"file": ("big.zip", f)}), 413)
    assert "上限" in body["detail"]
    text = assert_problem(fresh_client.post("/api/packages", files={"file": ("notes.txt", b"hello")}), 422)
    assert "notes.txt" in text["detail"]
    junk = assert_problem(fresh_client.post("/api/packages", files={"file": ("junk.zip", b"not a zip at all")}), 422)
    assert "junk.zip" in junk["detail"] and "无法识别" in junk["detail"]  # by its content, whatever its name
    truncated = fresh_client.post("/api/packages", files={"file": ("半截.zip", b"PK\x03\x04" + b"\x00" * 40)})
    assert truncated.status_code == 202
    fresh_client.worker.wait(60)
    state = fresh_client.get(f"/api/packages/{truncated.json()['id']}").json()
    assert state["status"] == "refused" and state["report"]["refused"] is True
    assert "压缩包 半截.zip 已损坏" in state["report"]["findings"][0]["message"]
    assert state["report"]["package"]["name"] == "半截.zip" and state["filename"] == "半截.zip"
    assert "半截.zip" in fresh_client.get(f"/api/packages/{truncated.json()['id']}/report.html").text
    assert_problem(fresh_client.post("/api/packages"), 400)


def test_openapi_documents_problem_responses_and_docs_are_offline(client):
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/parcels/{zddm}"]["get"]
    assert "application/problem+json" in operation["responses"]["404"]["content"]
    docs = client.get("/docs").text
    assert "/static/vendor/swagger-ui-" in docs and "cdn" not in docs.lower()
    for asset in ("/static/vendor/swagger-ui-5.32.0/swagger-ui-bundle.js",
                  "/static/vendor/maplibre-gl-5.24.1/maplibre-gl.js", "/static/map.js", "/static/upload.js"):
        assert client.get(asset).status_code == 200, asset
    for page in ("/", "/upload"):
        html = client.get(page).text
        assert "https://" not in html and "http://" not in html  # nothing fetched from outside
    assert json.loads(client.get("/api/map-config").text)["basemap"]["url"] is None


def test_pages_send_security_headers_and_data_is_not_cached(client):
    """Issue 18: HTML pages sent no CSP, X-Content-Type-Options, X-Frame-Options or Referrer-Policy."""
    for path in ("/", "/upload", "/docs"):
        response = client.get(path, headers={"Accept": "text/html"})
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy and response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "<script>" not in response.text  # every script is a file of the service's own
    table = client.get("/api/buildings/141031001002GB00001F0001/table?format=html")
    assert table.headers["content-security-policy"].startswith("default-src 'none'")
    for path in ("/api/parcels/141031001002GB00001", "/collections/parcels/items", "/api/search?q=府前街",
                 "/api/export/parcels?format=geojson"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    tile = client.get("/tiles/districts/10/823/401.pbf")
    assert tile.headers["cache-control"].startswith("private")


def test_hostile_text_gives_clear_answers_never_500(client, loaded_registry):
    """Issue 18: a NUL character gave 500 on PostGIS on seven routes; wildcards searched as wildcards; errors echoed
    10 000-character inputs."""
    nul = "a\x00b"
    dialect = loaded_registry.info.dialect
    calls = [client.get("/api/search", params={"q": nul}), client.get("/api/packages", params={"submitted_by": nul}),
             client.get("/api/permits/a%00b"), client.get("/api/audit", params={"user": nul}),
             client.post("/api/token", data={"username": nul, "password": "whatever-1"}),
             client.post("/api/packages/1/waivers", json={"rule": "PLN-009", "feature": "0002", "reason": nul}),
             client.post("/api/permits", json={"number": nul})]
    for response in calls:
        assert response.status_code < 500, (response.request.url, response.text)
        if dialect == "postgresql" and response.status_code == 422:
            assert "空字符" in response.json()["detail"]
    if dialect == "postgresql":  # PostgreSQL cannot store the character: refused as input
        assert [r.status_code for r in calls[1:5]] == [422] * 4
    # a search reads control characters as blanks on both engines (a NUL also ended SQLite's FTS5 query text)
    assert calls[0].status_code == 200
    for text in ("%", "_", "\\", "府前街%", "府_街"):  # literal characters: nothing has them
        assert client.get("/api/search", params={"q": text}).json()["results"] == [], text
    long = "9" * 10_000
    for response in (client.get(f"/api/permits/{long}"), client.get(f"/api/parcels/{long}"),
                     client.get(f"/api/buildings/{long}/table")):
        assert response.status_code in (400, 404, 422) and len(response.text) < 2_000, response.text[:200]
        assert long[:100] not in response.text
    assert "/var/" not in client.get("/api/packages/999999/original").text


def test_an_original_is_served_only_while_it_matches_its_checksum(fresh_client, sample_files):
    """Issue 18: damaged bytes were served as they were; a missing original read '数据库不可用' with a path."""
    with sample_files["cadastral"].open("rb") as f:
        package_id = fresh_client.post("/api/packages", files={"file": ("c.zip", f)}).json()["id"]
    fresh_client.worker.wait(120)
    assert fresh_client.get(f"/api/packages/{package_id}/original").status_code == 200
    path = fresh_client.app.state.registry.original(package_id).path
    path.write_bytes(path.read_bytes()[:-1] + b"?")
    damaged = fresh_client.get(f"/api/packages/{package_id}/original")
    assert damaged.status_code == 500 and "已损坏" in damaged.json()["detail"]
    path.unlink()
    missing = fresh_client.get(f"/api/packages/{package_id}/original")
    assert missing.status_code == 500 and "缺失" in missing.json()["detail"]
    assert "数据库不可用" not in missing.text and str(path.parent) not in missing.text and ".bin" not in missing.text


def test_validation_and_not_found_speak_chinese(client):
    """Issue 23: a clerk read "Input should be less than or equal to 22" and "Not Found"."""
    limit = client.get("/collections/parcels/items?limit=10001").json()
    assert limit["errors"][0]["problem"] == "应不大于 10000" and "应不大于 10000" in limit["detail"]
    zoom = client.get("/tiles/parcels/23/0/0.pbf").json()
    assert "应不大于 22" in zoom["detail"]
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.json()["detail"].startswith("没有这个地址")
    assert missing.json()["detail_en"] == "Not Found"


def test_swagger_summaries_are_chinese(client):
    operations = [op for ops in client.get("/openapi.json").json()["paths"].values() for op in ops.values()]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in op["summary"]) for op in operations)


def test_the_event_feed_and_subscriptions_over_http_follow_the_roles(client, loaded_registry):
    """Issue 25: the feed for staff and other offices' systems (not surveyors); subscriptions for admins."""
    tokens = client.tokens
    feed = client.get("/api/events?limit=5", headers={"Authorization": f"Bearer {tokens['registrar']}"})
    assert feed.status_code == 200 and feed.json()["events"]
    assert feed.json()["next_after"] == feed.json()["events"][-1]["id"]
    assert client.get("/api/events", headers={"Authorization": f"Bearer {tokens['surveyor']}"}).status_code == 403
    assert client.get("/api/subscriptions",
                      headers={"Authorization": f"Bearer {tokens['registrar']}"}).status_code == 403
    made = client.post("/api/subscriptions", json={"url": "https://zj.example.gov.cn/hooks", "types": ["codes.issued"]})
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    listed = client.get("/api/subscriptions").json()["subscriptions"]
    assert any(s["id"] == made.json()["id"] and "secret" not in s for s in listed)
    assert client.post(f"/api/subscriptions/{made.json()['id']}/disable").status_code == 204
    assert client.delete(f"/api/subscriptions/{made.json()['id']}").status_code == 204
    assert client.get("/api/subscriptions/dead-letters").status_code == 200
