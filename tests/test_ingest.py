"""Ingest on both engines: allocation per stage, codes kept from pre-sale to as-built, lineage, no reuse, rejected
packages changing nothing, waivers unblocking acceptance, byte-identical re-ingest, concurrent ingests."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from cadastre.samples import (
    Quirks,
    sample_cadastral,
    sample_manifest,
    sample_permit,
    sample_project,
    write_package,
)


def package(tmp_path, stage, layers=None, name=None):
    layers = layers or (sample_cadastral() if stage == "cadastral" else sample_project(stage))
    return write_package(tmp_path / (name or f"{stage}.zip"), layers, manifest=sample_manifest(stage),
                         permit=sample_permit() if stage == "asbuilt" else None, quirks=Quirks())


def scalar(registry, sql, **params):
    with registry.engine.connect() as c:
        return c.execute(sa.text(sql), params).scalar_one()


def test_cadastral_presale_asbuilt(registry, tmp_path):
    cadastral = registry.ingest(package(tmp_path, "cadastral"))
    assert cadastral.status == "accepted" and cadastral.exit_code == 0
    parcels = cadastral.assigned["parcels"]
    assert [p["zddm"] for p in parcels] == [f"141031001002GB{n:05d}" for n in range(1, 7)]  # in BSM order
    assert all(p["bdcdyh"] == p["zddm"] + "W00000000" for p in parcels)
    presale = registry.ingest(package(tmp_path, "presale"))
    units = presale.assigned["units"]
    assert len(units) == 84 and all(u["new"] for u in units)
    assert {u["bdcdyh"][:24] for u in units} == {f"141031001002GB00001F{b:04d}" for b in (1, 2, 3)}
    first = [u for u in units if u["zrzh"] == "0001"]
    assert [u["bdcdyh"][-4:] for u in first] == [f"{n:04d}" for n in range(1, 29)]  # floor, 单元, room order
    assert scalar(registry, "SELECT retired_at IS NULL FROM issued_code WHERE code = :c",
                  c="141031001002GB00001W00000000")  # land code stays while the buildings are on paper
    asbuilt = registry.ingest(package(tmp_path, "asbuilt"))
    kept = {u["bdcdyh"] for u in asbuilt.assigned["units"]}
    assert kept == {u["bdcdyh"] for u in units} and not any(u["new"] for u in asbuilt.assigned["units"])
    retired = asbuilt.assigned["retired"]
    assert retired == [{"bdcdyh": "141031001002GB00001W00000000", "replaced_by": sorted(kept),
                        "reason": "定着物特征码变化：宗地上建成房屋"}]
    assert scalar(registry, "SELECT count(*) FROM code_lineage WHERE old_code = :c",
                  c="141031001002GB00001W00000000") == 84
    comparison = asbuilt.report["comparison"]
    assert comparison["flagged"] == 28 and comparison["added"] == [] and comparison["removed"] == []
    # history: pre-sale rows ended, as-built rows current, nothing deleted
    assert scalar(registry, "SELECT count(*) FROM unit WHERE stage = 'presale' AND valid_to IS NOT NULL") == 84
    assert scalar(registry, "SELECT count(*) FROM unit WHERE valid_to IS NULL AND stage = 'asbuilt'") == 84
    assert scalar(registry, "SELECT count(*) FROM issued_code") == 6 + 6 + 84


def test_byte_identical_reingest_allocates_nothing(registry, tmp_path):
    path = package(tmp_path, "cadastral")
    first = registry.ingest(path)
    again = registry.ingest(path)
    assert again.duplicate and again.package_id == first.package_id and again.status == "accepted"
    assert scalar(registry, "SELECT count(*) FROM issued_code") == 12
    assert scalar(registry, "SELECT count(*) FROM package") == 1


def test_rejected_package_changes_nothing_until_errors_are_waived(registry, tmp_path):
    layers = {k: v.copy() for k, v in sample_cadastral().items()}
    layers["ZDJBXX"].loc[3, "ZDMJ"] = 19000.0  # ATT-001
    path = package(tmp_path, "cadastral", layers)
    rejected = registry.ingest(path)
    assert rejected.status == "rejected" and rejected.exit_code == 1
    assert scalar(registry, "SELECT count(*) FROM parcel") == 0
    assert scalar(registry, "SELECT count(*) FROM code_counter") == 0
    assert scalar(registry, "SELECT status FROM package WHERE id = :i", i=rejected.package_id) == "rejected"
    registry.waive(rejected.package_id, "ATT-001", "4", by="王工", reason="申报面积以出让合同为准")
    accepted = registry.ingest(path)
    assert accepted.status == "accepted" and accepted.package_id == rejected.package_id
    assert scalar(registry, "SELECT count(*) FROM parcel WHERE valid_to IS NULL") == 6


def test_changed_units_get_new_numbers_and_removed_ones_are_retired(registry, tmp_path):
    registry.ingest(package(tmp_path, "cadastral"))
    presale = registry.ingest(package(tmp_path, "presale"))
    before = {(u["zrzh"], u["shbw"]): u["bdcdyh"] for u in presale.assigned["units"]}
    layers = {k: v.copy() for k, v in sample_project("asbuilt").items()}
    units = layers["H"]
    units.loc[units["BSM"] == "H1163", "SHBW"] = "2-601甲"  # a changed layout: not the same unit any more
    units.loc[units["BSM"] == "H1113", "SHBW"] = "2-101甲"  # and another, lower down, listed before it
    units = pd.concat([units[units["BSM"] == "H1163"], units[units["BSM"] != "H1163"]])  # 601甲 listed first
    gone_area = units.loc[units["BSM"] == "H1164", "SCJZMJ"].iat[0]
    layers["H"] = units[units["BSM"] != "H1164"]  # and one unit gone
    layers["ZRZ"].loc[0, "SCJZMJ"] -= gone_area  # the building's total follows (ATT-006)
    asbuilt = registry.ingest(package(tmp_path, "asbuilt", layers, "a2.zip"))
    assert asbuilt.status == "accepted", asbuilt.report["findings"]
    assigned = {(u["zrzh"], u["shbw"]): u for u in asbuilt.assigned["units"]}
    # 户号 = high-water mark + 1, never a reused number; the new units numbered among themselves in 户号 order
    # (floor first), whatever the order of the file and of the units that keep their codes
    assert [assigned[("0001", label)]["new"] for label in ("2-101甲", "2-601甲")] == [True, True]
    assert [assigned[("0001", label)]["bdcdyh"][-4:] for label in ("2-101甲", "2-601甲")] == ["0029", "0030"]
    gone = {r["bdcdyh"] for r in asbuilt.assigned["retired"] if r["reason"] == "实测成果中无对应的户"}
    assert gone == {before[("0001", "2-101")], before[("0001", "2-601")], before[("0001", "2-602")]}
    assert scalar(registry, "SELECT count(*) FROM issued_code WHERE retired_at IS NOT NULL AND code LIKE :p",
                  p="%F0001%") == 3


def test_building_package_without_a_registered_parcel_is_rejected(registry, tmp_path):
    result = registry.ingest(package(tmp_path, "presale"))
    assert result.status == "rejected"
    assert [f["rule"] for f in result.report["findings"] if f["severity"] == "error"] == ["PKG-009"]


def test_concurrent_ingests_in_separate_processes_never_collide(registry, db_url, tmp_path, monkeypatch):
    """Four processes ingest four different blocks of parcels into the same sub-district at the same time."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from cadastre.testing import ingest_in_process

    paths = []
    for k in range(4):
        layers = {name: frame.copy() for name, frame in sample_cadastral().items()}
        for name in layers:
            layers[name]["geometry"] = layers[name].geometry.translate(yoff=300 * (k + 1))
        paths.append(str(package(tmp_path, "cadastral", layers, f"c{k}.zip")))
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(ingest_in_process, [db_url] * 4, paths))
    codes = sorted(code for r in results for code in r)
    assert codes == [f"141031001002GB{n:05d}" for n in range(1, 25)]  # distinct, and no gap in the sequence
    assert scalar(registry, "SELECT last_value FROM code_counter WHERE prefix = '141031001002GB'") == 24


def test_a_corrected_presale_survey_replaces_the_earlier_one(registry, tmp_path):
    registry.ingest(package(tmp_path, "cadastral"))
    first = registry.ingest(package(tmp_path, "presale"))
    layers = {k: v.copy() for k, v in sample_project("presale").items()}
    layers["H"].loc[0, "YCJZMJ"] = layers["H"].loc[0, "YCJZMJ"]  # same units, a new file (different bytes below)
    layers["ZRZ"].loc[0, "JZWMC"] = "龙泉苑1号楼（修正）"
    second = registry.ingest(package(tmp_path, "presale", layers, "presale2.zip"))
    assert second.status == "accepted" and not second.duplicate
    assert {u["bdcdyh"] for u in second.assigned["units"]} == {u["bdcdyh"] for u in first.assigned["units"]}
    assert not any(u["new"] for u in second.assigned["units"])
    assert scalar(registry, "SELECT count(*) FROM building WHERE valid_to IS NULL") == 3
    assert scalar(registry, "SELECT count(*) FROM unit WHERE valid_to IS NULL") == 84
    assert scalar(registry, "SELECT jzwmc FROM building WHERE valid_to IS NULL AND zrzh = '0001'") == "龙泉苑1号楼（修正）"


def test_concurrent_packages_claiming_the_same_land_accept_exactly_one(registry, db_url, tmp_path):
    """Four surveyors' cadastral packages cover the same six parcels and are ingested at the same moment by four
    ``cadastre ingest`` processes: one is accepted, the other three are rejected by TOP-002 naming the parcels that
    won, and no land is current twice (issue 18: the registry checks ran before the write lock, so all four were
    accepted)."""
    import json
    import os
    import re
    import subprocess
    import sys

    paths = []
    for k in range(4):
        manifest = {**sample_manifest("cadastral"), "project_name": f"府前街地块权籍调查（第 {k + 1} 家测绘单位）"}
        paths.append(write_package(tmp_path / f"same-land-{k}.zip", sample_cadastral(), manifest=manifest,
                                   quirks=Quirks()))
    env = {**os.environ, "CADASTRE_DB": db_url}
    processes = [subprocess.Popen([sys.executable, "-m", "cadastre", "ingest", "--json", str(p)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in paths]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode in (0, 1), err
        outcomes.append(json.loads(out))
    accepted = [o for o in outcomes if o["accepted"]]
    assert len(accepted) == 1, [(o["package_id"], o["accepted"]) for o in outcomes]
    winners = {p["zddm"] for p in accepted[0]["assigned"]["parcels"]}
    for outcome in outcomes:
        if outcome["accepted"]:
            continue
        errors = [f for f in outcome["findings"] if f["severity"] == "error"]
        assert {f["rule"] for f in errors} == {"TOP-002"}
        assert {re.search(r"现势宗地 (\w{19})", f["message"]).group(1) for f in errors} <= winners
        assert {f["feature"] for f in errors} == {str(n) for n in range(1, 7)}
    assert scalar(registry, "SELECT count(*) FROM parcel WHERE valid_to IS NULL") == 6
    assert scalar(registry, "SELECT count(*) FROM issued_code") == 12


def relabelled(stage):
    """The sample project with 幢号 as surveyors write them: 1号楼 / 1 / 01 for building 1 across ZRZ, H and C,
    2# for building 2, and a building called A座 with no number at all."""
    layers = {k: v.copy() for k, v in sample_project(stage).items()}
    forms = {"ZRZ": {"0001": "1号楼", "0002": "2#", "0003": "A座"}, "H": {"0001": "1", "0002": "２", "0003": "A座"},
             "C": {"0001": "01", "0002": "2栋", "0003": "A座"}}
    for layer, mapping in forms.items():
        layers[layer]["ZRZH"] = layers[layer]["ZRZH"].map(mapping)
    layers["ZRZ"]["JZWMC"] = None
    return layers


def test_building_numbers_as_surveyors_write_them(registry, tmp_path):
    registry.ingest(package(tmp_path, "cadastral"))
    presale = registry.ingest(package(tmp_path, "presale", relabelled("presale")))
    assert presale.status == "accepted", presale.report["findings"]
    said = [(f["layer"], f["feature"], f["message"]) for f in presale.report["findings"] if f["rule"] == "ATT-012"]
    assert ("ZRZ", None, "ZRZ 的自然幢号已规范为 4 位幢号：1号楼 → 0001、2# → 0002") in said
    assert ("H", None, "H 的自然幢号已规范为 4 位幢号：1 → 0001、２ → 0002") in said
    assert ("ZRZ", "A座", "自然幢号“A座”不是 0001–9999 的数字幢号：保留为该幢的名称，入库编码时取本宗地下一个空闲幢号") in said
    assert len(said) == 4  # C's forms too; the label said once, for the building
    units = presale.assigned["units"]
    assert {u["zrzh"] for u in units} == {"0001", "0002", "0003"}  # A座 got the next free 幢号
    with registry.engine.connect() as c:
        rows = c.execute(sa.text("SELECT zrzh, zrzh_label, jzwmc FROM building WHERE valid_to IS NULL "
                                 "ORDER BY zrzh")).all()
    assert [tuple(r) for r in rows] == [("0001", None, None), ("0002", None, None), ("0003", "A座", "A座")]
    # the as-built survey writes A座 again: the same building, its units keep their codes
    asbuilt = registry.ingest(package(tmp_path, "asbuilt", relabelled("asbuilt")))
    assert asbuilt.status == "accepted", asbuilt.report["findings"]
    assert not any(u["new"] for u in asbuilt.assigned["units"])
    assert {u["bdcdyh"] for u in asbuilt.assigned["units"]} == {u["bdcdyh"] for u in units}
    assert scalar(registry, "SELECT count(*) FROM building WHERE valid_to IS NULL") == 3


def test_ingesting_a_package_already_received_processes_that_package(registry, tmp_path):
    """An upload waiting for the worker, ingested from the command line by its file: the same package is processed
    (once), not a traceback from comparing it with itself."""
    path = package(tmp_path, "cadastral")
    received = registry.receive(path)
    result = registry.ingest(path)
    assert result.status == "accepted" and result.package_id == received.package_id
    assert scalar(registry, "SELECT count(*) FROM package") == 1
