"""The command line: the two set-up paths, clear Chinese errors with exit status 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cadastre.cli import cli


@pytest.fixture
def run(db_url):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, ["--db", db_url, *args], catch_exceptions=False)

    return invoke


def test_init_import_summary(run, zoning_zip):
    result = run("init", "--county", "141031")
    assert result.exit_code == 0, result.output
    assert "隰县（141031）" in result.output and "EPSG:4525" in result.output
    result = run("zones", "import", str(zoning_zip))
    assert result.exit_code == 0, result.output
    assert "新增 16" in result.output
    assert "未作改动" in run("zones", "import", str(zoning_zip)).output
    summary = json.loads(run("summary", "--json").output)
    assert summary["districts"] == 4 and summary["subdistricts"] == 12 and summary["counties"] == ["141031"]
    listing = run("zones", "list").output
    assert "141031004003" in listing and "寨子乡第3子区" in listing


def test_errors_are_chinese_with_exit_status_2(run, tmp_path):
    result = run("summary")
    assert result.exit_code == 2
    assert "尚未初始化" in result.output or "不存在" in result.output
    assert "Traceback" not in result.output
    run("init", "--county", "141031")
    result = run("zones", "import", str(tmp_path / "absent.zip"))
    assert result.exit_code == 2 and "找不到" in result.output
    (tmp_path / "empty").mkdir()
    result = run("zones", "import", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "没有图层 DJQ（地籍区）、DJZQ（地籍子区）" in result.output
    result = run("init", "--county", "999999")
    assert result.exit_code == 2 and "未配置的县级行政区代码 999999" in result.output


def test_refused_zoning_lists_findings(run, tmp_path):
    from cadastre.samples import sample_zoning

    run("init", "--county", "141031")
    districts, subdistricts = sample_zoning()
    subdistricts.loc[3, "DJZQDM"] = subdistricts.loc[4, "DJZQDM"]
    districts.to_file(tmp_path / "z.gpkg", layer="DJQ")
    subdistricts.to_file(tmp_path / "z.gpkg", layer="DJZQ")
    result = run("zones", "import", str(tmp_path / "z.gpkg"))
    assert result.exit_code == 2
    assert "[ZON-002 error] 地籍子区代码 141031002002 重复出现" in result.output


def test_explain_a_code():
    runner = CliRunner()
    result = runner.invoke(cli, ["explain", "141031 001002 GB00017 F00030012"])
    assert result.exit_code == 0
    assert "幢号：3" in result.output and "户号：12" in result.output and "隰县" in result.output
    result = runner.invoke(cli, ["explain", "141031001002GB00000W00000000"])
    assert result.exit_code == 2 and "第15位" in result.output
    parcel = json.loads(runner.invoke(cli, ["explain", "--json", "141031001002JC00003"]).output)
    assert parcel["parcel_type"] == "C 宅基地使用权宗地" and parcel["parcel_seq"] == 3


def test_module_entry_point_and_console_script():
    result = subprocess.run([sys.executable, "-m", "cadastre", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "init" in result.stdout and "zones" in result.stdout
