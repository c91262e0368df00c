"""The readable reports: one self-contained HTML page with a map per finding, and a sortable spreadsheet."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from openpyxl import load_workbook
from shapely import affinity

from cadastre.qa.pipeline import check_package
from cadastre.qa.render import write_html, write_xlsx
from cadastre.samples import Quirks, sample_manifest, sample_project, write_package


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    layers = {k: v.copy() for k, v in sample_project("presale").items()}
    layers["ZRZ"].loc[1, "geometry"] = affinity.translate(layers["ZRZ"].geometry.iat[1], xoff=-20)
    layers["H"].loc[0, "SHBW"] = layers["H"].loc[1, "SHBW"]
    path = write_package(tmp_path_factory.mktemp("r") / "p.zip", layers, manifest=sample_manifest("presale"),
                         quirks=Quirks())
    return check_package(path)


def test_html_report_is_self_contained_and_complete(report, tmp_path):
    page = write_html(report, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "成果包质检报告" in page and "未通过" in page and "按规则汇总" in page
    assert "幢 0001 与 0002 重叠" in page
    assert page.count("<div class=map id=f") == min(len(report.findings), 200)  # one small map per finding
    # and the 规划核实 section with its one project map (no permit: every indicator listed as not checked)
    assert "<h2>规划核实</h2>" in page and page.count("<svg") == min(len(report.findings), 200) + 1
    assert page.count("未核实") == 13
    assert not re.search(r"(src|href)=\"?https?://", page)  # nothing fetched from the network
    for rule_id in set(report.findings["rule"]):
        assert rule_id in page


def test_xlsx_lists_every_finding(report, tmp_path):
    path = write_xlsx(report, tmp_path / "r.xlsx")
    table = pd.read_excel(path, sheet_name="问题清单")
    assert len(table) == len(report.findings)
    assert list(table.columns[:5]) == ["严重程度", "规则", "图层", "要素", "说明"]
    assert set(table["规则"]) == set(report.findings["rule"])
    sheet = load_workbook(path)["问题清单"]
    assert sheet.auto_filter.ref and sheet.freeze_panes == "A2"
    summary = pd.read_excel(path, sheet_name="汇总")
    assert summary["数量"].sum() == len(report.findings)


def test_cli_writes_both(tmp_path, report):
    from click.testing import CliRunner

    from cadastre.cli import cli

    result = CliRunner().invoke(cli, ["check", str(report.source_package.source), "--html", str(tmp_path / "a.html"),
                                      "--xlsx", str(tmp_path / "a.xlsx")])
    assert result.exit_code == 1 and "HTML 报告" in result.output
    assert (tmp_path / "a.html").stat().st_size > 0 and (tmp_path / "a.xlsx").stat().st_size > 0
