"""The registry's layers as GeoDataFrames for analysts: current or as of a time, by sub-district and bbox."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import cadastre
from cadastre.core.auth import Principal, Role
from cadastre.core.errors import InputError, NotFoundError
from cadastre.samples import SECOND_SURVEYOR, write_second_survey


@pytest.fixture
def history(registry, sample_files):
    """The sample county ingested stage by stage, with the moment between pre-sale and as-built."""
    registry.ingest(sample_files["cadastral"])
    registry.ingest(sample_files["presale"])
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    registry.ingest(sample_files["asbuilt"])
    return registry, between


def test_current_layers_are_geodataframes_in_the_storage_crs(history):
    registry, _ = history
    parcels, buildings, units = registry.parcels(), registry.buildings(), registry.units()
    assert len(parcels) == 6 and parcels.crs.to_epsg() == 4525 and parcels.geometry.is_valid.all()
    assert {"zddm", "zl", "yt", "qlr", "valid_from"} <= set(parcels.columns)
    assert parcels["valid_to"].isna().all() and parcels["zddm"].is_monotonic_increasing
    assert len(buildings) == 3 and set(units["stage"]) == {"asbuilt"} and len(units) == 84
    assert (units.geometry.area > 0).all()


def test_as_of_reads_the_history(history):
    registry, between = history
    before = registry.units(as_of=between)
    assert len(before) == 84 and set(before["stage"]) == {"presale"}
    assert len(registry.units(as_of="2000-01-01")) == 0
    assert len(registry.units(as_of=between, stage="presale")) == 84
    assert len(registry.units(as_of=between, stage="asbuilt")) == 0 and len(registry.buildings(stage="asbuilt")) == 3
    with pytest.raises(InputError, match="测绘阶段"):
        registry.units(stage="final")
    assert len(registry.buildings(as_of=between.isoformat())) == 3
    with pytest.raises(InputError, match="ISO 8601"):
        registry.units(as_of="yesterday")


def test_filters_by_subdistrict_and_bbox(history):
    registry, _ = history
    parcels = registry.parcels()
    sub = parcels["zddm"].iat[0][:12]
    assert len(registry.parcels(subdistrict=sub)) == len(parcels[parcels["zddm"].str.startswith(sub)])
    assert len(registry.parcels(subdistrict="141031004003")) == 0
    assert len(registry.units(subdistrict=sub)) == 84
    first = parcels.geometry.iat[0]
    inside = registry.parcels(bbox=first.buffer(-1).bounds)
    assert parcels["zddm"].iat[0] in set(inside["zddm"]) and len(inside) < len(parcels)
    with pytest.raises(InputError, match="地籍子区"):
        registry.parcels(subdistrict="14103100100")


def test_owner_names_are_masked_for_an_analyst_viewer(history):
    registry, _ = history
    full = registry.parcels()
    masked = registry.parcels(viewer=Principal("分析员", Role.ANALYST))
    assert (masked["qlr"] == full["qlr"].map(lambda n: n[0] + "*" * min(max(len(n) - 1, 1), 3))).all()


def test_lookups_awaited_on_an_event_loop_answer_as_the_blocking_ones(history):
    # PostgreSQL: psycopg's AsyncConnection, a pool per loop; SQLite: the blocking call in a worker thread
    registry, _ = history
    registrar = Principal("登记员甲", Role.REGISTRAR)  # reads owners' names: each read is logged
    zddm, bdcdyh = registry.parcels()["zddm"].iat[0], registry.units()["bdcdyh"].iat[0]

    async def lookups():
        try:  # more at once than the pool keeps connections
            answers = await asyncio.gather(registry.parcel_async(zddm, viewer=registrar),
                                           registry.unit_async(bdcdyh), *(registry.parcel_async(zddm) for _ in range(40)))
            if registry.info.dialect == "postgresql":  # the server ends every session: the pooled ones are dead
                with registry.engine.connect() as c:
                    c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            return *answers, await registry.parcel_async(zddm)  # on a new connection, without an error
        finally:
            await registry.close_async()

    card, unit, *cards = asyncio.run(lookups())
    assert registry.unit(bdcdyh) == unit and unit["current"]["bdcdyh"] == bdcdyh
    assert all(c == registry.parcel(zddm) for c in cards) and card["current"]["qlr"] == cards[0]["current"]["qlr"]
    assert list(registry.audit_log(action="owners.read", user="登记员甲")["target"]) == [zddm]

    async def unknown():
        try:
            return await registry.parcel_async("141031001002GB99999")
        finally:
            await registry.close_async()  # this loop's connections, before it ends

    with pytest.raises(NotFoundError):
        asyncio.run(unknown())


def test_open_and_check_are_the_library_entry_points(history, sample_files, db_url):
    with cadastre.open(db_url) as registry:
        assert len(registry.parcels()) == 6
    report = cadastre.check(sample_files["cadastral"])
    assert not report.refused and report.counts()["error"] == 0


def test_findings_across_packages_as_a_geodataframe(history, tmp_path):
    registry, between = history
    flawed = write_second_survey(tmp_path)["flawed"]
    assert registry.ingest(flawed).status == "rejected"
    findings = registry.findings()
    assert findings.crs.to_epsg() == registry.storage_srid
    assert {"rule", "severity", "message", "surveyor", "stage", "status", "received_at", "waived_by"} <= set(findings)
    assert findings["package_id"].nunique() == 2 and findings["received_at"].is_monotonic_increasing
    theirs = registry.findings(surveyor=SECOND_SURVEYOR)
    assert set(theirs["status"]) == {"rejected"} and {"GEO-001", "ATT-002"} <= set(theirs["rule"])
    assert set(registry.findings(severity="error", rule="GEO")["rule"]) == {"GEO-001"}
    planning = registry.findings(rule="PLN")
    assert len(planning) and planning["rule"].str.startswith("PLN-").all()
    assert set(registry.findings(rule="PLN-009")["rule"]) == {"PLN-009"}
    asbuilt = registry.findings(stage="asbuilt")
    assert set(asbuilt["stage"]) == {"asbuilt"} and len(asbuilt) < len(findings)
    assert len(registry.findings(status="rejected")) == len(theirs)
    assert registry.findings(since=between)["received_at"].min() >= between
    placed = findings[findings.geometry.notna()]
    assert len(placed) and registry.parcels().union_all().buffer(500).contains(placed.geometry).all()
    one = registry.findings(int(findings["package_id"].iat[0]))
    assert set(one["package_id"]) == {findings["package_id"].iat[0]}
    with pytest.raises(NotFoundError):
        registry.findings(9999)
    assert len(registry.findings(surveyor="没有这家测绘公司")) == 0


def test_package_summaries_count_findings_per_package(history):
    registry, _ = history
    summaries = registry.package_summaries()
    assert list(summaries["stage"]) == ["cadastral", "presale", "asbuilt"]
    assert set(summaries["status"]) == {"accepted"}
    findings = registry.findings()
    for row in summaries.itertuples():
        mine = findings[findings["package_id"] == row.id]
        assert row.errors == (mine["severity"] == "error").sum()
        assert row.warnings == (mine["severity"] == "warning").sum()
    assert len(registry.package_summaries(stage="presale")) == 1


def test_the_sample_registry_is_built_once_and_only_whole(tmp_path):
    from cadastre.samples import sample_registry

    path = tmp_path / "var" / "sample.sqlite"
    with sample_registry(path) as registry:
        summaries = registry.package_summaries()
        assert list(summaries["status"]) == ["accepted"] * 5 + ["rejected", "accepted"]
        assert summaries["surveyor"].nunique() == 2 and len(registry.parcels()) == 12
    assert not path.with_name(path.name + ".building").exists()
    with sample_registry(path) as again:  # opened, not rebuilt: the same packages received at the same times
        assert again.package_summaries()["received_at"].equals(summaries["received_at"])
