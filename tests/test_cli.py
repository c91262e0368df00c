"""The command line: the two set-up paths, clear Chinese errors with exit status 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import shapely
from click.testing import CliRunner

from cadastre.cli import cli
from cadastre.qa.planning import INDICATORS


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


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory):
    from cadastre.samples import write_sample_packages

    directory = tmp_path_factory.mktemp("samples")
    write_sample_packages(directory)
    return directory


def test_check_clean_package_exit_0_and_json_contract(samples_dir):
    runner = CliRunner()
    result = runner.invoke(cli, ["check", str(samples_dir / "141031-presale.zip")])
    assert result.exit_code == 0, result.output
    assert "预测绘" in result.output and "通过" in result.output
    # the as-built sample's one failure is planning (building 0002 built 4.2 % larger than approved): exit 1
    result = runner.invoke(cli, ["check", str(samples_dir / "141031-asbuilt.zip")])
    assert result.exit_code == 1 and "PLN-009 planning 0002" in result.output, result.output
    result = runner.invoke(cli, ["check", "--json", str(samples_dir / "141031-presale.zip")])
    report = json.loads(result.output)
    assert set(report) >= {"package", "encoding", "crs", "layers", "findings", "indicators", "accepted", "assigned"}
    assert set(report["package"]) >= {"stage", "county_code", "sha256", "files"}
    assert report["package"]["stage"] == "presale" and report["package"]["county_code"] == "141031"
    assert report["crs"] == {"epsg": 4525, "source": "prj", "detail": "由 .prj 文件声明：EPSG:4525"}
    assert report["layers"] == {"ZRZ": 3, "C": 21, "H": 84}
    assert report["encoding"]["成果/矢量/H.dbf"]["encoding"] == "GB18030"
    assert report["encoding"]["成果/矢量/H.dbf"]["source"] == "cpg"
    assert report["accepted"] is False and report["findings"] == []
    # no permit for the pre-sale package: every indicator is there, not checked, saying why
    assert [i["indicator"] for i in report["indicators"]] == list(INDICATORS)
    assert {(i["status"], i["reason"]) for i in report["indicators"]} == {
        ("not_checked", "没有规划许可（登记库中无记录，成果包也未附 permit.json）")}


def test_check_errors_exit_1_with_located_findings(tmp_path):
    from cadastre.samples import Quirks, sample_manifest, sample_project, write_package

    layers = sample_project("presale")
    buildings = layers["ZRZ"].copy()
    x, y = buildings.geometry.iat[0].exterior.coords[0]
    buildings.loc[0, "geometry"] = shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)])
    path = write_package(tmp_path / "bad.zip", {**layers, "ZRZ": buildings}, manifest=sample_manifest("presale"),
                         quirks=Quirks(cpg="UTF-8"))
    result = CliRunner().invoke(cli, ["check", "--json", str(path)])
    assert result.exit_code == 1
    findings = {f["rule"]: f for f in json.loads(result.output)["findings"]}
    assert set(findings) == {"GEO-001", "PKG-006"}
    bowtie = findings["GEO-001"]
    assert bowtie["feature"] == "Z1" and bowtie["severity"] == "error" and len(bowtie["location"]) == 2
    human = CliRunner().invoke(cli, ["check", str(path)])
    assert human.exit_code == 1 and "[错误] GEO-001 ZRZ Z1" in human.output and "未通过" in human.output


@pytest.mark.parametrize("kind", ["zip_slip", "zip_bomb", "symlink"])
def test_check_refuses_hostile_packages_with_exit_2(tmp_path, kind):
    from cadastre.samples import write_hostile_package

    path = write_hostile_package(tmp_path / f"{kind}.zip", kind)
    result = CliRunner().invoke(cli, ["check", "--json", str(path)])
    assert result.exit_code == 2
    report = json.loads(result.output)
    assert report["refused"] is True and report["findings"][0]["severity"] == "error"
    human = CliRunner().invoke(cli, ["check", str(path)])
    assert human.exit_code == 2 and "被拒收" in human.output and "Traceback" not in human.output


def test_check_with_recorded_permit_reports_differences(tmp_path, samples_dir):
    from cadastre.samples import sample_permit

    recorded = sample_permit()
    recorded["far_max"] = 1.8
    recorded["buildings"][1]["floor_area"] = 3700.0  # planning approved building 0002 larger than the package says
    (tmp_path / "permit.json").write_text(json.dumps(recorded, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "--json", "--permit", str(tmp_path / "permit.json"),
                                      str(samples_dir / "141031-asbuilt.zip")])
    assert result.exit_code == 0, result.output  # the recorded permit wins: 0002 passes against it
    report = json.loads(result.output)
    assert [f["rule"] for f in report["findings"]] == ["PKG-008", "PKG-008"]
    messages = " ".join(f["message"] for f in report["findings"])
    assert "far_max 登记为 1.8，成果包为 1.6" in messages and "buildings 登记为" in messages
    far = next(i for i in report["indicators"] if i["indicator"] == "far")
    assert far["permitted"] == 1.8
    assert report["package"]["permit"] == {"number": "建字第141031202400012号", "source": "recorded"}


def test_check_uses_the_registry_county_when_the_package_names_none(db_url, tmp_path):
    from cadastre.samples import Quirks, sample_project, write_package

    path = write_package(tmp_path / "p.zip", sample_project("presale"), quirks=Quirks())
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db_url, "check", str(path)]).exit_code == 2  # no registry yet: no county
    runner.invoke(cli, ["--db", db_url, "init", "--county", "141031"])
    result = runner.invoke(cli, ["--db", db_url, "check", "--json", str(path)])
    report = json.loads(result.output)
    assert "county" in report["package"]["inferred"]
    # checked against the registry now: its buildings stand on no registered parcel
    assert result.exit_code == 1 and [f["rule"] for f in report["findings"] if f["severity"] == "error"] == ["PKG-009"]


def test_rules_lists_the_catalogue():
    result = CliRunner().invoke(cli, ["rules"])
    assert result.exit_code == 0 and "GEO-001" in result.output and "TOP-003" in result.output


def test_users_tokens_and_the_audit_log(run, db_url):
    assert run("init", "--county", "141031").exit_code == 0
    added = run("user", "add", "李登记", "--role", "registrar", "--generate-password")
    assert added.exit_code == 0 and "密码：" in added.output
    password = added.output.split("密码：")[1].strip()
    assert run("user", "add", "李登记", "--role", "analyst", "--no-password").exit_code == 2  # exists
    assert run("user", "add", "税务系统", "--role", "analyst", "--no-password").exit_code == 0
    made = run("token", "create", "--user", "税务系统", "--days", "30", "--label", "税务局接口")
    token = made.stdout.strip().splitlines()[-1]
    assert made.exit_code == 0 and token.startswith("cad_")
    refused = run("token", "create", "--user", "税务系统", "--role", "admin")
    assert refused.exit_code == 2 and "不能领取" in refused.output
    listed = run("token", "list")
    assert "税务局接口" in listed.output and token not in listed.output  # the token itself is never shown again
    assert run("token", "revoke", "1").exit_code == 0
    assert run("token", "revoke", "1").exit_code == 2  # already revoked
    assert run("user", "set", "李登记", "--disable").exit_code == 0
    assert "已停用" in run("user", "list").output
    from cadastre.core.errors import AuthenticationError
    from cadastre.registry import open_registry

    with open_registry(db_url) as registry:
        with pytest.raises(AuthenticationError):
            registry.principal(token)  # revoked
        with pytest.raises(AuthenticationError):
            registry.login("李登记", password)  # disabled
    log = run("audit", "--json")
    events = json.loads(log.output)
    assert [e["action"] for e in events][:6] == ["user.add", "user.add", "token.create", "token.revoke",
                                                  "user.update", "auth.login_failed"]
    assert all(e["source"] == "cli" for e in events[:5]) and events[0]["target"] == "李登记"
    assert "李登记" in run("audit", "--action", "user.add").output
    assert run("audit", "--user", "nobody").output == ""


def test_export_layers_and_unit_lists(run, samples_dir, tmp_path):
    import geopandas as gpd
    from openpyxl import load_workbook

    assert run("init", "--county", "141031").exit_code == 0
    assert run("zones", "import", str(samples_dir / "141031-zoning.zip")).exit_code == 0
    for stage in ("cadastral", "presale", "asbuilt"):
        assert run("ingest", "--json", str(samples_dir / f"141031-{stage}.zip")).exit_code == 0
    result = run("export", "parcels", "units", "-o", str(tmp_path / "registry.gpkg"))
    assert result.exit_code == 0 and "已导出" in result.output
    assert len(gpd.read_file(tmp_path / "registry.gpkg", layer="H")) == 84
    assert run("export", "parcels", "-o", str(tmp_path / "宗地.zip"), "--subdistrict", "141031001002").exit_code == 0
    assert run("export", "parcels", "-o", str(tmp_path / "x.dwg")).exit_code == 2  # a Chinese message, no traceback
    assert run("export", "parcels", "-o", str(tmp_path / "x.gpkg"), "--bbox", "1,2").exit_code == 2
    listing = run("units-list", "housing", "-o", str(tmp_path / "住建.xlsx"))
    assert listing.exit_code == 0 and "84 户" in listing.output
    assert load_workbook(tmp_path / "住建.xlsx").active.cell(1, 1).value == "不动产单元代码"
