"""Every rule: a package that triggers it exactly where planted, and the clean realistic samples (adjacent parcels
sharing boundary points, buildings flush with the parcel edge, units sharing walls and stacked over floors) that
trigger nothing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import affinity

from cadastre.core.catalogue import CATALOGUE
from cadastre.qa.pipeline import check_package
from cadastre.qa.rules import RULES, load_rules
from cadastre.samples import (
    Quirks,
    sample_cadastral,
    sample_manifest,
    sample_permit,
    sample_project,
    write_package,
)
from cadastre.testing import assert_findings


def run(tmp_path, layers, stage, **kwargs):
    path = write_package(tmp_path / f"{stage}.zip", layers, manifest=sample_manifest(stage),
                         permit=sample_permit() if stage == "asbuilt" else None, quirks=Quirks())
    return check_package(path, **kwargs)


def only(report, rule_id):
    return report.findings[report.findings["rule"] == rule_id]


@pytest.mark.parametrize("stage", ["cadastral", "presale", "asbuilt"])
def test_clean_samples_have_no_survey_findings(tmp_path, stage):
    layers = sample_cadastral() if stage == "cadastral" else sample_project(stage)
    report = run(tmp_path, layers, stage)
    # the one deliberate planning failure of the sample: building 0002 was built 4.2 % larger than approved
    expected = [("PLN-009", "0002")] if stage == "asbuilt" else []
    assert_findings(report.findings, expected)


def test_every_catalogue_rule_is_implemented():
    load_rules()
    read_time = {"PKG-001", "PKG-002", "PKG-003", "PKG-004", "PKG-005", "PKG-006", "PKG-007", "PKG-008", "PKG-010",
                 "GEO-001", "GEO-002", "GEO-005", "GEO-006", "ATT-002", "ATT-012"}  # found while reading (tests/test_package.py)
    by_other_rules = {"PKG-009"}  # TOP-003's, when the registry has no parcel for the buildings
    planning = {f"PLN-{n:03d}" for n in range(1, 14)}  # cadastre.qa.planning, one per indicator (tests/test_planning.py)
    from cadastre.qa.planning import RULE_OF

    assert set(RULE_OF.values()) == planning
    baseline = {f"BSL-{n:03d}" for n in range(1, 8)}  # cadastre.qa.baseline, for the county's existing registry
    assert set(CATALOGUE) == set(RULES) | read_time | by_other_rules | planning | baseline


# ------------------------------------------------------------------------------------------------------ cadastral


def cadastral(changes=None):
    layers = {k: v.copy() for k, v in sample_cadastral().items()}
    for (layer, row, column), value in (changes or {}).items():
        layers[layer].loc[row, column] = value
    return layers


def test_geo003_duplicate_vertex(tmp_path):
    layers = cadastral()
    ring = list(layers["ZDJBXX"].geometry.iat[2].exterior.coords)
    layers["ZDJBXX"].loc[2, "geometry"] = shapely.Polygon(ring[:2] + [ring[1]] + ring[2:])
    assert_findings(only(run(tmp_path, layers, "cadastral"), "GEO-003"), [("GEO-003", "3")])


def test_geo004_sliver(tmp_path):
    layers = cadastral()
    minx, miny, _, _ = layers["ZDJBXX"].total_bounds
    sliver = shapely.box(minx - 0.4, miny, minx, miny + 1)  # 0.4 m², flush with parcel 1
    layers["ZDJBXX"].loc[6] = {**layers["ZDJBXX"].iloc[0].to_dict(), "BSM": "7", "ZDMJ": 0.4, "geometry": sliver}
    report = run(tmp_path, layers, "cadastral")
    assert_findings(only(report, "GEO-004"), [("GEO-004", "7")])
    assert only(report, "GEO-004")["measured"].iat[0] == pytest.approx(0.4)


def test_top001_overlapping_parcels(tmp_path):
    layers = cadastral()
    layers["ZDJBXX"].loc[1, "geometry"] = affinity.translate(layers["ZDJBXX"].geometry.iat[1], xoff=-2)
    report = run(tmp_path, layers, "cadastral")
    assert_findings(only(report, "TOP-001"), [("TOP-001", "1")])
    finding = only(report, "TOP-001").iloc[0]
    assert finding["measured"] == pytest.approx(240.0) and "与 2 重叠 240.00 ㎡" in finding["message"]


def test_top001_different_levels_do_not_conflict(tmp_path):
    layers = cadastral()
    underground = layers["ZDJBXX"].iloc[0].to_dict() | {"BSM": "7", "QLSDFS": "3"}  # 地下 under parcel 1
    layers["ZDJBXX"].loc[6] = underground
    assert len(only(run(tmp_path, layers, "cadastral"), "TOP-001")) == 0


def test_top006_missing_and_stray_boundary_points(tmp_path):
    layers = cadastral()
    corner = shapely.Point(layers["ZDJBXX"].geometry.iat[0].exterior.coords[0])
    drop = layers["JZD"].geometry.distance(corner) < 0.001
    stray = {**layers["JZD"].iloc[0].to_dict(), "JZDH": "J99",
             "geometry": shapely.Point(corner.x - 30, corner.y - 30)}
    layers["JZD"] = gpd.GeoDataFrame([*layers["JZD"][~drop].to_dict("records"), stray], crs=layers["JZD"].crs)
    report = run(tmp_path, layers, "cadastral")
    assert_findings(only(report, "TOP-006"), [("TOP-006", "1"), ("TOP-006", "J99")])


def test_top008_near_vertex_and_narrow_gap(tmp_path):
    layers = cadastral()
    parcels = layers["ZDJBXX"]
    # parcel 3 (east end of the first row) drawn 8 cm east of its neighbour: a gap narrower than 0.1 m
    parcels.loc[2, "geometry"] = affinity.translate(parcels.geometry.iat[2], xoff=0.08)
    # parcel 5's north-west corner 2 cm off the shared corner of parcels 4 and 5's neighbours
    ring = list(parcels.geometry.iat[4].exterior.coords)
    ring[0] = (ring[0][0] + 0.02, ring[0][1])
    ring[-1] = ring[0]
    parcels.loc[4, "geometry"] = shapely.Polygon(ring)
    found = only(run(tmp_path, layers, "cadastral"), "TOP-008")
    gaps = found[found["message"].str.contains("窄缝")]
    near = found[found["message"].str.contains("拐点相距")]
    # parcel 3 moved away from its west neighbour 2 and from 5, which shared its north-west corner; parcel 5's
    # moved corner leaves 2 cm to parcel 1, which met it there diagonally
    pairs = set(gaps["message"].str.extract(r"宗地 (\d) 与 (\d)").apply(tuple, axis=1))
    assert pairs == {("2", "3"), ("3", "5"), ("1", "5")}
    assert sorted(gaps["measured"].round(3)) == [0.02, 0.08, 0.08]
    assert len(near) >= 1 and set(near["measured"].round(3)) == {0.02}


def test_att001_declared_area(tmp_path):
    # limit for 18 000 ㎡ at level 2: 0.04·√S + 0.002·S = 41.37 ㎡
    layers = cadastral({("ZDJBXX", 3, "ZDMJ"): 18041.0, ("ZDJBXX", 4, "ZDMJ"): 18042.0})
    report = run(tmp_path, layers, "cadastral")
    assert_findings(only(report, "ATT-001"), [("ATT-001", "5")])
    finding = only(report, "ATT-001").iloc[0]
    assert "相差 42.00 ㎡，超过限差 41.37 ㎡" in finding["message"] and finding["limit"] == pytest.approx(41.366, 1e-3)


def test_att003_unknown_codes(tmp_path):
    layers = cadastral({("ZDJBXX", 0, "QLLX"): "77", ("JZD", 3, "JBLX"): "9"})
    report = run(tmp_path, layers, "cadastral")
    assert_findings(only(report, "ATT-003"), [("ATT-003", "1"), ("ATT-003", "J4")])
    assert (only(report, "ATT-003")["severity"] == "warning").all()


def test_att008_malformed_supplied_code(tmp_path):
    layers = cadastral({("ZDJBXX", 0, "ZDDM"): "141031001002GA00001"})
    report = run(tmp_path, layers, "cadastral")
    assert_findings(only(report, "ATT-008"), [("ATT-008", "1")])
    assert "第14位" in only(report, "ATT-008")["message"].iat[0]


# ---------------------------------------------------------------------------------------------- pre-sale projects


def project(stage="presale"):
    return {k: v.copy() for k, v in sample_project(stage).items()}


def with_parcel(layers):
    """The package carries its parcel (ZDJBXX as reference), so TOP-003 can run without a registry."""
    return {**layers, "ZDJBXX": sample_cadastral()["ZDJBXX"].iloc[[0]].copy()}


def test_top003_building_outside_its_parcel(tmp_path):
    layers = with_parcel(project())
    layers["ZRZ"].loc[0, "geometry"] = affinity.translate(layers["ZRZ"].geometry.iat[0], yoff=-21)
    layers["H"]["geometry"] = [affinity.translate(g, yoff=-21) if z == "0001" else g
                               for g, z in zip(layers["H"].geometry, layers["H"]["ZRZH"], strict=True)]
    report = run(tmp_path, layers, "presale")
    assert_findings(only(report, "TOP-003"), [("TOP-003", "Z1")])
    finding = only(report, "TOP-003").iloc[0]
    assert finding["measured"] == pytest.approx(30.0) and "幢 0001 超出宗地边界 30.00 ㎡" in finding["message"]


def test_top003_flush_with_the_parcel_edge_is_fine(tmp_path):
    layers = with_parcel(project())
    parcel = layers["ZDJBXX"].geometry.iat[0]
    minx, miny, _, _ = parcel.bounds
    layers["ZRZ"].loc[0, "geometry"] = shapely.box(minx, miny, minx + 30, miny + 15)  # shares two parcel edges
    assert len(only(run(tmp_path, layers, "presale"), "TOP-003")) == 0


def test_top004_and_top005_units(tmp_path):
    layers = project()
    units = layers["H"]
    outside = units.index[units["BSM"] == "H1112"][0]   # building 1, floor 1, slot 2
    overlap = units.index[units["BSM"] == "H2152"][0]   # building 2, floor 5, slot 2: slides onto slot 1
    units.loc[outside, "geometry"] = affinity.translate(units.geometry[outside], xoff=5)
    units.loc[overlap, "geometry"] = affinity.translate(units.geometry[overlap], xoff=-3)
    report = run(tmp_path, layers, "presale")
    assert_findings(only(report, "TOP-004"), [("TOP-004", "H1112")])  # H2152 slid within its footprint
    assert_findings(only(report, "TOP-005"), [("TOP-005", "H2151")])
    assert only(report, "TOP-005")["measured"].iat[0] == pytest.approx(3 * 7.5)


def test_top009_buildings_overlap(tmp_path):
    layers = project()
    layers["ZRZ"].loc[1, "geometry"] = affinity.translate(layers["ZRZ"].geometry.iat[1], xoff=-20)
    report = run(tmp_path, layers, "presale")
    assert_findings(only(report, "TOP-009"), [("TOP-009", "Z1")])


def test_att004_to_att007_and_att009_att010(tmp_path):
    layers = project()
    units, buildings = layers["H"], layers["ZRZ"]
    row = {bsm: units.index[units["BSM"] == bsm][0] for bsm in ("H1111", "H1112", "H1121", "H1122", "H3162")}
    units.loc[row["H1112"], "SHBW"] = units.loc[row["H1111"], "SHBW"]           # ATT-004 duplicate room
    units.loc[row["H1121"], "YCJZMJ"] = units.loc[row["H1121"], "YCJZMJ"] + 1   # ATT-005 1 ㎡ off
    units.loc[row["H1122"], "YCTNJZMJ"] = units.loc[row["H1122"], "YCTNJZMJ"] + 5  # ATT-009 and ATT-005
    units.loc[row["H3162"], "YCFTJZMJ"] = units.loc[row["H3162"], "YCFTJZMJ"] + 6  # ATT-010 and ATT-005
    buildings.loc[2, "YCJZMJ"] = buildings.loc[2, "YCJZMJ"] + 100                # ATT-006
    buildings.loc[1, "ZCS"] = 9                                                  # ATT-007 (totals)
    units.loc[units.index[units["BSM"] == "H1163"][0], "SJC"] = 9                # ATT-007 (no 9th floor)
    report = run(tmp_path, layers, "presale")
    assert_findings(only(report, "ATT-004"), [("ATT-004", "H1111"), ("ATT-004", "H1112")])
    assert_findings(only(report, "ATT-005"), [("ATT-005", "H1121"), ("ATT-005", "H1122"), ("ATT-005", "H3162")])
    assert_findings(only(report, "ATT-006"), [("ATT-006", "Z3")])  # 1 ㎡ on a unit stays within the limit
    assert "幢 0003" in only(report, "ATT-006").set_index("feature").loc["Z3", "message"]
    assert_findings(only(report, "ATT-007"), [("ATT-007", "Z2"), ("ATT-007", "H1163")])
    assert_findings(only(report, "ATT-009"), [("ATT-009", "H1122")])
    assert_findings(only(report, "ATT-010"), [("ATT-010", "H1122"), ("ATT-010", "H3162")])


def test_att008_unit_codes_format(tmp_path):
    layers = project("asbuilt")
    layers["H"]["BDCDYH"] = None
    layers["H"].loc[0, "BDCDYH"] = "141031001002GB00001F00010000"
    report = run(tmp_path, layers, "asbuilt")
    assert_findings(only(report, "ATT-008"), [("ATT-008", "H1091")])
    assert "户号不能为 0000" in only(report, "ATT-008")["message"].iat[0]


def test_rules_not_run_are_reported(tmp_path):
    report = run(tmp_path, project(), "presale")
    assert {r["rule"] for r in report.not_run} == {"TOP-003", "ATT-008"}
    assert np.all([r["reason"] for r in report.not_run])


def test_overlapping_pairs_stay_within_their_group_over_many_groups():
    # 2 500 groups (past the 1 000 columns of the grid the boxes are moved to), each two squares overlapping by
    # 1 ㎡, all at the same place, and a third square per group only touching the second (a wall a few ulps off)
    from cadastre.qa.rules.topology import _overlapping_pairs

    n = 2_500
    x = 37_482_062.333333336
    squares = [shapely.box(x, 0, x + 2, 2), shapely.box(x + 1, 1, x + 3, 3),
               shapely.box(x + 3 - 7e-9, 1, x + 5, 3)]
    geoms = np.array(squares * n, dtype=object)
    groups = np.repeat(np.arange(n), 3)
    i, j, area, _ = _overlapping_pairs(geoms, 0.01, groups)
    assert len(i) == n and (groups[i] == groups[j]).all() and (j - i == 1).all() and (i % 3 == 0).all()
    assert area == pytest.approx(np.ones(n))
    # without groups, four sets in one place: every pair overlaps but those with a third square (touching or apart)
    i, j, _, _ = _overlapping_pairs(geoms[:12], 0.01)
    assert len(i) == 12 * 11 // 2 - 2 * 4 * 4 and not ((i % 3 != 2) & (j % 3 == 2) | (i % 3 == 2) & (j % 3 != 2)).any()


def test_geo003_counts_each_ring_plain_polygons_holes_and_multipolygons():
    # a hole-free polygon is read as its own ring, the others through their rings: the same counts either way
    from cadastre.qa.rules.geometry import _vertex_problems

    square = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
    hole = [(2, 2), (4, 2), (4, 4), (2, 4), (2, 2)]
    doubled = square[:2] + [square[1]] + square[2:]  # one duplicate vertex
    spiked = square[:2] + [(15, 0.00001), (10, 0.00002)] + square[2:]  # out and back: a spike at (15, 0)
    geoms = np.array([shapely.Polygon(doubled), shapely.Polygon(square, [hole[:1] + hole]),
                      shapely.MultiPolygon([shapely.Polygon(spiked), shapely.Polygon(hole)]),
                      shapely.Polygon(square), shapely.Polygon(doubled, [hole[:2] + [hole[1]] + hole[2:]])],
                     dtype=object)
    duplicates, spikes = _vertex_problems(geoms, 0.001)
    assert duplicates.tolist() == [1, 1, 0, 0, 2] and spikes.tolist() == [0, 0, 1, 0, 0]
