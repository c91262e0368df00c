"""Rules that compare a package with the registry, on SpatiaLite and PostGIS: TOP-002, TOP-007, ATT-008 (code
status) and TOP-003 against the registered parcel a building package stands on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import shapely
import sqlalchemy as sa
from shapely import affinity

from cadastre.samples import Quirks, sample_cadastral, sample_manifest, sample_project, write_package
from cadastre.store.spatial import geometry_param, to_wkb
from cadastre.testing import assert_findings

CODES = [f"141031001002GB{n:05d}" for n in range(1, 7)]


def register(engine, parcels, codes, retired=()):
    """Put parcels into the registry as the ingest will (test helper: one package, current rows, issued codes)."""
    now = datetime.now(UTC)
    ts = sa.bindparam("now", type_=sa.DateTime(timezone=True))
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO original (sha256, filename, size, path, received_at) "
                          "VALUES ('r', 'r.zip', 1, 'r', :now)").bindparams(ts), {"now": now})
        c.execute(sa.text("INSERT INTO package (id, sha256, status, received_at) VALUES (1, 'r', 'accepted', :now)")
                  .bindparams(ts), {"now": now})
        for code, wkb in zip(codes, to_wkb(parcels.geometry.values), strict=True):
            c.execute(sa.text(f"INSERT INTO parcel (zddm, zdtzm, geom, package_id, valid_from, valid_to) VALUES "
                              f"(:code, 'GB', {geometry_param(multi=True)}, 1, :now, :to)").bindparams(ts),
                      {"code": code, "wkb": wkb, "srid": 4525, "now": now, "to": now if code in retired else None})
            c.execute(sa.text("INSERT INTO issued_code (code, kind, issued_at, package_id, retired_at) "
                              "VALUES (:code, 'parcel', :now, 1, :to)").bindparams(ts),
                      {"code": code, "now": now, "to": now if code in retired else None})


def check(tmp_path, registry, layers, stage, manifest=None):
    path = write_package(tmp_path / f"{stage}.zip", layers, manifest=manifest or sample_manifest(stage),
                         quirks=Quirks())
    return registry.check(path)


def only(report, rule_id):
    return report.findings[report.findings["rule"] == rule_id]


def test_clean_cadastral_package_against_the_registry(tmp_path, registry):
    report = check(tmp_path, registry, sample_cadastral(), "cadastral")
    assert len(report.findings) == 0 and report.not_run == []


def test_top002_overlap_with_registered_parcels(tmp_path, registry):
    block = sample_cadastral()
    register(registry.engine, block["ZDJBXX"], CODES)
    layers = {k: v.copy() for k, v in block.items()}
    layers["ZDJBXX"]["ZDDM"] = CODES  # a re-survey of the registered parcels replaces them: no overlap
    layers["ZDJBXX"].loc[1, "ZDDM"] = None  # …but parcel 2 comes as new, over registered parcel 2
    report = check(tmp_path, registry, layers, "cadastral")
    assert_findings(only(report, "TOP-002"), [("TOP-002", "2")])
    finding = only(report, "TOP-002").iloc[0]
    assert CODES[1] in finding["message"] and finding["measured"] == pytest.approx(18000.0)


def test_top007_crossing_subdistricts_and_outside_the_county(tmp_path, registry):
    zoning = registry.zoning()
    a, b = zoning.subdistricts.geometry.iloc[0], zoning.subdistricts.geometry.iloc[1]
    edge = shapely.intersection(a.boundary, b.boundary)
    x, y = edge.interpolate(0.5, normalized=True).coords[0]
    layers = {k: v.copy() for k, v in sample_cadastral().items()}
    template = layers["ZDJBXX"].iloc[0].to_dict()
    minx, miny, _, _ = zoning.districts.total_bounds
    layers["ZDJBXX"].loc[6] = {**template, "BSM": "7", "ZDMJ": 2000.0, "geometry": shapely.box(x - 20, y - 25,
                                                                                               x + 20, y + 25)}
    layers["ZDJBXX"].loc[7] = {**template, "BSM": "8", "ZDMJ": 400.0,
                               "geometry": shapely.box(minx - 30, miny + 5000, minx - 10, miny + 5020)}
    report = check(tmp_path, registry, layers, "cadastral")
    found = only(report, "TOP-007").set_index("feature")
    assert set(found.index) == {"7", "8"}
    assert "跨越地籍子区 141031001001、141031001002" in found.loc["7", "message"]
    assert "400.00 ㎡ 位于本县地籍区划之外" in found.loc["8", "message"]


def test_att008_codes_that_do_not_exist_or_are_retired(tmp_path, registry):
    block = sample_cadastral()
    register(registry.engine, block["ZDJBXX"], CODES, retired={CODES[2]})
    layers = {k: v.copy() for k, v in block.items()}
    layers["ZDJBXX"]["ZDDM"] = CODES
    layers["ZDJBXX"].loc[1, "ZDDM"] = "141031001002GB00099"
    report = check(tmp_path, registry, layers, "cadastral")
    found = only(report, "ATT-008").set_index("feature")
    assert set(found.index) == {"2", "3"}
    assert "在登记库中不存在" in found.loc["2", "message"] and "已注销" in found.loc["3", "message"]


def test_top003_uses_the_registered_parcel(tmp_path, registry):
    block = sample_cadastral()
    register(registry.engine, block["ZDJBXX"], CODES)
    layers = {k: v.copy() for k, v in sample_project("presale").items()}
    assert len(check(tmp_path, registry, layers, "presale").findings) == 0  # found by containment
    layers["ZRZ"].loc[2, "geometry"] = affinity.translate(layers["ZRZ"].geometry.iat[2], yoff=-25)
    manifest = {**sample_manifest("presale"), "parcel_code": CODES[0]}
    report = check(tmp_path, registry, layers, "presale", manifest)
    assert_findings(only(report, "TOP-003"), [("TOP-003", "Z3")])


def test_rechecking_an_accepted_package_does_not_overlap_itself(tmp_path, registry):
    path = write_package(tmp_path / "c.zip", sample_cadastral(), manifest=sample_manifest("cadastral"),
                         quirks=Quirks())
    assert registry.ingest(path).status == "accepted"
    report = registry.check(path)
    assert len(only(report, "TOP-002")) == 0
    moved = {k: v.copy() for k, v in sample_cadastral().items()}
    moved["ZDJBXX"]["BSM"] = moved["ZDJBXX"]["BSM"] + "0"  # another submission over the same land
    other = check(tmp_path, registry, moved, "cadastral")
    assert len(only(other, "TOP-002")) == 6
