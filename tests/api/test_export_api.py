"""GET /api/export/{layer}: files for other offices and desktop GIS, through HTTP, owners' names masked per role."""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import pytest
import shapely.geometry
from openpyxl import load_workbook


def _get(client, path, role="admin"):
    return client.get(path, headers={"Authorization": f"Bearer {client.tokens[role]}"})


def test_geopackage_of_parcels_with_names_per_role(client, tmp_path):
    for role, masked in (("registrar", False), ("analyst", True)):
        response = _get(client, "/api/export/parcels?format=gpkg", role)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/geopackage+sqlite3"
        assert 'filename="parcels.gpkg"' in response.headers["content-disposition"]
        path = tmp_path / f"{role}.gpkg"
        path.write_bytes(response.content)
        frame = gpd.read_file(path, layer="ZDJBXX")
        assert len(frame) >= 6 and {"ZDDM", "ZL", "ZDMJ", "QLR"} <= set(frame.columns)
        names = frame["QLR"].dropna()
        assert len(names) and all(n.endswith("*") for n in names) == masked


def test_shapefile_zip_and_geojson_and_unit_lists(client):
    shp = _get(client, "/api/export/buildings?format=shp")
    assert shp.status_code == 200 and shp.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(shp.content)) as zf:
        assert zf.read("ZRZ.cpg") == b"GBK" and "manifest.json" in zf.namelist()
    geojson = _get(client, "/api/export/units?format=geojson&subdistrict=141031001002")
    document = json.loads(geojson.content)
    assert document["type"] == "FeatureCollection" and len(document["features"]) == 84
    assert {"BDCDYH", "SHBW", "ZRZH"} <= set(document["features"][0]["properties"])
    for office, column in (("housing", "预测建筑面积"), ("tax", "面积来源")):
        response = _get(client, f"/api/export/units?format=xlsx&office={office}")
        assert response.status_code == 200 and 'filename="units-' in response.headers["content-disposition"]
        sheet = load_workbook(io.BytesIO(response.content)).active
        headings = [c.value for c in sheet[1]]
        assert headings[0] == "不动产单元代码" and column in headings and sheet.max_row == 1 + 84


def test_bbox_in_lon_lat_narrows_the_export(client):
    everything = json.loads(_get(client, "/api/export/parcels?format=geojson").content)["features"]
    box = ",".join(map(str, shapely.geometry.shape(everything[0]["geometry"]).bounds))
    some = json.loads(_get(client, f"/api/export/parcels?format=geojson&bbox={box}").content)["features"]
    assert 1 <= len(some) < len(everything)


@pytest.mark.parametrize("query, status", [
    ("/api/export/roads", 400), ("/api/export/parcels?format=dwg", 400), ("/api/export/parcels?format=xlsx", 422),
    ("/api/export/parcels?bbox=1,2,3", 422), ("/api/export/parcels?subdistrict=12ab", 400),
    ("/api/export/parcels?as_of=yesterday", 422),
])
def test_bad_export_requests_are_problems(client, query, status):
    response = _get(client, query)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
