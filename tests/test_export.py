"""Exports: layers in the package's own names (GeoPackage, GBK shapefiles, GeoJSON) that go back in through the
package reader unchanged, and the unit lists for the housing and tax offices."""

from __future__ import annotations

import subprocess
import zipfile

import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.geometry
from openpyxl import load_workbook

from cadastre.core.auth import Principal, Role
from cadastre.core.errors import InputError
from cadastre.read.package import read_package
from cadastre.serve.export import package_layer, unit_list, write_unit_list


@pytest.fixture
def loaded(registry, sample_files):
    for stage in ("cadastral", "presale", "asbuilt"):
        assert registry.ingest(sample_files[stage]).status == "accepted"
    return registry


def _same(exported, read_back, fields):
    """Every exported field read back with the same values, and the same geometry (to 1 mm)."""
    back = read_back.set_index(read_back.columns[0] if fields[0] not in read_back else fields[0])
    ours = exported.set_index(fields[0])
    back = back.loc[ours.index]
    for field in fields[1:]:
        left, right = ours[field].to_numpy(object), back[field].to_numpy(object)
        for a, b in zip(left, right, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b, abs=1e-6), (field, a, b)
            else:
                assert (a is None and (b is None or pd.isna(b) or b == "")) or str(a) == str(b), (field, a, b)
    distance = shapely.hausdorff_distance(np.asarray(ours.geometry.values), np.asarray(back.geometry.values))
    assert np.nanmax(distance) < 1e-3


@pytest.mark.parametrize("fmt, suffix", [("shp", ".zip"), ("gpkg", ".gpkg")])
def test_layers_round_trip_through_the_package_reader(loaded, tmp_path, fmt, suffix):
    target = loaded.export(tmp_path / f"export{suffix}", layers=("parcels", "buildings", "units"))
    package = read_package(target, storage_epsg=loaded.storage_srid)
    assert not any(f.severity == "error" for f in package.findings.itertuples()) if len(package.findings) else True
    for name, layer, key in (("parcels", "ZDJBXX", "ZDDM"), ("buildings", "ZRZ", "ZRZH"), ("units", "H", "BDCDYH")):
        exported = package_layer(getattr(loaded, name)(), name)
        read_back = package.layers[layer]
        assert len(read_back) == len(exported)
        fields = [key] + [f for f in exported.columns if f not in (key, "geometry")]
        if name == "buildings":  # 幢号 repeats across parcels: key by parcel and building
            exported = exported.assign(KEY=exported["ZDDM"] + "F" + exported["ZRZH"])
            read_back = read_back.assign(KEY=read_back["ZDDM"] + "F" + read_back["ZRZH"])
            fields = ["KEY"] + fields
        _same(exported, read_back, fields)


def test_shapefiles_are_gbk_with_cpg_and_a_manifest(loaded, tmp_path):
    target = loaded.export(tmp_path / "parcels.zip")
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        assert {"ZDJBXX.shp", "ZDJBXX.dbf", "ZDJBXX.cpg", "ZDJBXX.prj", "manifest.json"} <= names
        assert zf.read("ZDJBXX.cpg") == b"GBK"
        zl = loaded.parcels()["zl"].iat[0]
        assert zl.encode("gbk") in zf.read("ZDJBXX.dbf")
        assert b'"county_code": "141031"' in zf.read("manifest.json")


def test_geojson_is_lon_lat_and_reads_back(loaded, tmp_path):
    import json

    target = loaded.export(tmp_path / "buildings.geojson", layers=("buildings",))
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["type"] == "FeatureCollection" and "crs" not in document
    x, y, _, _ = shapely.geometry.shape(document["features"][0]["geometry"]).bounds
    assert 110 < x < 112 and 36 < y < 37.5  # 隰县, lon/lat
    package = read_package(target, county="141031", storage_epsg=loaded.storage_srid)
    exported = package_layer(loaded.buildings(), "buildings")
    back = package.layers["ZRZ"]
    exported = exported.assign(KEY=exported["ZDDM"] + "F" + exported["ZRZH"])
    back = back.assign(KEY=back["ZDDM"] + "F" + back["ZRZH"])
    _same(exported, back, ["KEY", "JZWMC", "ZCS", "YCJZMJ", "SCJZMJ"])


def test_owner_names_are_masked_in_exports_for_roles_without_them(loaded, tmp_path):
    analyst = Principal("分析员", Role.ANALYST)
    target = loaded.export(tmp_path / "masked.gpkg", viewer=analyst)
    import geopandas as gpd

    names = gpd.read_file(target, layer="ZDJBXX")["QLR"].dropna()
    assert len(names) and all(n.endswith("*") for n in names)
    full = gpd.read_file(loaded.export(tmp_path / "full.gpkg"), layer="ZDJBXX")["QLR"].dropna()
    assert not any(n.endswith("*") for n in full)


def test_text_gbk_cannot_hold_is_refused_for_shapefiles_but_kept_in_geopackage(tmp_path):
    import geopandas as gpd

    from cadastre.serve.export import write_layers

    parcels = gpd.GeoDataFrame({"zddm": ["141031001002GB00001"], "zl": ["隰县吉𠮷巷1号"]},
                               geometry=[shapely.box(0, 0, 10, 10)], crs=4525)
    with pytest.raises(InputError, match="141031001002GB00001 的 ZL.*GBK 无法表示的字符“𠮷”"):
        write_layers({"parcels": parcels}, tmp_path / "x.zip")
    kept = write_layers({"parcels": parcels}, tmp_path / "x.gpkg")
    assert gpd.read_file(kept, layer="ZDJBXX")["ZL"].iat[0] == "隰县吉𠮷巷1号"


def test_export_refuses_what_it_cannot_write(loaded, tmp_path):
    with pytest.raises(InputError, match="格式"):
        loaded.export(tmp_path / "x.dwg")
    with pytest.raises(InputError, match="图层"):
        loaded.export(tmp_path / "x.gpkg", layers=("roads",))
    with pytest.raises(InputError, match="一个图层"):
        loaded.export(tmp_path / "x.geojson", layers=("parcels", "units"))


@pytest.mark.parametrize("office", ["housing", "tax"])
def test_unit_lists_for_the_housing_and_tax_offices(loaded, tmp_path, office):
    listing = loaded.unit_list(office)
    assert len(listing) == 84 and listing["不动产单元代码"].is_unique
    assert {"不动产单元代码", "坐落", "室号", "房屋用途"} <= set(listing.columns)
    assert listing["不动产单元代码"].str.len().eq(28).all()
    assert listing["坐落"].str.len().gt(0).all() and listing["房屋用途"].notna().all()
    if office == "tax":
        units = loaded.units().set_index("bdcdyh")
        first = listing.iloc[0]
        assert first["建筑面积"] == pytest.approx(units.loc[first["不动产单元代码"], "scjzmj"])
        assert set(listing["面积来源"]) == {"实测"}
    path = tmp_path / f"{office}.xlsx"
    write_unit_list(listing, path, office=office)
    sheet = load_workbook(path).active
    assert [c.value for c in sheet[1]] == list(listing.columns)  # the header first: other programs read by name
    assert sheet.cell(2, 1).value == listing["不动产单元代码"].iat[0] and sheet.cell(2, 1).number_format == "@"
    assert sheet.max_row == 1 + len(listing) and "户清单" in sheet.tables
    read = pd.read_excel(path, dtype={"不动产单元代码": str})
    assert list(read.columns) == list(listing.columns) and read["不动产单元代码"].iat[0] == listing["不动产单元代码"].iat[0]
    gdal = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True, timeout=60)
    assert "不动产单元代码: String" in gdal.stdout, gdal.stdout + gdal.stderr


def test_unit_list_before_the_as_built_survey_uses_predicted_areas(registry, sample_files):
    registry.ingest(sample_files["cadastral"])
    registry.ingest(sample_files["presale"])
    listing = registry.unit_list("tax")
    assert set(listing["面积来源"]) == {"预测"} and listing["建筑面积"].gt(0).all()
    with pytest.raises(InputError):
        unit_list(registry.units(), registry.buildings(), registry.parcels(), office="police")
