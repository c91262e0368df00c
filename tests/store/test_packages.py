"""Stored packages, findings and waivers on both engines: waived errors stop blocking; waivers are never edited."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from shapely import affinity

from cadastre.cli import cli
from cadastre.core.errors import ConflictError, InputError, NotFoundError
from cadastre.qa.pipeline import check_package
from cadastre.samples import Quirks, sample_manifest, sample_project, write_package
from cadastre.store.engine import write_transaction
from cadastre.store.originals import keep_original
from cadastre.store.packages import add_waiver, blocking_findings, package_findings, save_package


@pytest.fixture
def stored(engine, tmp_path):
    layers = {k: v.copy() for k, v in sample_project("presale").items()}
    layers["ZRZ"].loc[1, "geometry"] = affinity.translate(layers["ZRZ"].geometry.iat[1], xoff=-20)  # TOP-009
    layers["H"].loc[0, "SHBW"] = layers["H"].loc[1, "SHBW"]  # ATT-004 twice
    path = write_package(tmp_path / "p.zip", layers, manifest=sample_manifest("presale"), quirks=Quirks())
    report = check_package(path)
    with write_transaction(engine) as c:
        package_id = save_package(c, keep_original(c, path), report, "rejected", submitted_by="surveyor1")
    return package_id, report


def test_findings_are_stored_as_reported(engine, stored):
    package_id, report = stored
    with engine.connect() as c:
        findings = package_findings(c, package_id)
    assert len(findings) == len(report.findings)
    assert sorted(zip(findings["rule"], findings["feature"], strict=True)) == sorted(zip(report.findings["rule"],
                                                                            report.findings["feature"], strict=True))
    assert findings["waived_by"].isna().all()


def test_waiver_stops_an_error_blocking_and_is_never_edited(engine, stored):
    package_id, _ = stored
    with engine.connect() as c:
        before = blocking_findings(c, package_id)
    with write_transaction(engine) as c:
        record = add_waiver(c, package_id, "TOP-009", "Z1", "登记中心 王工", "规划已批准两幢连建")
    assert record.reason == "规划已批准两幢连建"
    with engine.connect() as c:
        after = blocking_findings(c, package_id)
    assert len(after) == len(before) - 1 and "TOP-009" not in set(after["rule"])
    with pytest.raises(ConflictError, match="已于 .* 由 登记中心 王工 豁免"):
        with write_transaction(engine) as c:
            add_waiver(c, package_id, "TOP-009", "Z1", "李工", "再次豁免")


def test_waiver_needs_name_reason_and_an_existing_finding(engine, stored):
    package_id, _ = stored
    with write_transaction(engine) as c:
        with pytest.raises(InputError, match="理由"):
            add_waiver(c, package_id, "TOP-009", "Z1", "王工", " ")
        with pytest.raises(NotFoundError, match="没有规则 TOP-001"):
            add_waiver(c, package_id, "TOP-001", "Z1", "王工", "x")
        with pytest.raises(NotFoundError, match="成果包 999 不存在"):
            add_waiver(c, 999, "TOP-009", "Z1", "王工", "x")


def test_waive_and_findings_commands(db_url, engine, stored):
    package_id, _ = stored
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db_url, "waive", str(package_id), "ATT-004", "H1091", "--by", "王工",
                                 "--reason", "室号牌已更正，见补充说明"])
    assert result.exit_code == 0, result.output
    assert "已豁免" in result.output
    listing = runner.invoke(cli, ["--db", db_url, "findings", str(package_id)]).output
    assert "【已豁免：王工，室号牌已更正，见补充说明】" in listing
    again = runner.invoke(cli, ["--db", db_url, "waive", str(package_id), "ATT-004", "H1091", "--by", "李工",
                                "--reason", "x"])
    assert again.exit_code == 2 and "不可修改" in again.output


def test_rules_command_shows_tolerances():
    result = CliRunner().invoke(cli, ["rules"])
    assert "TOP-003" in result.output and "geometry.vertex_tolerance=0.05" in result.output
