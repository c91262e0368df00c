"""规划核实: every indicator passing and failing on generated projects, evidence that adds up to the figure, county
rules that change the result, forecasts for pre-sale packages, permits recorded with history, and readiness."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import shapely
from shapely import affinity

from cadastre.core import settings
from cadastre.core.permit import parse_permit
from cadastre.qa.planning import INDICATORS, PlanningRules, counted_areas, indicator_findings, verify
from cadastre.read.package import read_package
from cadastre.samples import (
    PARCEL_SIZE,
    PERMIT_NUMBER,
    Quirks,
    _block_origin,
    sample_cadastral,
    sample_manifest,
    sample_permit,
    sample_project,
    write_package,
)
from cadastre.testing import assert_findings

DEFAULT = settings.tolerances("default")
MUDANJIANG = settings.tolerances("mudanjiang")
X0, Y0 = _block_origin("141031")
PARCEL = shapely.box(X0, Y0, X0 + PARCEL_SIZE[0], Y0 + PARCEL_SIZE[1])


@pytest.fixture(scope="module")
def asbuilt(tmp_path_factory):
    path = write_package(tmp_path_factory.mktemp("p") / "asbuilt.zip", sample_project("asbuilt"),
                         manifest=sample_manifest("asbuilt"), quirks=Quirks())
    return read_package(path)


def with_layers(package, **layers):
    """The package with some layers replaced (the same normalised columns, edited)."""
    return dataclasses.replace(package, layers={**package.layers, **layers})


def run(package, permit=None, rules=DEFAULT, **kwargs):
    data = sample_permit() if permit is None else permit
    found = verify(package, parse_permit(data), rules, parcel=kwargs.pop("parcel", PARCEL),
                   parcel_code="141031001002GB00001", **kwargs)
    return {(i.indicator, i.subject): i for i in found}


def permit_with(**changes):
    data = sample_permit()
    data.update(changes)
    return data


def test_the_sample_project_passes_everything_but_building_0002(asbuilt):
    result = run(asbuilt)
    assert {key for key, i in result.items() if i.status == "fail"} == {("building_floor_area", "0002")}
    assert all(i.status == "pass" for key, i in result.items() if key != ("building_floor_area", "0002"))
    assert {i.indicator for i in result.values()} == set(INDICATORS)
    b2 = result[("building_floor_area", "0002")]
    assert b2.permitted == 3622.64 and b2.measured == 3774.68 and b2.tolerance == round(3622.64 * 0.03, 2)


@pytest.mark.parametrize(("changes", "key", "permitted", "measured"), [
    ({"land_area": 17000.0}, ("land_area", None), 17000.0, 18000.0),
    ({"total_floor_area": 9000.0}, ("total_floor_area", None), 9000.0, 11019.68),
    ({"far_max": 0.5}, ("far", None), 0.5, 0.5247),
    ({"coverage_max": 0.07}, ("coverage", None), 0.07, 0.076),
    ({"green_min": 0.6}, ("green_ratio", None), 0.6, 0.5056),
    ({"parking_min": 60}, ("parking", None), 60, 50),
    ({"height_max": 15.0}, ("height", None), 15.0, 19.8),
    ({"facilities": {"物业用房": 600.0}}, ("facilities", "物业用房"), 600.0, 516.44),
])
def test_each_project_indicator_fails_when_the_permit_is_stricter(asbuilt, changes, key, permitted, measured):
    result = run(asbuilt, permit_with(**changes))
    assert run(asbuilt)[key].status == "pass"
    indicator = result[key]
    assert (indicator.status, indicator.permitted, indicator.measured) == ("fail", permitted, measured)
    assert "规划许可" in indicator.message  # one Chinese sentence with both figures
    assert_findings(indicator_findings([indicator]), [(indicator.rule, key[1])])


def test_per_building_floors_and_use_and_buildings_outside_the_permit(asbuilt):
    data = sample_permit()
    data["buildings"][0].update(floors_above=7, use="12")
    data["buildings"] = data["buildings"][:2] + [dict(data["buildings"][2], zrzh="0004")]
    result = run(asbuilt, data)
    assert result[("floors", "0001")].status == "fail"
    assert result[("floors", "0001")].measured == {"above": 6, "below": 1}
    assert result[("use", "0001")].status == "fail" and result[("use", "0001")].measured == "11"
    assert result[("floors", "0002")].status == "pass"
    # built but not in the permit, and permitted but not built
    assert "不在规划许可" in result[("building_floor_area", "0003")].message
    assert "在成果包中不存在" in result[("use", "0004")].message
    assert result[("use", "0003")].status == result[("use", "0004")].status == "fail"


def test_land_extent_against_a_recorded_red_line(asbuilt):
    shifted = affinity.translate(PARCEL, xoff=10)
    result = run(asbuilt, red_line=shifted)
    extent = result[("land_extent", None)]
    assert extent.status == "fail" and extent.evidence["source"] == "登记的规划许可红线"
    assert extent.evidence["symmetric_difference"] == pytest.approx(2 * 10 * PARCEL_SIZE[1])
    assert run(asbuilt, red_line=affinity.translate(PARCEL, xoff=0.5))[("land_extent", None)].status == "pass"


def test_setback_against_a_building_control_line(asbuilt):
    buildings = asbuilt.layers["ZRZ"]
    east = shapely.get_coordinates(buildings.geometry.iat[2])[:, 0].max()
    control = shapely.box(X0 + 3, Y0 + 3, east - 2.0, Y0 + PARCEL_SIZE[1] - 3)  # building 3 sticks out 2 m
    ghhx = asbuilt.layers["GHHX"]
    lines = ghhx.iloc[[0, 0]].reset_index(drop=True)
    lines["XLX"] = ["规划红线", "建筑控制线"]
    lines.loc[1, "geometry"] = shapely.LinearRing(control.exterior.coords)  # drawn as a closed line: still an area
    lines = lines.set_geometry(lines.geometry)
    setback = run(with_layers(asbuilt, GHHX=lines))[("setback", None)]
    assert setback.status == "fail" and setback.evidence["line"] == "建筑控制线"
    assert [o["zrzh"] for o in setback.evidence["outside"]] == ["0003"]
    assert setback.measured == pytest.approx(2.0, abs=1e-3)
    assert setback.evidence["outside"][0]["area_outside"] == pytest.approx(2.0 * 15.0, abs=0.01)


def test_coverage_is_the_union_of_footprints_and_its_evidence_adds_up(asbuilt):
    buildings = asbuilt.layers["ZRZ"].copy()
    # building 2 moved onto building 1 by half its width: the overlap is counted once
    buildings.loc[1, "geometry"] = affinity.translate(buildings.geometry.iat[0], xoff=15)
    coverage = run(with_layers(asbuilt, ZRZ=buildings))[("coverage", None)]
    e = coverage.evidence
    footprints = sum(f["area"] for f in e["footprints"])
    assert e["overlap"] == pytest.approx(15.06 * 15, abs=0.01)  # as-built width 30.06 m
    assert footprints - e["overlap"] == pytest.approx(e["footprint_union"], abs=0.01)
    assert coverage.measured == pytest.approx(e["footprint_union"] / e["land_area"], abs=1e-4)


def test_green_areas_are_clipped_to_the_parcel_and_the_evidence_adds_up(asbuilt):
    green = asbuilt.layers["LD"].copy()
    green.loc[0, "geometry"] = affinity.translate(green.geometry.iat[0], xoff=-100)  # 95 of its 140 m outside
    green.loc[1, "geometry"] = shapely.box(X0 + 5, Y0 + 100, X0 + 145, Y0 + 125)  # overlaps nothing, 5 m outside
    ratio = run(with_layers(asbuilt, LD=green))[("green_ratio", None)]
    e = ratio.evidence
    inside = [g["inside_parcel"] for g in e["green_areas"]]
    assert inside == pytest.approx([45 * 50, 140 * 20], abs=0.01)
    assert sum(inside) - e["overlap"] == pytest.approx(e["green_union"], abs=0.01)
    assert ratio.measured == pytest.approx(e["green_union"] / e["land_area"], abs=1e-4)
    assert ratio.status == "fail"  # (2250 + 2800) / 18000 = 28 % < 35 %


def test_total_and_counted_floor_area_evidence_adds_up(asbuilt):
    result = run(asbuilt)
    total = result[("total_floor_area", None)]
    assert sum(b["area"] for b in total.evidence["buildings"]) == pytest.approx(total.measured, abs=0.01)
    far = result[("far", None)]
    counted = far.evidence["counted_floor_area"]
    assert sum(b["counted"] for b in far.evidence["buildings"]) == pytest.approx(counted, abs=0.01)
    assert far.measured == pytest.approx(counted / far.evidence["land_area"], abs=1e-4)
    # underground units are not counted: the basement is the only thing left out under the default rules
    assert [r["rule"] for r in far.evidence["not_counted_or_halved"]] == ["地下"]
    assert counted + far.evidence["not_counted_or_halved"][0]["area"] == pytest.approx(total.measured, abs=0.01)


def test_two_counties_rules_give_different_results_on_the_same_package(asbuilt):
    floors = asbuilt.layers["C"].copy()
    floors.loc[(floors["ZRZH"] == "0001") & (floors["SJC"] == 6), "CG"] = 2.1  # a low top floor in building 1
    package = with_layers(asbuilt, C=floors)
    default = run(package, permit_with(far_max=0.51))[("far", None)]
    strict = run(package, permit_with(far_max=0.51), rules=MUDANJIANG)[("far", None)]
    # 牡丹江: 物管用房 (building 3, floor 1: 4 units) not counted and the 2.1 m floor at half
    units = asbuilt.layers["H"]
    property_rooms = units.loc[units["FWYT1"] == "84", "SCJZMJ"].sum()
    top_floor = units.loc[(units["ZRZH"] == "0001") & (units["SJC"] == 6), "SCJZMJ"].sum()
    assert default.evidence["counted_floor_area"] - strict.evidence["counted_floor_area"] == pytest.approx(
        property_rooms + top_floor / 2, abs=0.02)
    assert (default.status, strict.status) == ("fail", "pass")
    assert round(default.measured, 2) > 0.51 >= round(strict.measured, 2)
    rules = {r["rule"] for r in strict.evidence["not_counted_or_halved"]}
    assert rules == {"地下", "不计容用途", "层高不足 2.2 m 按 0.5 计"}


def test_counted_areas_follow_the_fixed_rules():
    import pandas as pd

    units = pd.DataFrame({"ZRZH": ["0001"] * 5, "SJC": [-1, 1, 1, 2, 3], "SHBW": list("abcde"),
                          "FWYT1": ["80", "84", "11", "11", "11"], "JSRKZ": [1, 1, 0, 1, None],
                          "SCJZMJ": [50.0, 40.0, 30.0, 20.0, 10.0]})
    floors = pd.DataFrame({"ZRZH": ["0001"], "SJC": [3], "CG": [2.0]})
    rules = PlanningRules(((1e99, 0.01),), frozenset({"84"}), 2.2, 0.5)
    counted = counted_areas(units, floors, rules)
    assert counted["counted"].tolist() == [0.0, 0.0, 0.0, 20.0, 5.0]
    assert counted["rule"].tolist()[:3] == ["地下", "不计容用途", "不计入容积率（JSRKZ=0）"]


def test_missing_figures_and_layers_are_not_checked_and_say_why(asbuilt):
    data = {"number": PERMIT_NUMBER, "far_max": 1.6, "facilities": {"社区用房": 200.0}}
    package = dataclasses.replace(asbuilt, layers={k: v for k, v in asbuilt.layers.items() if k not in ("LD", "TCW")})
    result = run(package, data)
    assert result[("far", None)].status == "pass"
    reasons = {key: i.reason for key, i in result.items() if i.status == "not_checked"}
    assert reasons[("land_area", None)] == "规划许可未载明用地面积 land_area"
    assert reasons[("facilities", "社区用房")] == "规则文件未规定配套设施“社区用房”对应的房屋用途"
    assert set(reasons) >= {("total_floor_area", None), ("coverage", None), ("green_ratio", None), ("parking", None),
                            ("height", None)}
    no_parcel = run(asbuilt, parcel=None)
    assert no_parcel[("far", None)].reason == "找不到项目所在的已登记宗地"


def test_a_presale_package_is_a_forecast_and_warns(tmp_path):
    layers = sample_project("presale")
    layers["ZRZ"].loc[0, "DSCS"] = 7  # the design has one storey more than approved…
    layers["ZRZ"].loc[0, "ZCS"] = 8
    path = write_package(tmp_path / "presale.zip", layers, manifest=sample_manifest("presale"),
                         permit=sample_permit(), quirks=Quirks())
    package = read_package(path)
    result = run(package)
    assert result[("floors", "0001")].status == "forecast_fail"
    assert result[("building_floor_area", "0002")].status == "forecast_pass"  # the design matches the permit
    findings = indicator_findings(list(result.values()), package.storage_epsg)
    assert_findings(findings, [("PLN-010", "0001")])
    assert set(findings["severity"]) == {"warning"} and findings["message"].iat[0].startswith("（预测）")


# ----------------------------------------------------------------------------------------- with the registry


def write(tmp_path, stage, permit=None):
    layers = sample_cadastral() if stage == "cadastral" else sample_project(stage)
    return write_package(tmp_path / f"{stage}.zip", layers, manifest=sample_manifest(stage), permit=permit,
                         quirks=Quirks())


def test_permits_are_recorded_with_history(registry, tmp_path):
    first = registry.record_permit(parse_permit(sample_permit()), by="李规划")
    same = registry.record_permit(parse_permit(sample_permit()), by="李规划")
    assert first.changed and not same.changed and same.id == first.id
    red = shapely.geometry.mapping(PARCEL)
    (tmp_path / "p.json").write_text(json.dumps(permit_with(far_max=1.8, red_line=red), ensure_ascii=False),
                                     encoding="utf-8")
    second = registry.record_permit(tmp_path / "p.json", by="张规划")
    versions = registry.permit(PERMIT_NUMBER)
    assert [v.id for v in versions] == [first.id, second.id]
    assert versions[0].valid_to is not None and "张规划" in versions[0].end_reason and versions[1].valid_to is None
    assert versions[0].permit.far_max == 1.6 and versions[1].permit.far_max == 1.8
    with registry.engine.connect() as c:  # the red line is also a geometry in the storage CRS, for the map
        area = c.exec_driver_sql("SELECT ST_Area(geom) FROM permit WHERE valid_to IS NULL").scalar()
    assert area == pytest.approx(PARCEL.area)


def test_ingest_accepts_with_planning_failures_and_readiness_waits_for_a_waiver(registry, tmp_path):
    assert registry.ingest(write(tmp_path, "cadastral")).status == "accepted"
    assert registry.ingest(write(tmp_path, "presale")).status == "accepted"
    recorded = sample_permit()
    recorded["parking_min"] = 60  # planning recorded a stricter permit than the package's copy
    registry.record_permit(parse_permit(recorded), by="李规划")
    result = registry.ingest(write(tmp_path, "asbuilt", permit=sample_permit()))
    assert result.status == "accepted" and result.exit_code == 0  # the survey is accepted and coded regardless
    report = result.report
    assert report["package"]["permit"] == {"number": PERMIT_NUMBER, "source": "recorded"}
    failed = {(f["rule"], f["feature"]) for f in report["findings"] if f["severity"] == "error"}
    assert failed == {("PLN-009", "0002"), ("PLN-007", None)}
    assert any(f["rule"] == "PKG-008" and "parking_min" in f["message"] for f in report["findings"])
    building = "141031001002GB00001F"
    # a project-level failure (parking) holds every building back; 0002's own failure only 0002
    assert registry.building_table(building + "0001").not_ready_because == ["规划核实有 1 项未通过且未豁免（PLN-007）"]
    registry.waive(result.package_id, "PLN-007", None, by="王科长", reason="地下车库二期建设，已出具承诺书")
    assert registry.building_table(building + "0001").ready
    table = registry.building_table(building + "0002")
    assert table.not_ready_because == ["规划核实有 1 项未通过且未豁免（PLN-009）"]
    registry.waive(result.package_id, "PLN-009", "0002", by="王科长", reason="超出部分为阳台封闭，规划局已出具意见")
    assert registry.building_table(building + "0002").ready


def test_asbuilt_without_any_permit_is_not_ready(registry, tmp_path):
    registry.ingest(write(tmp_path, "cadastral"))
    registry.ingest(write(tmp_path, "presale"))
    result = registry.ingest(write(tmp_path, "asbuilt"))
    assert result.status == "accepted"
    assert {i["status"] for i in result.report["indicators"]} == {"not_checked"}
    table = registry.building_table("141031001002GB00001F0001")
    assert table.not_ready_because == ["规划核实未进行：没有规划许可（登记库中无记录，成果包也未附 permit.json）"]
    assert np.all([not c.ready for c in table.cells])
