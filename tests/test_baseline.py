"""The county's existing registry (issue 22), on both engines: a legacy lot imported with its codes kept, numbering
continuing after the highest code ever issued (retired ones included) also with concurrent writers, lots atomic and
idempotent, conflicts across lots named with both sources, errors blocking (or skipped), dry runs writing nothing,
imported buildings re-surveyed keeping their unit codes, and the sub-district safety net."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from cadastre.core import settings
from cadastre.core.errors import AllocationError
from cadastre.samples import (
    Quirks,
    _block_origin,
    legacy_manifest,
    sample_cadastral,
    sample_legacy,
    sample_manifest,
    sample_zoning,
    write_package,
)

PREFIX = "141031001003GB"
LEGACY = f"{PREFIX}00012"


def scalar(registry, sql, **params):
    with registry.engine.connect() as c:
        return c.execute(sa.text(sql), params).scalar_one()


def legacy(tmp_path, layers=None, name="legacy.zip", manifest=None):
    return write_package(tmp_path / name, layers or sample_legacy(), manifest=manifest or legacy_manifest(),
                         quirks=Quirks(tables="dbf"))


def first_survey(tmp_path, k: int = 0, name=None, north: float = 100.0):
    """The sample cadastral block moved into the legacy sub-district (north of the old parcels): a first survey
    there, codes blank."""
    _, subdistricts = sample_zoning()
    zone = subdistricts.geometry[subdistricts["DJZQDM"] == "141031001003"].iloc[0]
    lx, ly = (float(round(v)) for v in zone.representative_point().coords[0])
    bx, by = _block_origin("141031")
    layers = {n: f.copy() for n, f in sample_cadastral().items()}
    for frame in layers.values():
        frame["geometry"] = frame.geometry.translate(xoff=lx - bx, yoff=ly - by + north + 300 * k)
    return write_package(tmp_path / (name or f"first-{k}.zip"), layers, manifest=sample_manifest("cadastral"),
                         quirks=Quirks())


@pytest.fixture
def imported(registry, tmp_path):
    result = registry.import_baseline(legacy(tmp_path))
    assert result.status == "imported" and result.exit_code == 0, result.report.findings_list()
    return result


def test_a_legacy_lot_is_imported_with_its_codes_kept(registry, imported):
    assert imported.imported == {"parcels": 4, "buildings": 1, "units": 4, "issued_codes": 16}
    assert imported.subdistricts == ["141031001003"]
    assert scalar(registry, "SELECT count(*) FROM parcel WHERE valid_to IS NULL AND zddm LIKE :p", p=PREFIX + "%") == 4
    table = registry.building_table(f"{LEGACY}F0001")  # the 楼盘表 of the imported building
    cells = [c for row in table.rows for c in row.cells if c is not None and hasattr(c, "bdcdyh")]
    assert sorted(c.bdcdyh for c in cells) == [f"{LEGACY}F0001{n:04d}" for n in range(1, 5)]
    assert registry.unit(f"{LEGACY}F00010003")["current"]["shbw"] == "201"  # its 幢号 came from the code
    # every code ever issued is known, the retired ones retired
    assert scalar(registry, "SELECT count(*) FROM issued_code WHERE retired_at IS NOT NULL") == 5
    assert scalar(registry, "SELECT retired_at IS NOT NULL FROM issued_code WHERE code = :c", c=f"{PREFIX}00021")
    # marks past every serial: 21 (retired) for the parcels, 户号 5 (retired) in the building
    assert scalar(registry, "SELECT last_value FROM code_counter WHERE prefix = :p", p=PREFIX) == 21
    assert scalar(registry, "SELECT last_value FROM code_counter WHERE prefix = :p", p=f"{LEGACY}F0001") == 5
    assert scalar(registry, "SELECT last_value FROM code_counter WHERE prefix = :p", p=f"{LEGACY}F") == 1
    # the lot is a package of stage baseline: history, original, findings (legacy overlaps are warnings)
    assert scalar(registry, "SELECT stage || ' ' || status FROM package WHERE id = :i", i=imported.lot_id) \
        == "baseline accepted"
    findings = registry.findings(package_id=imported.lot_id)
    assert set(findings["rule"]) == {"TOP-001"} and set(findings["severity"]) == {"warning"}
    assert json.loads(scalar(registry, "SELECT attributes FROM parcel WHERE zddm = :z", z=LEGACY)
                      if registry.engine.dialect.name == "sqlite" else json.dumps(
        scalar(registry, "SELECT attributes FROM parcel WHERE zddm = :z", z=LEGACY))) == {"DJSJ": "2012-03-10"}
    history = registry.parcel(LEGACY)["history"]  # the card says where the parcel came from
    assert history[0]["package_stage"] == "baseline" and history[0]["package_file"] == "legacy.zip"
    lots = registry.baseline_lots()
    assert lots["units"].tolist() == [4] and lots["subdistricts"].tolist() == ["141031001003"]
    assert "baseline.import" in set(registry.audit_log()["action"])
    # `verify` holds: codes the old system retired need no rows here, legacy overlaps were warned at import
    assert registry.verify(originals=False) == []


def test_the_same_lot_again_changes_nothing(registry, imported, tmp_path):
    counts = scalar(registry, "SELECT count(*) FROM issued_code"), scalar(registry, "SELECT count(*) FROM parcel")
    again = registry.import_baseline(legacy(tmp_path))
    assert again.status == "unchanged" and again.lot_id == imported.lot_id and again.exit_code == 0
    assert (scalar(registry, "SELECT count(*) FROM issued_code"), scalar(registry, "SELECT count(*) FROM parcel")) \
        == counts


def test_the_next_first_survey_continues_after_the_highest_code_ever_issued(registry, imported, tmp_path):
    result = registry.ingest(first_survey(tmp_path))
    assert result.status == "accepted", result.report["findings"]
    assert [p["zddm"] for p in result.assigned["parcels"]] == [f"{PREFIX}{n:05d}" for n in range(22, 28)]
    # a new survey over the old parcels meets them as registered land (TOP-002 names their codes)
    report = registry.check(first_survey(tmp_path, name="over.zip", north=0.0))
    overlaps = [f["message"] for f in report.findings_list() if f["rule"] == "TOP-002"]
    assert overlaps and any(LEGACY in m for m in overlaps)


def test_an_as_built_re_survey_of_an_imported_building_keeps_its_unit_codes(registry, imported, tmp_path):
    layers = sample_legacy()
    building = layers["ZRZ"].assign(SCJZMJ=600.0)
    units = layers["H"].copy()
    units["ZRZH"] = "0001"
    units["ZDDM"] = LEGACY
    extra = units.iloc[[3]].assign(SHBW="203", BDCDYH=None)  # a flat the old survey did not have
    units = __import__("pandas").concat([units.assign(BDCDYH=None), extra], ignore_index=True)
    manifest = {**sample_manifest("asbuilt"), "parcel_code": LEGACY, "project_name": "南关街12号住宅楼实测"}
    path = write_package(tmp_path / "resurvey.zip", {"ZRZ": building, "H": units}, manifest=manifest,
                         quirks=Quirks(tables="dbf"))
    result = registry.ingest(path)
    assert result.status == "accepted", [f for f in result.report["findings"] if f["severity"] == "error"]
    codes = {u["shbw"]: u["bdcdyh"] for u in result.assigned["units"]}
    assert codes == {"101": f"{LEGACY}F00010001", "102": f"{LEGACY}F00010002", "201": f"{LEGACY}F00010003",
                     "202": f"{LEGACY}F00010004", "203": f"{LEGACY}F00010006"}  # 0005 was retired in the old system


def test_a_later_lot_repeating_codes_is_a_conflict_naming_both_sources(registry, imported, tmp_path):
    layers = sample_legacy()
    layers["ZDJBXX"] = layers["ZDJBXX"].iloc[[1]]
    layers["ZDJBXX"]["geometry"] = layers["ZDJBXX"].geometry.translate(yoff=500)
    second = {"ZDJBXX": layers["ZDJBXX"]}
    result = registry.import_baseline(legacy(tmp_path, second, "lot-2.zip"))
    assert result.status == "rejected" and result.exit_code == 1
    conflicts = [f for f in result.report.findings_list() if f["rule"] == "BSL-003"]
    assert len(conflicts) == 2  # its 宗地代码 and its land code
    assert f"存量数据批次 #{imported.lot_id}（legacy.zip" in conflicts[0]["message"]
    assert scalar(registry, "SELECT count(*) FROM package WHERE stage = 'baseline'") == 1


def test_a_later_lot_overlapping_registered_land_is_warned_and_imported(registry, imported, tmp_path):
    layers = sample_legacy()
    parcel = layers["ZDJBXX"].iloc[[1]].copy()
    parcel["ZDDM"], parcel["BDCDYH"] = f"{PREFIX}00030", f"{PREFIX}00030W00000000"
    parcel["geometry"] = parcel.geometry.translate(xoff=10.0)  # over parts of parcels 15 and 17, 12 years later
    result = registry.import_baseline(legacy(tmp_path, {"ZDJBXX": parcel}, "lot-2.zip"))
    assert result.status == "imported" and result.exit_code == 0
    warned = [f for f in result.report.findings_list() if f["rule"] == "TOP-002"]
    assert [f["severity"] for f in warned] == ["warning", "warning"]
    assert f"{PREFIX}00015" in warned[0]["message"] and f"{PREFIX}00017" in warned[1]["message"]
    assert scalar(registry, "SELECT last_value FROM code_counter WHERE prefix = :p", p=PREFIX) == 30


def test_legacy_land_and_buildings_are_registered_not_waiting_for_first_registration(registry, imported):
    card = registry.parcel(LEGACY)
    assert not card["ready_for_first_registration"]
    assert card["not_ready_because"] == ["存量数据：已在原登记系统登记，不适用首次登记"]
    table = registry.building_table(f"{LEGACY}F0001")
    assert table.not_ready_because == ["存量数据：已在原登记系统登记，不适用首次登记"]


def test_errors_block_the_lot_and_skip_invalid_imports_the_rest(registry, tmp_path):
    layers = sample_legacy()
    parcels = layers["ZDJBXX"]
    parcels.loc[2, "ZDDM"] = "141031001003GB0017"  # a digit short
    parcels.loc[2, "BDCDYH"] = None
    units = layers["H"]
    units.loc[0, "BDCDYH"] = f"{PREFIX}00015F00010001"  # not its parcel's code: it has no building there
    path = legacy(tmp_path, layers)
    before = scalar(registry, "SELECT count(*) FROM issued_code")
    checked = registry.import_baseline(path, dry_run=True)
    assert checked.dry_run and checked.exit_code == 1
    assert {f["rule"] for f in checked.report.findings_list() if f["severity"] == "error"} == {"BSL-001", "BSL-004"}
    assert scalar(registry, "SELECT count(*) FROM issued_code") == before == 0
    rejected = registry.import_baseline(path)
    assert rejected.status == "rejected" and scalar(registry, "SELECT count(*) FROM parcel") == 0
    assert scalar(registry, "SELECT count(*) FROM package") == 0
    partial = registry.import_baseline(path, skip_invalid=True)
    assert partial.status == "imported" and partial.exit_code == 1
    assert partial.imported["parcels"] == 3 and partial.imported["units"] == 3
    assert {s["feature"] for s in partial.skipped} >= {"Z17"}


def test_the_safety_net_refuses_numbering_where_no_baseline_came(registry, tmp_path, monkeypatch):
    county = settings.county("141031")
    monkeypatch.setitem(settings.counties(), "141031", dataclasses.replace(county, require_baseline=True))
    with pytest.raises(AllocationError, match="141031001003.*cadastre baseline"):
        registry.ingest(first_survey(tmp_path))
    registry.import_baseline(legacy(tmp_path))
    assert registry.ingest(first_survey(tmp_path, 1)).status == "accepted"  # covered by the lot now
    sample = write_package(tmp_path / "c.zip", sample_cadastral(), manifest=sample_manifest("cadastral"),
                           quirks=Quirks())
    with pytest.raises(AllocationError, match="141031001002"):
        registry.ingest(sample)
    registry.declare_empty("141031001002", reason="该子区原系统未发放过代码")
    assert registry.ingest(sample).status == "accepted"
    assert "baseline.declare_empty" in set(registry.audit_log()["action"])


def test_concurrent_first_surveys_after_an_import_never_reissue_a_code(registry, imported, db_url, tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from cadastre.testing import ingest_in_process

    paths = [str(first_survey(tmp_path, k)) for k in range(4)]
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(ingest_in_process, [db_url] * 4, paths))
    codes = sorted(code for r in results for code in r)
    assert codes == [f"{PREFIX}{n:05d}" for n in range(22, 46)]  # after 21 (retired): none of the old ones again
    assert scalar(registry, "SELECT count(*) FROM issued_code WHERE code LIKE :p AND length(code) = 19",
                  p=PREFIX + "%") == 4 + 2 + 24


def test_the_command_line_imports_lists_and_declares(registry, db_url, tmp_path):
    path = legacy(tmp_path)

    def cadastre(*args):
        return subprocess.run([sys.executable, "-m", "cadastre", "--db", db_url, *args], capture_output=True,
                              text=True, timeout=300)

    dry = cadastre("baseline", "import", str(path), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    document = json.loads(dry.stdout)
    assert document["dry_run"] and document["imported"] == {"parcels": 4, "buildings": 1, "units": 4,
                                                             "issued_codes": 16}
    assert document["skipped"] == [] and document["findings"][0]["rule"] == "TOP-001"
    done = cadastre("baseline", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "已导入" in done.stdout and "宗地 4" in done.stdout
    listed = cadastre("baseline", "list")
    assert "legacy.zip" in listed.stdout and "141031001003" in listed.stdout
    declared = cadastre("baseline", "declare-empty", "141031001002", "--reason", "原系统未在该子区发证")
    assert declared.returncode == 0, declared.stderr
    unknown = cadastre("baseline", "declare-empty", "141031009009")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    refused = cadastre("baseline", "import", str(tmp_path / "nothing.zip"), "--json")
    assert refused.returncode == 2


def test_geometry_the_registry_cannot_store_is_an_error(tmp_path):
    from cadastre.qa.baseline import check_baseline_alone
    from cadastre.read.baseline import read_baseline

    layers = sample_legacy()
    layers["ZDJBXX"].loc[1, "geometry"] = None  # a legacy record without its outline
    package = read_baseline(legacy(tmp_path, layers), county="141031")
    found = check_baseline_alone(package).findings
    assert "BSL-006" in set(found["rule"][found["severity"] == "error"])
