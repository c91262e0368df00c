"""Spreadsheets as surveyors make them: the header found by field names under titles, merged two-level headers,
units, blank, total and signature rows skipped and counted."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import Workbook

from cadastre.core.errors import InputError
from cadastre.read.package import read_package
from cadastre.read.raw import field_aliases
from cadastre.read.sheets import read_workbook, table_from_rows
from cadastre.samples import Quirks, sample_manifest, sample_project, write_package
from cadastre.testing import assert_findings

H = field_aliases("H")
PRESALE = sample_project("presale")


def test_plain_table_is_taken_as_it_is():
    frame, layout = table_from_rows([["SHBW", "SJC"], ["1-101", 1], ["1-102", 1]], [], H, "户.csv")
    assert list(frame.columns) == ["SHBW", "SJC"] and len(frame) == 2
    assert layout.header_rows == (1,) and layout.message is None


def test_titles_two_level_merged_header_units_totals_blanks_and_signatures():
    rows = [
        ["龙泉苑1号楼 房屋面积测算表", None, None, None, None],
        [None, None, None, None, None],
        ["测绘单位：某测绘队", None, None, "日期：2025-06-01", None],
        ["室号\n部位", "实际层", "预测面积（㎡）", None, "用途"],
        [None, None, "建筑面积", "套内面积", None],
        ["1-101", 1, 91.5, "80.00平方米", "住宅"],
        [None, None, None, None, None],
        ["1单元小计", None, 91.5, 80, None],
        ["2-101", 1, 88.0, 78.5, "住宅"],
        ["合计", None, 179.5, 158.5, None],
        ["制表：王测", None, "审核：李核", None, None],
        ["2025年6月2日", None, None, None, None],
    ]
    merged = [((0, 0), (0, 4)), ((3, 2), (3, 3)), ((3, 0), (4, 0)), ((3, 1), (4, 1)), ((3, 4), (4, 4))]
    frame, layout = table_from_rows(rows, merged, H, "房屋面积测算表.xlsx:1号楼")
    assert list(frame.columns) == ["室号部位", "实际层", "预测建筑面积", "预测套内面积", "用途"]
    assert list(frame["室号部位"]) == ["1-101", "2-101"]
    assert (layout.header_rows, layout.title_rows, layout.blank_rows, layout.total_rows, layout.signature_rows) == (
        (4, 5), 2, 1, 2, 2)
    assert layout.message == ("房屋面积测算表.xlsx:1号楼 的表头在第 4–5 行（其上 2 行为标题，已跳过）；"
                              "跳过 1 个空行、2 个合计/小计行、2 个签署行")


def test_a_group_label_above_is_joined_only_when_that_names_a_field():
    rows = [["室号部位", "实测", "实测", "备注"], [None, "建筑面积", "分摊系数", "说明"], ["1-101", 90, 0.1, "x"]]
    frame, layout = table_from_rows(rows, [((0, 1), (0, 2))], H, "户.csv")
    assert list(frame.columns) == ["室号部位", "实测建筑面积", "实测分摊系数", "备注说明"]
    assert layout.header_rows == (1, 2)


def test_a_sheet_without_a_header_is_refused_by_name():
    with pytest.raises(InputError, match="封面 中找不到表头"):
        table_from_rows([["龙泉苑项目"], ["测绘报告"]], [], H, "房屋面积测算表.xlsx:封面")


def test_a_workbook_of_one_sheet_per_building_with_a_cover(tmp_path):
    workbook = Workbook()
    workbook.active.title = "封面"
    workbook.active.append(["龙泉苑 房产测绘成果"])
    for n in (1, 2):
        sheet = workbook.create_sheet(f"{n}号楼")
        sheet.append(["自然幢号", "实际层", "室号部位"])
        sheet.append([n, 1, f"{n}-101"])
    path = tmp_path / "房屋面积测算表.xlsx"
    workbook.save(path)
    frame, layouts = read_workbook(path, None, H, "房屋面积测算表.xlsx")
    assert list(frame["室号部位"]) == ["1-101", "2-101"] and list(frame["自然幢号"]) == [1, 2]
    assert layouts[-1].message == "房屋面积测算表.xlsx 的工作表 封面 没有表头，未作为数据读取"


def test_surveyors_forms_in_a_package(tmp_path):
    """户 as 房屋面积测算表.xlsx (a sheet per building, titles, two-level header, 小计/合计, signatures, areas with
    units), 层 as a CSV with a title and a 合计: read to the same units as the shapefiles, and the report says what
    was skipped."""
    path = write_package(tmp_path / "p.zip", PRESALE, manifest=sample_manifest("presale"),
                         quirks=Quirks(tables="form"))
    pkg = read_package(path)
    workbook = "成果/矢量/房屋面积测算表.xlsx"
    assert_findings(pkg.findings, [("PKG-005", "成果/矢量/C.csv"), ("PKG-010", "成果/矢量/C.csv")]
                    + [("PKG-010", workbook)] * 3)
    said = pkg.findings[pkg.findings["rule"] == "PKG-010"]["message"]
    assert f"{workbook}:1号楼 的表头在第 3–4 行（其上 2 行为标题，已跳过）；跳过 2 个空行、3 个合计/小计行、1 个签署行" \
        in set(said)
    expected = PRESALE["H"].sort_values(["ZRZH", "SJC", "SHBW"]).reset_index(drop=True)
    got = pkg.layers["H"].sort_values(["ZRZH", "SJC", "SHBW"]).reset_index(drop=True)
    assert len(got) == 84 and list(got["SHBW"]) == list(expected["SHBW"])
    pd.testing.assert_series_equal(got["YCJZMJ"], expected["YCJZMJ"], check_names=False)  # "91.50平方米" too
    assert list(pkg.layers["C"]["SJC"]) == list(PRESALE["C"]["SJC"])


def test_values_merged_down_belong_to_every_row(tmp_path):
    """单元号 and 实际层 merged down over their rooms, as a 测算表 prints them."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "户"
    sheet.append(["自然幢号", "单元号", "实际层", "室号部位"])
    for row in (["0001", "1", 1, "1-101"], [None, None, None, "1-102"], [None, "2", 2, "2-201"]):
        sheet.append(row)
    sheet.merge_cells("A2:A4")
    sheet.merge_cells("B2:B3")
    sheet.merge_cells("C2:C3")
    path = tmp_path / "户.xlsx"
    workbook.save(path)
    frame, _ = read_workbook(path, "户", H, "户.xlsx")
    assert frame.values.tolist() == [["0001", "1", 1, "1-101"], ["0001", "1", 1, "1-102"], ["0001", "2", 2, "2-201"]]
