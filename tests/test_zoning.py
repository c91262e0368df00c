"""Zoning import on both engines: the sample loads, re-imports are recognised, bad zoning is refused by code."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from shapely import affinity

from cadastre.core.errors import ZoningError
from cadastre.qa.zoning import validate_zoning
from cadastre.registry import Registry
from cadastre.samples import sample_zoning
from cadastre.store.originals import original_path, originals_root
from cadastre.store.spatial import index_filter
from cadastre.store.zoning import subdistricts_at
from cadastre.testing import assert_findings


def write_gpkg(path: Path, districts: gpd.GeoDataFrame, subdistricts: gpd.GeoDataFrame) -> Path:
    districts.to_file(path, layer="DJQ", driver="GPKG")
    subdistricts.to_file(path, layer="DJZQ", driver="GPKG")
    return path


@pytest.fixture
def registry(engine):
    """A registry without zoning: these tests load it."""
    return Registry(engine)


def test_sample_zoning_loads_and_is_kept_byte_for_byte(registry, zoning_zip):
    result = registry.import_zoning(zoning_zip, imported_by="管理员")
    assert result.status == "applied" and len(result.added) == 16
    summary = registry.summary()
    assert (summary.districts, summary.subdistricts) == (4, 12)
    assert 1000 < summary.zoned_area_km2 < 1500
    stored = original_path(originals_root(registry.engine), result.sha256)
    assert stored.read_bytes() == zoning_zip.read_bytes()
    zoning = registry.zoning()
    assert zoning.districts.crs.to_epsg() == 4525
    assert list(zoning.districts["djqmc"]) == ["龙泉镇", "午城镇", "黄土镇", "寨子乡"]
    assert set(zoning.subdistricts.geom_type) == {"MultiPolygon"}


def test_reimport_is_unchanged_and_a_change_supersedes(registry, zoning_zip, tmp_path):
    registry.import_zoning(zoning_zip)
    assert registry.import_zoning(zoning_zip).status == "unchanged"
    districts, subdistricts = sample_zoning()
    subdistricts.loc[0, "DJZQMC"] = "龙泉镇城区"
    result = registry.import_zoning(write_gpkg(tmp_path / "z.gpkg", districts, subdistricts))
    assert result.status == "applied" and result.changed == ["141031001001"]
    with registry.engine.connect() as c:
        rows = c.execute(sa.text("SELECT djzqmc, valid_to IS NULL AS current, end_reason FROM cadastral_subdistrict "
                                 "WHERE djzqdm = '141031001001' ORDER BY id")).all()
    assert [(r[0], bool(r[1])) for r in rows] == [("龙泉镇第1子区", False), ("龙泉镇城区", True)]
    assert rows[0][2].startswith("zoning import")


def test_overlapping_subdistricts_are_refused_naming_both(registry, tmp_path):
    districts, subdistricts = sample_zoning()
    grown = subdistricts.geometry.iloc[0].buffer(200).intersection(districts.geometry.iloc[0])
    subdistricts.loc[0, "geometry"] = grown
    with pytest.raises(ZoningError) as info:
        registry.import_zoning(write_gpkg(tmp_path / "z.gpkg", districts, subdistricts))
    assert_findings(info.value.findings, [("ZON-006", "141031001001")])
    finding = info.value.findings[0]
    assert "141031001002" in finding.message and "重叠" in finding.message
    assert finding.measured > 1000 and 110 < finding.lon < 112 and 36 < finding.lat < 37.5
    assert registry.summary().subdistricts == 0  # nothing imported


def test_subdistrict_outside_its_district_and_orphans(registry, tmp_path):
    districts, subdistricts = sample_zoning()
    subdistricts.loc[0, "geometry"] = affinity.translate(subdistricts.geometry.iloc[0], xoff=-500)
    minx, miny, _, _ = districts.total_bounds
    subdistricts.loc[len(subdistricts)] = {"DJZQDM": "141031009001", "DJZQMC": "无主子区",
                                          "geometry": shapely.box(minx - 2000, miny, minx - 1000, miny + 1000)}
    findings = validate_zoning(_read(tmp_path, districts, subdistricts), registry.counties)
    assert_findings(findings, [("ZON-005", "141031001001"), ("ZON-004", "141031009001")], exact=False)
    assert "位于地籍区 141031001 之外" in findings.set_index("rule").loc["ZON-005", "message"]


def test_bad_duplicate_and_foreign_codes(registry, tmp_path):
    districts, subdistricts = sample_zoning()
    subdistricts.loc[1, "DJZQDM"] = "141031001001"  # duplicate
    subdistricts.loc[2, "DJZQDM"] = "14103100100"  # 11 digits
    districts.loc[3, "DJQDM"] = "231081004"  # another county
    subdistricts.loc[9, "DJZQDM"] = "141031004000"  # provisional, not enabled
    subdistricts.loc[10, "DJZQDM"] = "231081004002"
    subdistricts.loc[11, "DJZQDM"] = "231081004003"
    findings = validate_zoning(_read(tmp_path, districts, subdistricts), registry.counties)
    rules = set(zip(findings["rule"], findings["feature"], strict=True))
    assert {("ZON-002", "141031001001"), ("ZON-001", "14103100100"), ("ZON-001", "231081004"),
            ("ZON-001", "141031004000")} <= rules


def test_invalid_geometry_reports_the_geos_reason(registry, tmp_path):
    districts, subdistricts = sample_zoning()
    x, y = subdistricts.geometry.iloc[4].representative_point().coords[0]
    subdistricts.loc[4, "geometry"] = shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)])
    findings = validate_zoning(_read(tmp_path, districts, subdistricts), registry.counties)
    invalid = findings[findings["rule"] == "ZON-003"]
    assert list(invalid["feature"]) == ["141031002002"]
    assert "Self-intersection" in invalid["message"].iat[0]


def test_clean_sample_has_no_findings(registry, tmp_path):
    districts, subdistricts = sample_zoning()
    assert len(validate_zoning(_read(tmp_path, districts, subdistricts), registry.counties)) == 0


def test_ending_a_subdistrict_with_parcels_is_refused(registry, zoning_zip, tmp_path):
    registry.import_zoning(zoning_zip)
    with registry.engine.begin() as c:
        c.execute(sa.text("INSERT INTO original (sha256, filename, size, path, received_at) "
                          "VALUES ('p', 'p.zip', 1, 'p', CURRENT_TIMESTAMP)"))
        c.execute(sa.text("INSERT INTO package (id, sha256, status, received_at) "
                          "VALUES (1, 'p', 'accepted', CURRENT_TIMESTAMP)"))
        c.execute(sa.text(
            "INSERT INTO parcel (zddm, zdtzm, geom, package_id, valid_from) VALUES ('141031004003GB00001', 'GB', "
            "ST_Multi(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4525)), 1, CURRENT_TIMESTAMP)"))
    districts, subdistricts = sample_zoning()
    with pytest.raises(ZoningError) as info:
        registry.import_zoning(write_gpkg(tmp_path / "z.gpkg", districts, subdistricts.iloc[:-1]))
    assert_findings(info.value.findings, [("ZON-009", "141031004003")])
    assert registry.zoning().subdistricts.shape[0] == 12


def test_spatial_lookup_uses_the_index(registry, zoning_zip):
    registry.import_zoning(zoning_zip)
    zoning = registry.zoning()
    point = zoning.subdistricts.geometry.iloc[5].representative_point()
    with registry.engine.connect() as c:
        assert subdistricts_at(c, 4525, point) == [zoning.subdistricts["djzqdm"].iat[5]]
        frame = "ST_GeomFromText('POINT(37490000 4060000)', 4525)"
        sql = (f"SELECT s.djzqdm FROM cadastral_subdistrict s WHERE "
               f"{index_filter(c, 'cadastral_subdistrict', 's', frame)}")
        if c.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            # the R*Tree answers through SpatialIndex; the table is then read by rowid, never scanned
            assert "SpatialIndex VIRTUAL TABLE" in plan and "SEARCH s USING INTEGER PRIMARY KEY" in plan, plan
        else:
            c.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(r[0] for r in c.exec_driver_sql("EXPLAIN " + sql))
            assert "ix_cadastral_subdistrict_geom" in plan, plan


def test_folder_upload_is_kept_as_a_deterministic_zip(registry, zoning_zip, tmp_path):
    folder = tmp_path / "folder"
    with zipfile.ZipFile(zoning_zip) as zf:
        for info in zf.infolist():
            name = info.filename.encode("cp437").decode("gbk")
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(zf.read(info))
    first = registry.import_zoning(folder)
    second = registry.import_zoning(folder)
    assert first.sha256 == second.sha256 and second.status == "unchanged"


def _read(tmp_path, districts, subdistricts):
    from cadastre.core import settings
    from cadastre.read.zoning import read_zoning

    return read_zoning(write_gpkg(tmp_path / "z.gpkg", districts, subdistricts), settings.county("141031"), 4525)


def test_provisional_codes_are_a_warning_only_where_the_county_allows_them(registry, tmp_path):
    import dataclasses

    districts, subdistricts = sample_zoning()
    subdistricts.loc[11, "DJZQDM"] = "141031004000"
    zoning = _read(tmp_path, districts, subdistricts)
    refused = validate_zoning(zoning, registry.counties)
    assert_findings(refused, [("ZON-001", "141031004000")])
    allowing = [dataclasses.replace(registry.counties[0], allow_provisional_zoning=True)]
    assert_findings(validate_zoning(zoning, allowing), [("ZON-008", "141031004000")])
