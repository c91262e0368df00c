"""Desktop GIS against the service (issue 23): Debian's GDAL 3.6 — what QGIS 3.22 here is built on — reads the OGC
API with HTTP Basic credentials (a user name with its password, or with an API token as the password), the only
scheme QGIS offers besides EsriToken and PKI. Same roles, masking and throttling as bearer tokens."""

from __future__ import annotations

import os
import shutil
import subprocess

import httpx

OGRINFO = shutil.which("ogrinfo") or "/usr/bin/ogrinfo"


def ogrinfo(server: str, user: str, password: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"{user}:{password}",
           "CPL_CURL_VERBOSE": "NO"}
    return subprocess.run([OGRINFO, "-ro", f"OAPIF:{server}/", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_gdal_reads_the_ogc_api_with_a_user_name_and_password(server):
    listed = ogrinfo(server, "test-registrar", "test-registrar-password")
    assert listed.returncode == 0, listed.stderr
    assert "parcels" in listed.stdout and "buildings" in listed.stdout
    parcels = ogrinfo(server, "test-registrar", "test-registrar-password", "parcels", "-where",
                      "zddm = '141031001002GB00001'")
    assert parcels.returncode == 0, parcels.stderr
    assert "141031001002GB00001" in parcels.stdout


def test_gdal_types_fields_from_the_schema_even_when_every_value_is_empty(server):
    """GDAL 3.6 establishes an OGC API layer's fields from the collection's ``describedBy`` JSON Schema; without it
    it guessed from the first page, and 建筑密度 / 预测建筑面积, empty on every sample feature, read as String."""
    parcels = ogrinfo(server, "test-registrar", "test-registrar-password", "parcels", "-so")
    buildings = ogrinfo(server, "test-registrar", "test-registrar-password", "buildings", "-so")
    assert parcels.returncode == 0 and buildings.returncode == 0, parcels.stderr + buildings.stderr
    for expected in ("jzmd: Real", "zdmj: Real", "package_id: Integer", "valid_from: DateTime"):
        assert expected in parcels.stdout, parcels.stdout
    for expected in ("ycjzmj: Real", "zcs: Integer"):
        assert expected in buildings.stdout, buildings.stdout
    schema = _get(server, "/collections/parcels/schema")
    assert schema.headers["content-type"].startswith("application/schema+json")
    assert schema.json()["properties"]["properties"]["properties"]["jzmd"]["type"] == "number"


def test_an_api_token_works_as_the_password(server, loaded_registry):
    token = loaded_registry.tokens_by_role["analyst"]
    listed = ogrinfo(server, "test-analyst", token, "parcels", "-so")
    assert listed.returncode == 0, listed.stderr
    assert "Feature Count" in listed.stdout


def test_wrong_credentials_are_refused_and_audited(server, loaded_registry):
    # the planner's account: its failures throttle it, and no other test here signs in as the planner
    refused = ogrinfo(server, "test-planner", "wrong-password")
    assert refused.returncode != 0
    response = httpx.get(f"{server}/collections", auth=("test-planner", "wrong-password"))
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
    # a browser's request without credentials is not challenged with Basic (no native password dialog)
    anonymous = httpx.get(f"{server}/collections")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    # someone else's token as the password is not theirs
    token = loaded_registry.tokens_by_role["analyst"]
    assert httpx.get(f"{server}/collections", auth=("test-planner", token)).status_code == 401
    failures = loaded_registry.audit_log(action="auth.login_failed", user="test-planner")
    assert len(failures) >= 2


def test_basic_keeps_each_role_and_its_masking(server):
    item = f"{server}/collections/parcels/items?zddm=141031001002GB00001"
    registrar = httpx.get(item, auth=("test-registrar", "test-registrar-password")).json()
    analyst = httpx.get(item, auth=("test-analyst", "test-analyst-password")).json()
    owner = registrar["features"][0]["properties"].get("qlr")
    assert owner and analyst["features"][0]["properties"].get("qlr") != owner
    surveyor = httpx.post(f"{server}/api/packages", auth=("test-analyst", "test-analyst-password"))
    assert surveyor.status_code in (403, 422)


def _get(server, path):
    return httpx.get(server + path, auth=("test-analyst", "test-analyst-password"))


def test_queryables_type_every_property(server):
    schema = _get(server, "/collections/parcels/queryables")
    assert schema.status_code == 200 and schema.headers["content-type"].startswith("application/schema+json")
    properties = schema.json()["properties"]
    assert properties["zdmj"]["type"] == properties["jzmd"]["type"] == "number"
    assert properties["zddm"]["type"] == "string" and properties["zdmj"]["title"] == "宗地面积"
    units = _get(server, "/collections/units/queryables").json()["properties"]
    assert units["sjc"]["type"] == "integer" and units["ycjzmj"]["type"] == "number"
    unit_collection = _get(server, "/collections/units")
    assert unit_collection.status_code == 200, unit_collection.text
    links = unit_collection.json()["links"]
    assert any(link["href"].endswith("/collections/units/queryables") for link in links)


def test_each_collection_has_its_own_extent_and_the_service_says_which_openapi(server):
    parcels = _get(server, "/collections/parcels").json()["extent"]["spatial"]["bbox"][0]
    buildings = _get(server, "/collections/buildings").json()["extent"]["spatial"]["bbox"][0]
    assert buildings != parcels and parcels[0] <= buildings[0] and buildings[2] <= parcels[2]
    landing = _get(server, "/?f=json").json()
    assert any(link["type"].endswith("version=3.1") for link in landing["links"] if link["rel"] == "service-desc")
    conformance = _get(server, "/conformance").json()["conformsTo"]
    assert not any(c.endswith("/oas30") for c in conformance)
    assert any(c.endswith("/queryables") for c in conformance)


def test_exports_keep_numbers_numeric_and_geopackage_reads_cleanly_in_gdal_3_6(loaded_registry, tmp_path):
    target = loaded_registry.export(tmp_path / "登记库.gpkg", layers=["parcels", "buildings", "units"])
    info = subprocess.run([OGRINFO, "-ro", "-so", "-al", str(target)], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and info.stderr.strip() == "", info.stderr  # no warning (GeoPackage 1.2)
    assert "JZMD: Real" in info.stdout and "YCJZMJ: Real" in info.stdout and "SJC: Integer" in info.stdout
    shapefiles = loaded_registry.export(tmp_path / "自然幢.zip", layers=["buildings"])
    info = subprocess.run([OGRINFO, "-ro", "-so", "-al", f"/vsizip/{shapefiles}"], capture_output=True, text=True,
                          timeout=60)
    assert "YCJZMJ: Real" in info.stdout and "ZCS: Integer" in info.stdout


def test_the_database_opened_in_desktop_gis_shows_current_data(loaded_registry):
    """QGIS opening the SpatiaLite file (or the PostGIS database) lists parcel_current, building_current and
    unit_current: what is current now, beside the history tables."""
    import sqlalchemy as sa

    with loaded_registry.engine.connect() as connection:
        current = connection.execute(sa.text("SELECT count(*) FROM unit_current")).scalar_one()
        everything = connection.execute(sa.text("SELECT count(*) FROM unit")).scalar_one()
    assert current == 84 and everything == 168  # the pre-sale units ended when the as-built ones came
    url = loaded_registry.engine.url
    if url.get_backend_name() != "sqlite":
        return
    info = subprocess.run([OGRINFO, "-ro", "-so", url.database, "unit_current"], capture_output=True, text=True,
                          timeout=60)
    assert info.returncode == 0, info.stderr
    assert "Geometry: Multi Polygon" in info.stdout and "Feature Count: 84" in info.stdout
    layers = subprocess.run([OGRINFO, "-ro", "-q", url.database], capture_output=True, text=True, timeout=60).stdout
    assert "parcel_current (Multi Polygon)" in layers and "building_current (Multi Polygon)" in layers


def test_a_retired_land_code_is_marked_in_ogc_items_and_exports(server, loaded_registry, tmp_path):
    """Issue 23: parcel 1's land code was retired when its buildings were surveyed as built (their unit codes
    replace it): the OGC item and the export say 注销, where the card says 已注销."""
    item = _get(server, "/collections/parcels/items/141031001002GB00001").json()
    assert item["properties"]["bdcdyh"].endswith("W00000000") and item["properties"]["bdcdyhzt"] == "注销"
    other = _get(server, "/collections/parcels/items/141031001002GB00002").json()
    assert other["properties"]["bdcdyhzt"] == "现势"
    assert _get(server, "/collections/parcels/queryables").json()["properties"]["bdcdyhzt"]["title"] == "单元代码状态"
    import geopandas as gpd

    path = loaded_registry.export(tmp_path / "宗地.gpkg", layers=["parcels"])
    parcels = gpd.read_file(path, layer="ZDJBXX").set_index("ZDDM")
    assert parcels.loc["141031001002GB00001", "BDCDYHZT"] == "注销"
    assert parcels.loc["141031001002GB00002", "BDCDYHZT"] == "现势"
