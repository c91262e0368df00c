"""楼盘表 and parcel lookups after the sample project is ingested, on both engines."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from cadastre.allocate.buildingtable import Cell, Covered, building_table
from cadastre.cli import cli
from cadastre.core.errors import NotFoundError
from cadastre.samples import (
    Quirks,
    sample_cadastral,
    sample_manifest,
    sample_permit,
    sample_project,
    write_package,
)
from cadastre.serve.tables import table_html, write_table_xlsx

BUILDING = "141031001002GB00001F0002"


@pytest.fixture
def registry(registry, tmp_path):
    """The zoned registry with the sample parcels and the pre-sale survey ingested."""
    reg = registry
    for stage in ("cadastral", "presale"):
        layers = sample_cadastral() if stage == "cadastral" else sample_project(stage)
        reg.ingest(write_package(tmp_path / f"{stage}.zip", layers, manifest=sample_manifest(stage), quirks=Quirks()))
    return reg


def test_presale_table(registry):
    t = registry.building_table(BUILDING)
    assert (t.stage, t.unit_count, t.floors_above, t.floors_below) == ("presale", 28, 6, 1)
    assert [r.sjc for r in t.rows] == [6, 5, 4, 3, 2, 1, -1]  # top to bottom
    assert [(c.dyh, c.place) for c in t.columns] == [("1", 1), ("1", 2), ("2", 1), ("2", 2)]
    top = t.rows[0].cells
    assert [c.shbw for c in top] == ["1-601", "1-602", "2-601", "2-602"]
    assert all(c.bdcdyh.startswith(BUILDING) for c in top)
    assert t.balanced and t.total_area == pytest.approx(sum(r.total_area for r in t.rows))
    assert not t.ready and "尚无实测成果（仅有预测）" in t.not_ready_because


def test_asbuilt_table_and_parcel(registry, tmp_path):
    before = {c.shbw: c.bdcdyh for c in registry.building_table(BUILDING).cells}
    registry.ingest(write_package(tmp_path / "a.zip", sample_project("asbuilt"), manifest=sample_manifest("asbuilt"),
                                  permit=sample_permit(), quirks=Quirks()))
    t = registry.building_table(BUILDING)
    assert t.stage == "asbuilt" and {c.shbw: c.bdcdyh for c in t.cells} == before
    info = registry.parcel("141031001002GB00001")
    assert [b["zrzh"] for b in info["buildings"]] == ["0001", "0002", "0003"]
    assert info["land_code"]["retired_reason"] == "定着物特征码变化：宗地上建成房屋"
    assert len(info["lineage"]) == 84 and info["ready_for_first_registration"]
    with pytest.raises(NotFoundError):
        registry.building_table("141031001002GB00001F0009")


def test_table_and_parcel_commands(registry, db_url, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db_url, "table", BUILDING])
    assert result.exit_code == 0 and "1-601" in result.output and "地下1层" in result.output
    table = json.loads(runner.invoke(cli, ["--db", db_url, "table", BUILDING, "--json"]).output)
    assert table["unit_count"] == 28
    runner.invoke(cli, ["--db", db_url, "table", BUILDING, "--html", str(tmp_path / "t.html"), "--xlsx",
                        str(tmp_path / "t.xlsx")])
    assert "楼盘表" in (tmp_path / "t.html").read_text(encoding="utf-8")
    sheet = load_workbook(tmp_path / "t.xlsx")["楼盘表"]
    assert "A1:R1" in {str(r) for r in sheet.merged_cells.ranges} and sheet.cell(7, 1).value == "6层"
    # each unit's areas are numbers in cells of their own (a clerk sums them), the 楼盘表 prints landscape, its
    # header rows on every page, and says whether the building is ready for 首次登记
    assert sheet.cell(6, 2).value == "户" and sheet.cell(6, 3).value == "建筑面积"
    assert isinstance(sheet.cell(7, 3).value, float) and sheet.cell(7, 3).number_format == "0.00"
    assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows.replace("$", "") == "1:6"
    assert sheet.cell(3, 1).value == "暂不可办理首次登记：尚无实测成果（仅有预测）"
    parcel = runner.invoke(cli, ["--db", db_url, "parcel", "141031 001002 GB00001"])
    assert parcel.exit_code == 0 and "幢 0002 龙泉苑2号楼" in parcel.output
    missing = runner.invoke(cli, ["--db", db_url, "parcel", "141031001002GB00099"])
    assert missing.exit_code == 2 and "没有宗地" in missing.output


# ------------------------------------------------------------------- units as surveyors write them (issue 21)


def _rewritten(stage):
    """The sample project with building 0001's flats written another way: rooms ``0501`` instead of ``1-501`` and
    no 户号; and flat 1-601 a 跃层 over floors 6 and 7 (a 阁楼 in the floor table)."""
    layers = sample_project(stage)
    units, floors = layers["H"], layers["C"]
    one = (units["ZRZH"] == "0001") & (units["SJC"] > 0)
    if stage == "presale":
        units.loc[one, "SHBW"] = units.loc[one, "SHBW"].str.split("-").str[1].str.zfill(4)
    else:
        units.loc[one, "SHBW"] = units.loc[one, "SHBW"].str.split("-").str[1]
    units["HH"] = None
    duplex = units.index[units["BSM"] == "H1161"][0]
    units.loc[duplex, "SJCS"] = 2
    attic = floors[(floors["ZRZH"] == "0001") & (floors["SJC"] == 6)].copy()
    attic["SJC"], attic["MYC"] = 7, "阁楼"
    layers["C"] = pd.concat([floors, attic], ignore_index=True)
    return layers


def test_units_keep_their_codes_across_room_label_forms_and_duplexes_span_floors(registry, tmp_path):
    reg = registry
    reg.ingest(write_package(tmp_path / "c.zip", sample_cadastral(), manifest=sample_manifest("cadastral"),
                             quirks=Quirks()))
    one = "141031001002GB00001F0001"
    first = reg.ingest(write_package(tmp_path / "p.zip", _rewritten("presale"), manifest=sample_manifest("presale"),
                                     quirks=Quirks()))
    assert first.status == "accepted", [(f["rule"], f["message"]) for f in first.report["findings"]]
    presale = reg.building_table(one)
    before = {(c.dyh, c.floors[0], c.shbw.lstrip("0")): c.bdcdyh for c in presale.cells}
    assert len(presale.cells) == presale.unit_count == 28
    # 跃层: one cell over floors 6 and 7, anchored on the 阁楼 row and counted there once
    assert [r.myc for r in presale.rows[:2]] == ["阁楼", "6"]
    duplex = presale.rows[0].cells[0]
    assert (duplex.rowspan, duplex.floors) == (2, [6, 7]) and presale.rows[1].cells[0].covered_by == duplex.bdcdyh
    assert presale.rows[0].total_area == pytest.approx(duplex.area)
    # without 户号 the columns are ordered by 单元 and room: four flats on every floor, none dropped
    assert [(c.dyh, c.place) for c in presale.columns] == [("1", 1), ("1", 2), ("2", 1), ("2", 2)]
    assert [(c.dyh, c.shbw) for c in presale.rows[2].cells] == [("1", "0501"), ("1", "0502"), ("2", "0501"), ("2", "0502")]
    asbuilt = reg.ingest(write_package(tmp_path / "a.zip", _rewritten("asbuilt"),
                                       manifest=sample_manifest("asbuilt"), permit=sample_permit(), quirks=Quirks()))
    assert asbuilt.status == "accepted", [(f["rule"], f["message"]) for f in asbuilt.report["findings"]]
    table = reg.building_table(one)
    after = {(c.dyh, c.floors[0], c.shbw): c.bdcdyh for c in table.cells}
    assert after == before  # 0501 at pre-sale is 501 at as-built: every code kept, none retired
    assert not [r for r in asbuilt.assigned["retired"] if r["bdcdyh"].startswith(one)]
    html = table_html(table)
    assert "rowspan=2" in html and "跨 6–7 层" in html
    sheet = load_workbook(write_table_xlsx(table, tmp_path / "t.xlsx")).active
    assert sum(r.min_row + 1 == r.max_row and r.min_col == r.max_col and r.min_col in (2, 3, 4, 5)
               for r in sheet.merged_cells.ranges) == 4  # the 跃层 unit's label and its three areas span its floors


def _rows(units: pd.DataFrame, floors: list[int]) -> dict[str, pd.DataFrame]:
    building = pd.DataFrame([{"zddm": "141031001002GB00001", "zrzh": "0001", "stage": "presale", "package_status":
                              "accepted", "jzwmc": "测试楼", "zl": None, "dscs": 30, "dxcs": 3, "fwjg": None, "ghyt": None,
                              "package_id": 1, "ycjzmj": None}])
    empty = pd.DataFrame(columns=["rule", "severity", "feature", "message"])
    return {"building": building, "units": units, "floors": pd.DataFrame({"sjc": floors, "myc": None, "cg": None}),
            "open_errors": empty, "indicators": pd.DataFrame(columns=["indicator", "subject", "status", "reason", "rule"])}


@st.composite
def buildings(draw):
    """Units of one building as packages write them: rooms that repeat across 单元 and 逻辑幢, with or without 户号
    (colliding at times), 跃层 over up to 3 floors, floors without units."""
    n = draw(st.integers(1, 40))
    floors = st.integers(-2, 8).filter(lambda f: f != 0)
    units = []
    for k in range(n):
        low = draw(floors)
        span = draw(st.integers(1, 3))
        high = low + span - 1 + (1 if low < 0 <= low + span - 1 else 0)
        units.append({"bdcdyh": f"141031001002GB00001F0001{k + 1:04d}", "shbw": draw(st.sampled_from(
            ["101", "0102", "1-103", "2单元104室", "B1", "商铺"])), "dyh": draw(st.sampled_from([None, "1", "2"])),
            "hh": draw(st.sampled_from([None, 1, 2])), "ljzh": draw(st.sampled_from([None, "1", "2"])),
            "ljzmc": None, "sjc": low, "zzc": high if high > low else None, "myc": None, "fwyt": "11",
            "ycjzmj": draw(st.floats(1, 200).map(lambda a: round(a, 2))), "yctnjzmj": None, "ycftjzmj": None,
            "ycftxs": None, "retired_at": None})
    extra_floors = draw(st.lists(floors, max_size=3))
    return pd.DataFrame(units), extra_floors


@settings(max_examples=150, deadline=None)
@given(buildings())
def test_a_building_table_never_drops_a_unit_and_balances(case):
    units, extra_floors = case
    t = building_table(_rows(units, extra_floors))
    cells = t.cells
    assert sorted(c.bdcdyh for c in cells) == sorted(units["bdcdyh"])  # every unit, once
    for row in t.rows:
        assert len(row.cells) == len(t.columns)
        assert row.total_area == pytest.approx(sum(c.area for c in row.cells if isinstance(c, Cell)), abs=0.01)
    assert t.total_area == pytest.approx(units["ycjzmj"].sum(), abs=0.01)
    assert t.total_area == pytest.approx(sum(r.total_area for r in t.rows), abs=0.05)
    # a cell covers exactly the floors it occupies, in consecutive rows below its anchor
    sjc = [r.sjc for r in t.rows]
    assert sjc == sorted(sjc, reverse=True) and set(extra_floors) <= set(sjc)
    for k, row in enumerate(t.rows):
        for j, c in enumerate(row.cells):
            if isinstance(c, Cell):
                assert c.floors[-1] == row.sjc and len(c.floors) == c.rowspan
                assert all(isinstance(t.rows[k + d].cells[j], Covered) for d in range(1, c.rowspan))
