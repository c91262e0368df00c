"""Reading survey packages: every quirk of survey-package.md, each with its exact outcome."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import shapely

from cadastre.read.package import PackageRefused, read_package
from cadastre.samples import (
    Quirks,
    sample_cadastral,
    sample_manifest,
    sample_permit,
    sample_project,
    write_hostile_package,
    write_package,
)
from cadastre.testing import assert_findings

PRESALE = sample_project("presale")
CADASTRAL = sample_cadastral()


def presale(tmp_path, name="p.zip", layers=None, manifest=True, **quirks):
    return write_package(tmp_path / name, layers or PRESALE, manifest=sample_manifest("presale") if manifest else None,
                         quirks=Quirks(**quirks))


def test_clean_package_reads_without_findings(tmp_path):
    pkg = read_package(presale(tmp_path))
    assert len(pkg.findings) == 0
    assert (pkg.stage, pkg.county.code, pkg.storage_epsg) == ("presale", "141031", 4525)
    assert {code: len(frame) for code, frame in pkg.layers.items()} == {"ZRZ": 3, "C": 21, "H": 84}
    assert pkg.raw["H"].info.member == "成果/矢量/H.shp"  # GBK member names decoded
    assert pkg.raw["H"].info.encoding.encoding == "GB18030" and pkg.raw["H"].info.encoding.how == "cpg"
    units = pkg.layers["H"]
    assert units.crs.to_epsg() == 4525 and set(units.geom_type) == {"Polygon"}  # kinds kept as surveyed
    assert units["SJC"].dtype == "Int64" and units["YCJZMJ"].dtype == "float64"
    assert units["feature"].iat[0] == units["BSM"].iat[0]
    roles = {f.member: (f.role, f.layer) for f in pkg.files}
    assert roles["成果/矢量/H.dbf"] == ("layer", "H") and roles["manifest.json"] == ("manifest", None)


def test_gbk_without_cpg_is_inferred_and_read_correctly(tmp_path):
    pkg = read_package(write_package(tmp_path / "c.zip", CADASTRAL, manifest=sample_manifest("cadastral"),
                                     quirks=Quirks(cpg=None)))
    assert pkg.raw["ZDJBXX"].info.encoding.encoding == "GB18030"
    assert list(pkg.layers["ZDJBXX"]["ZL"]) == list(CADASTRAL["ZDJBXX"]["ZL"])
    # only ZDJBXX has Chinese text; JZD and JZX are plain ASCII, which needs no decision
    assert_findings(pkg.findings, [("PKG-005", "成果/矢量/ZDJBXX.dbf")])
    assert pkg.raw["JZD"].info.encoding.how == "ascii"


@pytest.mark.parametrize("cpg", ["GB2312", "CP936", "ANSI 936", "GBK"])
def test_chinese_code_page_names_decide(tmp_path, cpg):
    pkg = read_package(write_package(tmp_path / "c.zip", CADASTRAL, manifest=sample_manifest("cadastral"),
                                     quirks=Quirks(cpg=cpg)))
    assert len(pkg.findings) == 0
    assert list(pkg.layers["ZDJBXX"]["QLR"]) == list(CADASTRAL["ZDJBXX"]["QLR"])


def test_wrong_cpg_is_detected_read_correctly_and_warned(tmp_path):
    pkg = read_package(write_package(tmp_path / "c.zip", CADASTRAL, manifest=sample_manifest("cadastral"),
                                     quirks=Quirks(cpg="UTF-8")))
    assert list(pkg.layers["ZDJBXX"]["ZL"]) == list(CADASTRAL["ZDJBXX"]["ZL"])
    warnings = pkg.findings[pkg.findings["rule"] == "PKG-006"]
    assert set(warnings["feature"]) == {"成果/矢量/ZDJBXX.dbf"}
    assert (warnings["severity"] == "warning").all()
    assert "UTF-8 与内容不符，已按 GB18030 读取" in warnings["message"].iat[0]


def test_utf8_data(tmp_path):
    pkg = read_package(write_package(tmp_path / "c.zip", CADASTRAL, manifest=sample_manifest("cadastral"),
                                     quirks=Quirks(encoding="UTF-8", cpg="UTF-8", gbk_names=False)))
    assert len(pkg.findings) == 0 and pkg.raw["ZDJBXX"].info.encoding.encoding == "UTF-8"


@pytest.mark.parametrize(("coordinates", "epsg"), [("prefixed", 4525), ("unprefixed", 4546), ("geographic", 4490)])
def test_no_prj_crs_inferred_and_converted(tmp_path, coordinates, epsg):
    pkg = read_package(presale(tmp_path, prj=False, coordinates=coordinates))
    assert {r.info.crs.epsg for r in pkg.raw.values() if r.info.crs} == {epsg}
    assert set(pkg.findings["rule"]) == {"PKG-005"}
    original = np.asarray(PRESALE["ZRZ"].geometry.values, dtype=object)
    read = shapely.normalize(np.asarray(pkg.layers["ZRZ"].geometry.values, dtype=object))
    assert shapely.equals_exact(read, shapely.normalize(original), tolerance=1e-3).all()  # same place, to the millimetre, whatever the file's CRS


def test_cass_eastings_without_the_zone_prefix_under_a_prefixed_prj_are_read_and_warned(tmp_path):
    pkg = read_package(presale(tmp_path, coordinates="cass"))
    assert_findings(pkg.findings, [("PKG-006", "成果/矢量/ZRZ.shp"), ("PKG-006", "成果/矢量/C.shp"),
                                   ("PKG-006", "成果/矢量/H.shp")])
    assert "按不带带号的第 37 带（EPSG:4546）读取" in pkg.findings["message"].iat[0]
    original = shapely.normalize(np.asarray(PRESALE["ZRZ"].geometry.values, dtype=object))
    read = shapely.normalize(np.asarray(pkg.layers["ZRZ"].geometry.values, dtype=object))
    assert shapely.equals_exact(read, original, tolerance=1e-3).all()


def test_manifest_crs_overrides_prj(tmp_path):
    pkg = read_package(presale(tmp_path, manifest_crs=True))
    assert pkg.raw["ZRZ"].info.crs.how == "manifest"


@pytest.mark.parametrize(("coordinates", "fragment"), [("zone38", "第 38 带"), ("xian80", "西安80")])
def test_wrong_zone_or_datum_is_refused_per_layer(tmp_path, coordinates, fragment):
    pkg = read_package(presale(tmp_path, coordinates=coordinates))
    assert_findings(pkg.findings, [("PKG-004", None)] * 3)
    assert all(fragment in m for m in pkg.findings["message"])
    assert "PKG-001" not in set(pkg.findings["rule"])  # present but refused is not "missing"
    assert pkg.layers == {}


def test_polygon_z_is_flattened(tmp_path):
    pkg = read_package(presale(tmp_path, z=True))
    assert_findings(pkg.findings, [("GEO-005", None)] * 3)
    assert not pkg.layers["ZRZ"].geometry.has_z.any()


@pytest.mark.parametrize("tables", ["xlsx", "csv", "dbf", "nullshp"])
def test_attribute_tables(tmp_path, tables):
    pkg = read_package(presale(tmp_path, tables=tables))
    # a CSV declares no encoding: C.csv (名义层 "地下1" in GBK) is decided from its bytes, and the report says so;
    # shapefiles of null shapes are tables, said so, with no CRS to decide
    expected = {"csv": [("PKG-005", "成果/矢量/C.csv")],
                "nullshp": [("PKG-005", "成果/矢量/C.shp"), ("PKG-005", "成果/矢量/H.shp")]}.get(tables, [])
    assert_findings(pkg.findings, expected)
    if tables == "nullshp":
        assert "图形全部为空，按属性表读取" in pkg.findings["message"].iat[0]
        assert pkg.raw["H"].info.crs is None and pkg.raw["H"].info.null_shapes
    units = pkg.layers["H"]
    assert len(units) == 84 and units.geometry.isna().all()
    assert list(units["SHBW"]) == list(PRESALE["H"]["SHBW"])
    assert units["YCJZMJ"].tolist() == pytest.approx(PRESALE["H"]["YCJZMJ"].tolist())
    assert pkg.raw["H"].info.kind == {"nullshp": "shapefile", "xlsx": "workbook"}.get(tables, tables)


def test_truncated_shp_yields_a_null_geometry_finding(tmp_path):
    pkg = read_package(presale(tmp_path, truncate=(("ZRZ.shp", 30),)))
    assert_findings(pkg.findings, [("GEO-002", "Z3")])


def test_missing_shx_is_refused_for_that_layer(tmp_path):
    pkg = read_package(presale(tmp_path, drop=("ZRZ.shx",)))
    assert_findings(pkg.findings, [("PKG-002", None)])
    assert "ZRZ.shp 缺少 .shx 文件" in pkg.findings["message"].iat[0]
    assert "ZRZ" not in pkg.layers and "H" in pkg.layers


def test_missing_required_layer(tmp_path):
    pkg = read_package(presale(tmp_path, layers={"ZRZ": PRESALE["ZRZ"]}))
    assert_findings(pkg.findings, [("PKG-001", "H")])
    assert "预测绘成果包缺少必需的图层 H（户）" in pkg.findings["message"].iat[0]


def test_numbers_as_text_and_chinese_field_names(tmp_path):
    pkg = read_package(presale(tmp_path, text_numbers=True, chinese_fields=True))
    assert len(pkg.findings) == 0, pkg.findings
    units = pkg.layers["H"]
    assert units["YCJZMJ"].tolist() == pytest.approx(PRESALE["H"]["YCJZMJ"].tolist())
    assert units["SHBW"].tolist() == PRESALE["H"]["SHBW"].tolist()
    assert pkg.raw["H"].info.fields["YCTNJZMJ"] != "YCTNJZMJ"  # a truncated Chinese name


def test_unreadable_values_and_blank_required_values_are_reported(tmp_path):
    units = PRESALE["H"].copy()
    units["YCJZMJ"] = units["YCJZMJ"].astype(object)
    units.loc[0, "YCJZMJ"] = "约一百"
    units.loc[1, "SHBW"] = None
    units["SJC"] = units["SJC"].astype(object)
    units.loc[2, "SJC"] = "2.5"
    pkg = read_package(presale(tmp_path, layers={**PRESALE, "H": units}))
    assert_findings(pkg.findings, [("ATT-002", "H1091"), ("ATT-002", "H1092"), ("ATT-002", "H1093")])
    messages = dict(zip(pkg.findings["feature"], pkg.findings["message"], strict=True))
    assert "YCJZMJ（预测建筑面积）值“约一百”无法识别为数字" in messages["H1091"]
    assert "缺少必填属性 SHBW（室号部位）" in messages["H1092"]
    assert "SJC（实际层）值“2.5”无法识别为整数" in messages["H1093"]
    assert np.isnan(pkg.layers["H"]["YCJZMJ"].iat[0])  # not guessed
    assert pkg.findings["lon"].notna().all()  # located on the unit's outline


def test_invalid_and_null_geometries(tmp_path):
    buildings = PRESALE["ZRZ"].copy()
    x, y = buildings.geometry.iat[0].exterior.coords[0]
    buildings.loc[0, "geometry"] = shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)])
    buildings.loc[1, "geometry"] = None
    pkg = read_package(presale(tmp_path, layers={**PRESALE, "ZRZ": buildings}))
    assert_findings(pkg.findings, [("GEO-001", "Z1"), ("GEO-002", "Z2")])
    bowtie = pkg.findings.set_index("rule").loc["GEO-001"]
    assert "自相交" in bowtie["message"] and "Self-intersection" in bowtie["message"]
    assert 110.6 < bowtie["lon"] < 111.2 and 36.4 < bowtie["lat"] < 37.0


def test_missing_required_field_is_one_layer_finding(tmp_path):
    units = PRESALE["H"].drop(columns=["SHBW"])
    pkg = read_package(presale(tmp_path, layers={**PRESALE, "H": units}))
    assert_findings(pkg.findings, [("ATT-002", None)])
    assert "缺少必填字段 SHBW（室号部位）" in pkg.findings["message"].iat[0]


def test_zrzh_forms_are_normalised(tmp_path):
    units = PRESALE["H"].copy()
    units["ZRZH"] = units["ZRZH"].astype(int)  # numeric: 1 → "0001"
    buildings = PRESALE["ZRZ"].copy()
    buildings["ZRZH"] = "141031001002GB00017F" + buildings["ZRZH"]  # the 24-character form
    pkg = read_package(presale(tmp_path, layers={**PRESALE, "H": units, "ZRZ": buildings}))
    assert_findings(pkg.findings, [("ATT-012", None)])  # 1 → 0001 is said; the 24-character form is standard
    assert pkg.findings["message"].iat[0] == "H 的自然幢号已规范为 4 位幢号：1 → 0001、2 → 0002、3 → 0003"
    assert list(pkg.layers["H"]["ZRZH"].unique()) == ["0001", "0002", "0003"]
    assert list(pkg.layers["ZRZ"]["ZRZH"]) == ["0001", "0002", "0003"]
    assert set(pkg.layers["ZRZ"]["ZDDM"]) == {"141031001002GB00017"}


@pytest.mark.parametrize(("stage", "layers"), [("presale", PRESALE), ("asbuilt", sample_project("asbuilt")),
                                               ("cadastral", CADASTRAL)])
def test_without_manifest_stage_is_inferred(tmp_path, stage, layers):
    pkg = read_package(write_package(tmp_path / "p.zip", layers, quirks=Quirks()), county="141031")
    assert pkg.stage == stage
    assert "stage" in pkg.inferred and "county" in pkg.inferred
    assert set(pkg.findings["feature"][pkg.findings["rule"] == "PKG-005"]) >= {"stage", "county"}


def test_county_from_codes_in_the_data(tmp_path):
    parcels = CADASTRAL["ZDJBXX"].copy()
    parcels["ZDDM"] = [f"141031001002GB{i:05d}" for i in range(1, 7)]
    pkg = read_package(write_package(tmp_path / "p.zip", {**CADASTRAL, "ZDJBXX": parcels}))
    assert pkg.county.code == "141031" and "宗地代码" in pkg.inferred["county"]


def test_lone_geopackage(tmp_path):
    pkg = read_package(write_package(tmp_path / "p.gpkg", PRESALE, quirks=Quirks(container="gpkg")),
                       county="141031")
    assert pkg.stage == "presale" and len(pkg.layers["H"]) == 84
    assert pkg.raw["H"].info.crs.how == "gpkg"


def test_folder_package_and_other_files(tmp_path):
    folder = write_package(tmp_path / "pkg", PRESALE, manifest=sample_manifest("presale"),
                           quirks=Quirks(container="folder"), other_files={"报告/技术报告.pdf": b"%PDF-1.4"})
    pkg = read_package(folder)
    assert len(pkg.findings) == 0
    assert ("报告/技术报告.pdf", "other") in {(f.member, f.role) for f in pkg.files}


def test_two_files_claiming_one_layer(tmp_path):
    path = presale(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("副本/户.csv", "SHBW\n1-101\n")
    pkg = read_package(path)
    assert_findings(pkg.findings, [("PKG-002", None)])
    assert "多个文件都是图层 H" in pkg.findings["message"].iat[0]


@pytest.mark.parametrize("kind", ["zip_slip", "absolute", "symlink", "encrypted", "zip_bomb", "oversized_member"])
def test_hostile_archives_are_refused_before_extraction(tmp_path, kind):
    with pytest.raises(PackageRefused.__mro__[1]) as info:  # UnsafeArchiveError and PackageRefused are InputErrors
        read_package(write_hostile_package(tmp_path / f"{kind}.zip", kind))
    assert info.value.kind in ("unsafe-archive",)


def test_manifest_problems_refuse_the_package(tmp_path):
    path = presale(tmp_path, manifest=False)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("manifest.json", '{"county_code": "141031", "stage": "presale",}')
    with pytest.raises(PackageRefused, match="不是有效的 JSON（第 1 行"):
        read_package(path)
    path = presale(tmp_path, name="q.zip", manifest=False)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("manifest.json", json.dumps({"county_code": "141031", "stage": "final"}))
    with pytest.raises(PackageRefused, match="stage“final”无效"):
        read_package(path)
    path = presale(tmp_path, name="r.zip", manifest=False)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("manifest.json", json.dumps({"county_code": "999999", "stage": "presale"}))
    with pytest.raises(PackageRefused, match="999999"):
        read_package(path)


def test_unknown_county_without_manifest_is_refused(tmp_path):
    with pytest.raises(PackageRefused, match="无法确定成果包所属的县"):
        read_package(presale(tmp_path, manifest=False))


def test_permit_json_is_parsed_and_bad_permits_reported(tmp_path):
    layers = sample_project("asbuilt")
    pkg = read_package(write_package(tmp_path / "a.zip", layers, manifest=sample_manifest("asbuilt"),
                                     permit=sample_permit()))
    assert pkg.permit.far_max == 1.6 and pkg.permit.buildings[0].zrzh == "0001"
    bad = dict(sample_permit(), far_max="二点五")
    pkg = read_package(write_package(tmp_path / "b.zip", layers, manifest=sample_manifest("asbuilt"), permit=bad))
    assert_findings(pkg.findings, [("PKG-007", "permit.json")])
    assert "far_max 应为数字" in pkg.findings["message"].iat[0]


def test_geojson_layers_are_read_and_unrelated_broken_geojson_is_only_listed(tmp_path):
    layers = sample_cadastral()
    folder = write_package(tmp_path / "pkg", {"JZD": layers["JZD"]}, quirks=Quirks(container="folder"),
                           manifest=sample_manifest("cadastral"))
    # the parcels as GeoJSON in lon/lat under another file name: found by the collection's name
    layers["ZDJBXX"].to_crs(4326).to_file(folder / "宗地导出.geojson", driver="GeoJSON", layer="ZDJBXX",
                                          RFC7946="YES", COORDINATE_PRECISION=9)
    (folder / "notes.geojson").write_text("{ not json")  # somebody's scratch file
    package = read_package(folder)
    parcels = package.layers["ZDJBXX"]
    assert len(parcels) == len(layers["ZDJBXX"])
    assert package.raw["ZDJBXX"].info.kind == "geojson"
    original = np.asarray(layers["ZDJBXX"].geometry.values)
    assert shapely.hausdorff_distance(np.asarray(parcels.geometry.values), original).max() < 1e-3
    assert any(f.member.endswith("notes.geojson") for f in package.files)
    assert not len(package.findings) or "notes.geojson" not in " ".join(package.findings["message"])
    (folder / "ZRZ.geojson").write_text("{ not json")  # named as a layer but unreadable: said plainly
    findings = read_package(folder).findings
    said = findings[findings["rule"] == "PKG-002"]
    assert len(said) == 1 and said["severity"].iat[0] == "error" and "无法读取 ZRZ.geojson" in said["message"].iat[0]


def test_layers_are_read_two_at_a_time_largest_first_and_reported_in_layer_order(tmp_path, monkeypatch):
    # read_package loads the layers in two threads (GDAL lets go of the GIL), the largest files first; what it
    # reports — the layers, a layer's failure, the files' roles — comes out in the layers' order all the same
    import threading
    import time

    from cadastre.core.errors import InputError
    from cadastre.read import package as package_module

    real = package_module.load_layer
    started, threads = [], set()

    def load(source):
        started.append(source.layer)
        threads.add(threading.current_thread().name)
        if source.layer == "C":
            raise InputError("层表读不出", "floors unreadable", rule="PKG-002")
        time.sleep(0.05)  # long enough for the other thread to take the next layer
        return real(source)

    monkeypatch.setattr(package_module, "load_layer", load)
    pkg = read_package(presale(tmp_path))
    assert started[0] == "H" and sorted(started) == ["C", "H", "ZRZ"]  # the units' files are the largest
    assert len(threads) == 2 and all(name.startswith("cadastre-read") for name in threads)
    assert list(pkg.layers) == ["ZRZ", "H"]
    assert_findings(pkg.findings, [("PKG-002", None)])
    assert "层表读不出" in pkg.findings["message"].iat[0]
