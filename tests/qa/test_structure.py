"""Buildings, floors and units as surveyors measure them (issue 21): which building a unit belongs to, which unit it
is, the floors it occupies, underground-only buildings, parking, 分摊 and balconies — on generated packages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from cadastre.core import settings
from cadastre.core.permit import parse_permit
from cadastre.qa.planning import verify
from cadastre.read.package import read_package
from cadastre.read.structure import floor_spans, occupied_floors, room_keys
from cadastre.samples import (
    PARCEL_SIZE,
    Quirks,
    _block_origin,
    sample_manifest,
    sample_permit,
    sample_project,
    write_package,
)
from tests.qa.test_rules import only, run


def project(stage="presale"):
    return sample_project(stage)


def rows(frame, **where):
    mask = np.ones(len(frame), bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy(bool)
    return frame.index[mask]


# ------------------------------------------------------------------------------------------------ pure readings


def test_room_labels_normalise_to_one_identity():
    shbw = pd.Series(["0501", "501", "1-501", "1单元501室", " ５０１ ", "2-1-1501", "B101", None])
    dyh = pd.Series([None, None, None, None, "一单元", None, "1", None])
    unit, room = room_keys(shbw, dyh)
    assert list(room) == ["501", "501", "501", "501", "501", "1501", "B101", ""]
    assert list(unit) == ["", "", "1", "1", "1", "1", "1", ""]


def test_floor_spans_from_every_form():
    units = pd.DataFrame({"SJC": [5, 5, 5, 5, -1, 3], "QSC": [None, 5, None, None, None, None],
                          "ZZC": [None, 6, None, None, None, None], "SJCS": [None, None, 2, None, 2, None],
                          "MYC": [None, None, None, "5-6", None, "3"]}, dtype=object)
    low, high = floor_spans(units)
    assert list(low) == [5, 5, 5, 5, -1, 3] and list(high) == [5, 6, 6, 6, 1, 3]
    row, floor = occupied_floors(low, high)
    assert [(int(r), int(f)) for r, f in zip(row, floor, strict=True)] == [
        (0, 5), (1, 5), (1, 6), (2, 5), (2, 6), (3, 5), (3, 6), (4, -1), (4, 1), (5, 3)]


# --------------------------------------------------------------------------------------------------- buildings


def test_standard_layout_units_carry_only_the_building_number(tmp_path):
    layers = project()
    layers["ZRZ"]["ZDDM"] = "141031001002GB00001"  # ZDDM on ZRZ only, as the national standard lays it out
    report = run(tmp_path, layers, "presale")
    assert only(report, "ATT-007").empty and only(report, "ATT-006").empty and only(report, "TOP-004").empty


def test_unit_of_a_building_the_package_lacks_is_named(tmp_path):
    layers = project()
    layers["H"].loc[0, "ZRZH"] = "0009"
    report = run(tmp_path, layers, "presale")
    found = only(report, "ATT-007")
    assert list(found["feature"]) == ["H1091"] and "不在自然幢图层中" in found["message"].iat[0]


# ------------------------------------------------------------------------------------------------------- units


def test_duplicates_by_normalised_room_and_not_across_units(tmp_path):
    layers = project()
    units = layers["H"]
    a, b = rows(units, BSM="H1151")[0], rows(units, BSM="H1152")[0]
    units.loc[a, ["SHBW", "DYH"]] = ["0501", "1"]
    units.loc[b, ["SHBW", "DYH"]] = ["1-501", None]  # the same room written another way
    # 501 in 单元 1 and 单元 2 of building 2: two flats, not a duplicate
    c, d = rows(units, BSM="H2153")[0], rows(units, BSM="H2151")[0]
    units.loc[c, ["SHBW", "DYH"]] = ["501", "2"]
    units.loc[d, ["SHBW", "DYH"]] = ["501", "1"]
    report = run(tmp_path, layers, "presale")
    found = only(report, "ATT-004")
    assert sorted(found["feature"]) == ["H1151", "H1152"]
    assert "1 单元 第 5 层室号 501" in found["message"].iat[0]


# ------------------------------------------------------------------------------------------------------ floors


def _duplex(layers, how):
    """Make building 1's flat 1-601 a 跃层 over floors 6 and 7 (the building has 6 floors above ground)."""
    units = layers["H"]
    i = rows(units, BSM="H1161")[0]
    if how == "SJCS":
        units.loc[i, "SJCS"] = 2
    elif how == "QSC":
        units.loc[i, ["QSC", "ZZC"]] = [6, 7]
    else:
        units.loc[i, "MYC"] = "6-7"
    return layers


@pytest.mark.parametrize("how", ["SJCS", "QSC", "MYC"])
def test_a_duplex_over_the_top_floor_is_found_on_the_floor_above(tmp_path, how):
    layers = _duplex(project(), how)
    layers.pop("C")
    found = only(run(tmp_path, layers, "presale"), "ATT-007")
    assert list(found["feature"]) == ["H1161"] and "第 6–7 层" in found["message"].iat[0]


def test_a_duplex_into_an_attic_is_accepted_and_the_floor_table_defines_floors(tmp_path):
    layers = _duplex(project(), "SJCS")
    floors = layers["C"]
    attic = floors[(floors["ZRZH"] == "0001") & (floors["SJC"] == 6)].copy()
    attic["SJC"], attic["MYC"] = 7, "阁楼"
    layers["C"] = pd.concat([floors, attic], ignore_index=True)
    assert only(run(tmp_path, layers, "presale"), "ATT-007").empty
    # the floor table defines the floors: a unit on a floor it does not list is an error, even within 地上层数
    layers["C"] = layers["C"][~((layers["C"]["ZRZH"] == "0002") & (layers["C"]["SJC"] == 3))]
    found = only(run(tmp_path, layers, "presale"), "ATT-007")
    assert sorted(found["feature"]) == ["H2131", "H2132", "H2133", "H2134"]
    assert "层表中没有第 3 层" in found["message"].iat[0]


def test_floors_of_the_table_beyond_the_buildings_floors_are_errors_unless_uncounted(tmp_path):
    layers = project()
    floors = layers["C"]
    extra = floors[(floors["ZRZH"] == "0003") & (floors["SJC"] == 6)].copy()
    extra["SJC"], extra["MYC"] = 7, "设备层"
    layers["C"] = pd.concat([floors, extra], ignore_index=True)
    found = only(run(tmp_path, layers, "presale"), "ATT-007")
    assert list(found["layer"]) == ["C"] and "第 7 层" in found["message"].iat[0]


# ------------------------------------------------------------------------------------------------ underground


def _garage(layers, stage="presale"):
    """An underground-only garage under and between buildings 1 and 2, with parking spaces held as units."""
    buildings = layers["ZRZ"]
    one, two = buildings.geometry.iat[0], buildings.geometry.iat[1]
    x0, y0, _, _ = one.bounds
    _, _, x1, y1 = two.bounds
    footprint = shapely.box(x0, y0 - 5, x1, y1)
    prefix = "SC" if stage == "asbuilt" else "YC"
    garage = buildings.iloc[:1].copy()
    garage[["BSM", "ZRZH", "JZWMC", "ZCS", "DSCS", "DXCS", "GHYT", "ZTS"]] = ["Z9", "0004", "地下车库", 1, 0, 1, "80", 4]
    garage["geometry"] = [footprint]
    garage[f"{prefix}JZMJ"] = 4 * 12.5
    spaces = layers["H"].iloc[:4].copy()
    boxes = [shapely.box(x0 + 2.5 * k, y0 - 5, x0 + 2.5 * (k + 1), y0) for k in range(4)]
    spaces["BSM"] = [f"G{k}" for k in range(4)]
    spaces["ZRZH"], spaces["SJC"], spaces["MYC"], spaces["DYH"], spaces["HH"] = "0004", -1, "地下1", None, None
    spaces["SHBW"] = [f"B1-{k + 1:03d}" for k in range(4)]
    spaces["FWYT1"], spaces["FWLX"] = "80", "6"
    spaces[f"{prefix}TNJZMJ"], spaces[f"{prefix}FTJZMJ"], spaces[f"{prefix}JZMJ"] = 12.5, 0.0, 12.5
    spaces[f"{prefix}FTXS"] = 0.0
    spaces["geometry"] = boxes
    layers["ZRZ"] = pd.concat([buildings, garage], ignore_index=True).set_crs(buildings.crs, allow_override=True)
    layers["H"] = pd.concat([layers["H"], spaces], ignore_index=True).set_crs(buildings.crs, allow_override=True)
    layers.pop("C")
    return layers, boxes


def test_an_underground_garage_under_towers_is_no_overlap_and_covers_no_land(tmp_path):
    layers, _ = _garage(project())
    report = run(tmp_path, layers, "presale")
    assert only(report, "TOP-009").empty and only(report, "ATT-007").empty and only(report, "TOP-004").empty
    # two garages overlapping are still an overlap
    second = layers["ZRZ"].iloc[[-1]].copy()
    second["BSM"], second["ZRZH"] = "Z10", "0005"
    layers["ZRZ"] = pd.concat([layers["ZRZ"], second], ignore_index=True)
    assert list(only(run(tmp_path, layers, "presale"), "TOP-009")["feature"]) == ["Z9"]


def test_coverage_and_parking_count_what_they_should(tmp_path):
    layers, boxes = _garage(project("asbuilt"), "asbuilt")
    tcw = layers["TCW"]
    # two of the drawn spaces lie in parking units: one space each, counted once
    tcw.loc[0, "geometry"] = boxes[0].centroid
    tcw.loc[1, "geometry"] = boxes[1].centroid
    path = write_package(tmp_path / "a.zip", layers, manifest=sample_manifest("asbuilt"), quirks=Quirks())
    x0, y0 = _block_origin("141031")
    parcel = shapely.box(x0, y0, x0 + PARCEL_SIZE[0], y0 + PARCEL_SIZE[1])
    found = verify(read_package(path), parse_permit(sample_permit()), settings.tolerances("default"), parcel=parcel)
    indicators = {i.indicator: i.to_dict() for i in found if i.subject is None}
    coverage = indicators["coverage"]["evidence"]
    assert [b["zrzh"] for b in coverage["not_counted_underground_only"]] == ["0004"]
    assert "0004" not in [b["zrzh"] for b in coverage["footprints"]]
    parking = indicators["parking"]
    assert parking["measured"] == 50 - 2 + 4
    assert parking["evidence"]["same_as_a_unit"] == ["P1", "P2"]
    assert [u["shbw"] for u in parking["evidence"]["units"]] == ["B1-001", "B1-002", "B1-003", "B1-004"]
    assert "其中 2 个要素与车库户为同一车位只计一次" in parking["message"]


# -------------------------------------------------------------------------------------------------------- areas


def test_apportionment_recomputes_k_per_group(tmp_path):
    layers = project()
    units = layers["H"]
    # one unit's share off: only it is reported, with K and the expected share
    i = rows(units, BSM="H2141")[0]
    units.loc[i, "YCFTJZMJ"] += 3.0
    units.loc[i, "YCJZMJ"] += 3.0
    # building 3's flats declare 0.16 while their areas say 0.15: the group's K disagrees
    units.loc[(units["ZRZH"] == "0003") & (units["FWYT1"] == "11"), "YCFTXS"] = 0.16
    found = only(run(tmp_path, layers, "presale"), "ATT-010")
    share = found[found["feature"] == "H2141"]
    assert len(share) == 1 and "K=0.1500" in share["message"].iat[0]
    assert share["figures"].iat[0]["expected_shared"] == pytest.approx(units.loc[i, "YCTNJZMJ"] * 0.15, abs=0.01)
    group = found[found["message"].str.startswith("分摊组（幢 0003、用途 11）")]
    assert len(group) == 1 and "申报分摊系数 0.1600" in group["message"].iat[0]


def test_apportionment_groups_named_by_the_package(tmp_path):
    layers = project()
    units = layers["H"]
    # building 1's first 单元 shares at 0.20 under its own 分摊组: consistent within it, not an error
    first = (units["ZRZH"] == "0001") & (units["DYH"] == "1") & (units["SJC"] > 0)
    units["FTZ"] = np.where(units["ZRZH"] == "0001", np.where(first, "A", "B"), None)
    units.loc[first, "YCFTJZMJ"] = (units.loc[first, "YCTNJZMJ"] * 0.20).round(2)
    units.loc[first, "YCJZMJ"] = units.loc[first, "YCTNJZMJ"] + units.loc[first, "YCFTJZMJ"]
    units.loc[first, "YCFTXS"] = 0.20
    layers["ZRZ"].loc[0, "YCJZMJ"] = float(units.loc[units["ZRZH"] == "0001", "YCJZMJ"].sum())
    assert only(run(tmp_path, layers, "presale"), "ATT-010").empty


def test_balconies_in_the_inner_area_and_the_outline(tmp_path):
    layers = project()
    units = layers["H"]
    inner = units["YCTNJZMJ"]
    units["WFBYTMJ"] = 6.0  # unenclosed: half counts, while the outline holds all of it
    units["FBYTMJ"] = 4.0
    units["TNQTMJ"] = 10.0
    units["TNSYMJ"] = inner - 10.0 - 4.0 - 3.0
    outline = units.geometry.area
    units["YCTNJZMJ"] = (outline - 3.0).round(2)  # the outline holds the other half of the unenclosed balcony
    units["TNSYMJ"] = units["YCTNJZMJ"] - 17.0
    units["YCFTJZMJ"] = (units["YCTNJZMJ"] * 0.15).round(2)
    units["YCJZMJ"] = units["YCTNJZMJ"] + units["YCFTJZMJ"]
    j = rows(units, BSM="H1121")[0]
    units.loc[j, "TNSYMJ"] += 1.0
    layers["ZRZ"]["YCJZMJ"] = units.groupby("ZRZH")["YCJZMJ"].sum().to_numpy()
    report = run(tmp_path, layers, "presale")
    assert list(only(report, "ATT-013")["feature"]) == ["H1121"]
    assert "未封闭阳台 6.00÷2" in only(report, "ATT-013")["message"].iat[0]
    assert only(report, "ATT-009").empty


def test_a_duplex_overlapping_a_flat_on_its_upper_floor_is_found_once(tmp_path):
    layers = project()
    units = layers["H"]
    units.loc[rows(units, BSM="H1151")[0], "SJCS"] = 2  # now over floors 5 and 6, where H1161 lies too
    found = only(run(tmp_path, layers, "presale"), "TOP-005")
    assert list(zip(found["feature"], [f["other"] for f in found["figures"]], strict=True)) == [("H1151", "H1161")]
