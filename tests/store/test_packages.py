"""Stored packages, findings and waivers on both engines: waived errors stop blocking; waivers are never edited."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from shapely import affinity

from cadastre.cli import cli
from cadastre.core import findings as fnd
from cadastre.core import jsontext
from cadastre.core.errors import ConflictError, InputError, NotFoundError
from cadastre.qa.pipeline import check_package
from cadastre.qa.report import Report
from cadastre.samples import Quirks, sample_manifest, sample_project, write_package
from cadastre.store.engine import write_transaction
from cadastre.store.originals import keep_original
from cadastre.store.packages import (
    accept_package,
    add_waiver,
    blocking_findings,
    package_findings,
    package_state,
    save_package,
)


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


def test_state_summary_leaves_the_per_unit_lists_in_the_database(engine, stored):
    package_id, _ = stored
    units = [{"bdcdyh": f"141031001002GB00001F0001{k:04d}", "new": k % 2 == 0} for k in range(5)]
    report = {"accepted": True, "counts": {"error": 0}, "findings": [],
              "assigned": {"parcels": [], "units": units, "retired": [{"bdcdyh": "W", "replaced_by": ["F"] * 5}]},
              "comparison": {"units": units[:4], "flagged": 1, "added": [units[4]], "removed": [],
                             "limit_percent": 3.0}}
    with write_transaction(engine) as c:
        accept_package(c, package_id, datetime.now(UTC), report)
    with engine.connect() as c:
        full = package_state(c, package_id)
        summary = package_state(c, package_id, summary=True)
        embedded = package_state(c, package_id, summary=True, embedded=True)
    assert full.report == report and full.assigned_counts is None
    assert summary.report == {"accepted": True, "counts": {"error": 0}, "findings": []}
    assert summary.assigned_counts == {"parcels": 0, "units": 5, "retired": 1}
    assert summary.comparison_summary == {"units": 4, "flagged": 1, "added": 1, "removed": 0, "limit_percent": 3.0}
    assert json.loads(jsontext.dumps({"report": embedded.report})) == {"report": summary.report}
    assert summary.version == full.version and summary.to_dict()["version"] == full.version
    if engine.dialect.name == "sqlite":  # text stored before the orjson encoder: NaN / Infinity literals
        with write_transaction(engine) as c:
            c.exec_driver_sql("UPDATE package SET report = ? WHERE id = ?",
                              ('{"ratio": NaN, "far": [Infinity], "assigned": {"units": [1, 2]}}', package_id))
        with engine.connect() as c:
            old = package_state(c, package_id, summary=True, embedded=True)
        assert json.loads(jsontext.dumps(old.report)) == {"ratio": None, "far": [None]}
        assert old.assigned_counts == {"parcels": None, "units": 2, "retired": None}


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


def test_awkward_findings_are_stored_and_reported_as_they_were(engine, tmp_path):
    # missing and infinite figures, a finding without a feature, figures empty or absent, the column named
    # "limit": stored in bulk (store.bulk) and read back; the report's list says the same
    findings = fnd.concat([fnd.frame("GEO-001", "error", "H", ["1", None, "3"], ["甲", "乙", "丙"],
                                     lonlat=np.array([[110.5, 36.5], [np.nan, np.nan], [110.6, 36.6]]),
                                     measured=[1.5, np.inf, None], limit=[2, None, -np.inf],
                                     figures=[{"面积": 1.5}, {}, None]),
                           [fnd.Finding("ATT-001", "warning", "ZRZ", "7", "丁", lon=110.7, lat=None, measured=3)]])
    report = Report(package={"name": "x.zip", "stage": "presale"}, findings=findings)
    with write_transaction(engine) as c:
        (tmp_path / "x.zip").write_bytes(b"x")
        original = keep_original(c, tmp_path / "x.zip")
        package_id = save_package(c, original, report, "rejected")
    with engine.connect() as c:
        stored = c.execute(sa.text('SELECT rule, feature, lon, lat, measured, "limit", figures FROM finding '
                                   "WHERE package_id = :p ORDER BY id").columns(figures=sa.JSON),
                           {"p": package_id}).all()
    assert [tuple(r) for r in stored] == [
        ("GEO-001", "1", 110.5, 36.5, 1.5, 2.0, {"面积": 1.5}), ("GEO-001", None, None, None, None, None, None),
        ("GEO-001", "3", 110.6, 36.6, None, None, None), ("ATT-001", "7", 110.7, None, 3.0, None, None)]
    listed = report.findings_list()
    assert [(f["feature"], f["location"], f["measured"], f["limit"]) for f in listed] == [
        ("1", [110.5, 36.5], 1.5, 2.0), (None, None, math.inf, None), ("3", [110.6, 36.6], None, -math.inf),
        ("7", None, 3.0, None)]
    assert [f.figures for f in fnd.records(findings)] == [{"面积": 1.5}, {}, {}, {}]
    assert fnd.records(findings)[1] == fnd.Finding("GEO-001", "error", "H", None, "乙", measured=math.inf)
