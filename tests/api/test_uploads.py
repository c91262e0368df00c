"""Uploads over HTTP read exactly as on the command line: the content says what a file is, and the name the surveyor
gave it is in the status, every message, the report's title and the package list."""

from __future__ import annotations

import json

import pytest

from cadastre.samples import Quirks, sample_cadastral, sample_manifest, sample_project, write_package

CADASTRAL = sample_cadastral()


def upload(client, name: str, data: bytes) -> dict:
    response = client.post("/api/packages", files={"file": (name, data)})
    assert response.status_code == 202, response.text
    client.worker.wait(120)
    return client.get(f"/api/packages/{response.json()['id']}").json()


def assert_named(client, state: dict, name: str) -> None:
    """The uploaded name is the package's name everywhere a person reads it."""
    assert state["filename"] == name and state["report"]["package"]["name"] == name
    html = client.get(state["links"]["report_html"]).text
    assert f"<title>成果包质检报告：{name}</title>" in html
    listed = client.get("/api/packages").json()["packages"]
    assert next(p for p in listed if p["id"] == state["id"])["filename"] == name
    assert "upload.bin" not in json.dumps(state, ensure_ascii=False) and ".bin" not in html


def package_bytes(tmp_path, layers, suffix: str, **quirks) -> bytes:
    manifest = None if quirks.get("container") in ("gpkg",) else sample_manifest("cadastral")
    return write_package(tmp_path / f"p{suffix}", layers, manifest=manifest, quirks=Quirks(**quirks)).read_bytes()


@pytest.mark.parametrize(("name", "suffix", "quirks"), [
    ("宗地成果.gpkg", ".gpkg", {"container": "gpkg"}),
    ("宗地成果（无文件夹）.zip", ".zip", {"folder": ""}),
    ("文件地理数据库.zip", ".zip", {"container": "filegdb"}),
    ("改了名的包", ".zip", {}),  # no suffix at all: the content says it is a zip
])
def test_packages_by_content_are_accepted_under_their_uploaded_name(fresh_client, tmp_path, name, suffix, quirks):
    state = upload(fresh_client, name, package_bytes(tmp_path, CADASTRAL, suffix, **quirks))
    assert state["status"] == "accepted", state["report"]["findings"]
    assert_named(fresh_client, state, name)
    assert {f["severity"] for f in state["report"]["findings"]} <= {"info"}


def test_a_geojson_upload_is_read_and_named(fresh_client, tmp_path):
    """A lone GeoJSON of parcels: read (its layer found by the "name" member), and rejected for the boundary
    points a cadastral survey must carry — the message says so, the package keeps its name."""
    parcels = CADASTRAL["ZDJBXX"].to_crs(4490)
    document = json.loads(parcels.to_json(drop_id=True))
    document["name"] = "宗地"
    state = upload(fresh_client, "宗地.geojson", json.dumps(document, ensure_ascii=False).encode("utf-8"))
    assert state["status"] == "rejected"
    rules = {f["rule"] for f in state["report"]["findings"]}
    assert "PKG-001" in rules and "PKG-002" not in rules
    assert any("缺少必需的图层 JZD" in f["message"] for f in state["report"]["findings"])
    assert_named(fresh_client, state, "宗地.geojson")


def test_a_broken_zip_is_refused_with_the_clis_message_and_its_name(fresh_client, tmp_path):
    whole = package_bytes(tmp_path, CADASTRAL, ".zip")
    state = upload(fresh_client, "府前街成果.zip", whole[: len(whole) // 2])
    assert state["status"] == "refused"
    assert state["report"]["findings"][0]["message"].startswith("压缩包 府前街成果.zip 已损坏")
    assert_named(fresh_client, state, "府前街成果.zip")


def test_spreadsheets_as_surveyors_make_them(fresh_client, tmp_path):
    """户 in a 房屋面积测算表.xlsx of one sheet per building and 层 in a CSV, both under titles with totals: read,
    and the report says which rows were skipped."""
    data = write_package(tmp_path / "p.zip", sample_project("presale"), manifest=sample_manifest("presale"),
                         quirks=Quirks(tables="form")).read_bytes()
    state = upload(fresh_client, "龙泉苑预测绘.zip", data)
    assert state["status"] in ("accepted", "rejected")  # rejected only for the registry: no parcel under it yet
    findings = state["report"]["findings"]
    assert not {"PKG-001", "PKG-002", "ATT-002"} & {f["rule"] for f in findings}
    laid_out = [f["message"] for f in findings if f["rule"] == "PKG-010"]
    assert len(laid_out) == 4 and any("1号楼 的表头在第 3–4 行" in m and "3 个合计/小计行" in m for m in laid_out)
    assert_named(fresh_client, state, "龙泉苑预测绘.zip")
