"""Projects on several parcels (issue 21): two land grants, and an underground parcel a basement garage extends into
— each building coded under the parcel it stands on, on both engines."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from shapely import affinity

from cadastre.core import settings
from cadastre.samples import (
    PARCEL_SIZE,
    Quirks,
    _block_origin,
    sample_cadastral,
    sample_manifest,
    sample_project,
    write_package,
)

X0, Y0 = _block_origin("141031")
CRS = settings.county("141031").storage_epsg
UNDER = shapely.box(X0 + 20, Y0 + 110, X0 + 100, Y0 + 130)  # under parcels 1 and 4, across their boundary


def underground_parcel() -> dict[str, gpd.GeoDataFrame]:
    """A cadastral package of one underground parcel (权利设定方式 3 地下) with its boundary points."""
    parcel = gpd.GeoDataFrame([{"BSM": "U1", "ZL": "隰县龙泉镇府前街地下空间", "ZDMJ": UNDER.area, "YT": "0701", "QLLX": "3",
                                "QLXZ": "102", "QLSDFS": "3", "QLR": "隰县龙泉房地产开发有限公司", "geometry": UNDER}], crs=CRS)
    points = gpd.GeoDataFrame([{"JZDH": f"U{k + 1}", "JBLX": "2", "JZDLX": "1", "geometry": shapely.Point(xy)}
                               for k, xy in enumerate(list(UNDER.exterior.coords)[:-1])], crs=CRS)
    return {"ZDJBXX": parcel, "JZD": points}


def project_on_two_parcels(garage_reaches: float) -> dict[str, gpd.GeoDataFrame]:
    """龙泉苑 with building 0003 moved onto parcel 2 and a garage (no floors above ground) reaching
    ``garage_reaches`` m north of parcel 1."""
    layers = sample_project("presale")
    for name in ("ZRZ", "C", "H"):
        frame = layers[name]
        moved = (frame["ZRZH"] == "0003").to_numpy()
        frame.loc[moved, "geometry"] = [affinity.translate(g, xoff=PARCEL_SIZE[0]) for g in frame.geometry[moved]]
    layers.pop("C")
    buildings = layers["ZRZ"]
    footprint = shapely.box(X0 + 30, Y0 + 100, X0 + 90, Y0 + PARCEL_SIZE[1] + garage_reaches)
    garage = buildings.iloc[:1].copy()
    garage[["BSM", "ZRZH", "JZWMC", "ZCS", "DSCS", "DXCS", "GHYT", "ZTS", "YCJZMJ"]] = [
        "Z4", "0004", "地下车库", 1, 0, 1, "80", 2, 25.0]
    garage["geometry"] = [footprint]
    spaces = layers["H"].iloc[:2].copy()
    spaces["BSM"], spaces["ZRZH"], spaces["SJC"], spaces["MYC"], spaces["DYH"], spaces["HH"] = \
        ["G1", "G2"], "0004", -1, "地下1", None, None
    spaces["SHBW"], spaces["FWYT1"], spaces["FWLX"] = ["B1-001", "B1-002"], "80", "6"
    spaces["YCTNJZMJ"], spaces["YCFTJZMJ"], spaces["YCJZMJ"], spaces["YCFTXS"] = 12.5, 0.0, 12.5, 0.0
    spaces["geometry"] = [shapely.box(X0 + 32 + 3 * k, Y0 + 102, X0 + 34.5 + 3 * k, Y0 + 107) for k in range(2)]
    layers["ZRZ"] = pd.concat([buildings, garage], ignore_index=True)
    layers["H"] = pd.concat([layers["H"], spaces], ignore_index=True)
    return layers


def test_buildings_are_coded_under_the_parcel_they_stand_on(registry, tmp_path):
    reg = registry
    for name, layers in (("c", sample_cadastral()), ("u", underground_parcel())):
        result = reg.ingest(write_package(tmp_path / f"{name}.zip", layers, manifest=sample_manifest("cadastral"),
                                          quirks=Quirks()))
        assert result.status == "accepted", [(f["rule"], f["message"]) for f in result.report["findings"]]
    under = result.assigned["parcels"][0]["zddm"]
    assert under[12:14] == "GX"  # 国有建设用地使用权, underground
    # the garage reaches beyond the project's surface parcel only as far as the underground parcel holds it
    too_far = reg.check(write_package(tmp_path / "far.zip", project_on_two_parcels(15.0),
                                      manifest=sample_manifest("presale"), quirks=Quirks()))
    assert list(zip(too_far.errors["rule"], too_far.errors["feature"], strict=True)) == [("TOP-003", "Z4")]
    result = reg.ingest(write_package(tmp_path / "p.zip", project_on_two_parcels(8.0),
                                      manifest=sample_manifest("presale"), quirks=Quirks()))
    assert result.status == "accepted", [(f["rule"], f["message"]) for f in result.report["findings"]]
    prefixes = {u["feature"]: u["bdcdyh"][:24] for u in result.assigned["units"]}
    assert prefixes["H3161"] == "141031001002GB00002F0003"  # building 3 stands on parcel 2
    assert prefixes["H1161"] == "141031001002GB00001F0001"
    assert prefixes["G1"] == "141031001002GB00001F0004"  # the garage: most of it under parcel 1
    assert [b["zrzh"] for b in reg.parcel("141031001002GB00002")["buildings"]] == ["0003"]
    assert [b["zrzh"] for b in reg.parcel("141031001002GB00001")["buildings"]] == ["0001", "0002", "0004"]
    table = reg.building_table("141031001002GB00002F0003")
    assert table.unit_count == 28 and table.parcel_code == "141031001002GB00002"


def test_the_towers_demo_project(registry, tmp_path):
    """府前华庭: 跃层 flats, shops, a 架空层, 逻辑幢 and a garage under both towers, pre-sale then as-built."""
    from cadastre.samples import sample_towers, sample_towers_permit, towers_manifest

    reg = registry
    reg.ingest(write_package(tmp_path / "c.zip", sample_cadastral(), manifest=sample_manifest("cadastral"),
                             quirks=Quirks()))
    for stage in ("presale", "asbuilt"):
        result = reg.ingest(write_package(tmp_path / f"{stage}.zip", sample_towers(stage),
                                          manifest=towers_manifest(stage),
                                          permit=sample_towers_permit() if stage == "asbuilt" else None,
                                          quirks=Quirks()))
        assert result.status == "accepted", [(f["rule"], f["message"]) for f in result.report["findings"]]
    assert not any(u["new"] for u in result.assigned["units"])  # every pre-sale code kept
    indicators = {(i["indicator"], i["subject"]): i for i in result.report["indicators"]}
    parking = indicators[("parking", None)]
    assert (parking["measured"], parking["status"]) == (34, "pass")
    assert len(parking["evidence"]["same_as_a_unit"]) == 5 and len(parking["evidence"]["units"]) == 24
    coverage = indicators[("coverage", None)]["evidence"]
    assert [b["zrzh"] for b in coverage["not_counted_underground_only"]] == ["0003"]
    tower = reg.building_table("141031001002GB00004F0002")
    assert tower.ready and [c.ljz for c in tower.columns] == ["2号楼东梯", "2号楼西梯"]
    assert [r.label for r in tower.rows] == ["8层", "7层", "6层", "5层", "4层", "3层", "架空层", "1层"]
    assert tower.rows[0].cells[0].floors == [7, 8] and tower.rows[6].total_area == 0
    assert len(tower.cells) == tower.unit_count == 12
