"""楼盘表 and parcel lookups after the sample project is ingested, on both engines."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

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
    assert t.columns == [("1", 1), ("1", 2), ("2", 1), ("2", 2)]
    top = t.rows[0].cells
    assert [c.shbw for c in top] == ["1-601", "1-602", "2-601", "2-602"]
    assert all(c.bdcdyh.startswith(BUILDING) for c in top)
    assert t.balanced and t.total_area == pytest.approx(sum(r.total_area for r in t.rows))
    assert not t.ready and "尚无实测成果（仅有预测）" in t.not_ready_because


def test_asbuilt_table_and_parcel(registry, tmp_path):
    before = {c.shbw: c.bdcdyh for r in registry.building_table(BUILDING).rows for c in r.cells}
    registry.ingest(write_package(tmp_path / "a.zip", sample_project("asbuilt"), manifest=sample_manifest("asbuilt"),
                                  permit=sample_permit(), quirks=Quirks()))
    t = registry.building_table(BUILDING)
    assert t.stage == "asbuilt" and {c.shbw: c.bdcdyh for r in t.rows for c in r.cells} == before
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
    assert "A1:F1" in {str(r) for r in sheet.merged_cells.ranges} and sheet.cell(5, 1).value == "6层"
    parcel = runner.invoke(cli, ["--db", db_url, "parcel", "141031 001002 GB00001"])
    assert parcel.exit_code == 0 and "幢 0002 龙泉苑2号楼" in parcel.output
    missing = runner.invoke(cli, ["--db", db_url, "parcel", "141031001002GB00099"])
    assert missing.exit_code == 2 and "没有宗地" in missing.output
