"""The bulk write path (``insert_rows``): values survive the trip exactly on both engines, ids are the rows', the
spatial index is kept, and a bad geometry leaves nothing behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
import sqlalchemy as sa

from cadastre.core.errors import AllocationError, DatabaseError
from cadastre.store import bulk, registry_rows
from cadastre.store.engine import POOL_SIZE_ASYNC, async_lookup_engine, lookup_engine, write_transaction
from cadastre.store.registry_rows import insert_rows
from cadastre.store.spatial import (
    envelope,
    index_filter,
    query_records,
    query_records_together,
    query_records_together_async,
)

SRID = 4525
NOW = datetime(2026, 11, 22, 9, 30, 15, 123456, tzinfo=UTC)
_TS = sa.DateTime(timezone=True)


@pytest.fixture
def parents(engine):
    """A package, a parcel and a building for units to hang on."""
    with write_transaction(engine) as c:
        for sql in ("INSERT INTO original (sha256, filename, size, path, received_at) VALUES ('b', 'b', 1, 'b', :n)",
                    "INSERT INTO package (id, sha256, status, received_at) VALUES (7, 'b', 'accepted', :n)",
                    "INSERT INTO parcel (id, zddm, zdtzm, geom, package_id, valid_from) VALUES (1, "
                    "'141031001002GB00001', 'GB', ST_Multi(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4525)), 7, :n)",
                    "INSERT INTO building (id, parcel_id, zddm, zrzh, stage, geom, package_id, valid_from) VALUES "
                    "(1, 1, '141031001002GB00001', '0001', 'asbuilt', "
                    "ST_Multi(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4525)), 7, :n)"):
            c.execute(sa.text(sql).bindparams(sa.bindparam("n", type_=_TS)), {"n": NOW})
    return engine


def _units(n: int, x0: float = 37_480_000.0):
    i = np.arange(n)
    geoms = shapely.box(x0 + i * 20.0, 4_060_000.0, x0 + i * 20.0 + 10, 4_060_010.0).astype(object)
    columns = {
        "bdcdyh": np.array([f"141031001002GB00001F0001{k + 1:04d}" for k in i], dtype=object),
        "building_id": np.ones(n, dtype=np.int64),
        "stage": np.full(n, "asbuilt", dtype=object),
        "sjc": pd.array((i % 5) + 1, dtype="Int64").to_numpy(object),
        "shbw": np.array([f"{k}室" for k in i], dtype=object),
        "scjzmj": (i * 1.25 + 0.1).astype(float),
    }
    return columns, geoms


def test_awkward_values_come_back_exactly(parents):
    columns, geoms = _units(5)
    columns["myc"] = np.array(["一层", "", None, pd.NA, "地下一层"], dtype=object)  # "" stays "", missing → NULL
    columns["hh"] = np.array([np.int64(3), None, pd.NA, 4, np.nan], dtype=object)
    columns["ycjzmj"] = np.array([np.float64(89.123456789), np.nan, None, 0.0, -1.5], dtype=object)
    geoms[2] = None
    geoms[3] = shapely.MultiPolygon([geoms[3], shapely.box(0, 0, 1, 1)])
    with write_transaction(parents) as c:
        ids = insert_rows(c, "unit", columns, geoms, SRID, package_id=7, now=NOW)
    with parents.connect() as c:
        rows = c.execute(sa.text("SELECT id, bdcdyh, myc, hh, ycjzmj, sjc, shbw, scjzmj, package_id, valid_from, "
                                 "ST_AsBinary(geom) AS wkb FROM unit ORDER BY id")).all()
        stamps = c.execute(sa.text("SELECT DISTINCT valid_from FROM unit").columns(
            sa.column("valid_from", _TS))).scalars().all()
    assert [r[0] for r in rows] == ids and len(set(ids)) == 5
    assert [r[2] for r in rows] == ["一层", "", None, None, "地下一层"]
    assert [r[3] for r in rows] == [3, None, None, 4, None]
    assert [r[4] for r in rows] == [89.123456789, None, None, 0.0, -1.5]
    assert [r[5] for r in rows] == [1, 2, 3, 4, 5]
    assert [r[6] for r in rows] == ["0室", "1室", "2室", "3室", "4室"]
    assert [r[7] for r in rows] == [0.1, 1.35, 2.6, 3.85, 5.1]
    assert {r[8] for r in rows} == {7}
    assert [s.replace(tzinfo=s.tzinfo or UTC) for s in stamps] == [NOW]  # SQLite keeps UTC without the zone
    stored = [None if r[10] is None else shapely.from_wkb(bytes(r[10])) for r in rows]
    assert stored[2] is None
    assert all(shapely.get_type_id(g) == shapely.GeometryType.MULTIPOLYGON for g in stored if g is not None)
    assert shapely.equals(stored[0], geoms[0]) and shapely.equals(stored[3], geoms[3])


def test_ids_follow_on_and_rows_are_found_through_the_spatial_index(parents, monkeypatch):
    monkeypatch.setattr(bulk, "_COPY_CHUNK", 7)  # several COPY chunks on PostGIS
    first_columns, first_geoms = _units(10)
    second_columns, second_geoms = _units(25, x0=37_500_000.0)
    second_columns["bdcdyh"] = np.array([f"141031001002GB00001F0002{k + 1:04d}" for k in range(25)], dtype=object)
    with write_transaction(parents) as c:
        first = insert_rows(c, "unit", first_columns, first_geoms, SRID, package_id=7, now=NOW)
    with write_transaction(parents) as c:
        second = insert_rows(c, "unit", second_columns, second_geoms, SRID, package_id=7, now=NOW)
    assert second[0] > first[-1] and second == list(range(second[0], second[0] + 25))
    with parents.connect() as c:  # the first five of the second batch, found through the index alone
        where = index_filter(c, "unit", "u", envelope(c))
        found = c.execute(sa.text(f"SELECT u.id FROM unit u WHERE {where} ORDER BY u.id"),
                          {"minx": 37_500_000.0, "miny": 4_059_000.0, "maxx": 37_500_095.0, "maxy": 4_061_000.0,
                           "srid": SRID}).scalars().all()
        assert found == second[:5]
        if c.dialect.name == "postgresql":  # the SP-GiST index (migration 0002) answers the search
            c.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(r[0] for r in c.execute(sa.text(f"EXPLAIN SELECT u.id FROM unit u WHERE {where}"), {
                "minx": 0, "miny": 0, "maxx": 1, "maxy": 1, "srid": SRID}))
            assert "ix_unit_geom" in plan, plan
        if c.dialect.name == "sqlite":  # SpatiaLite's own triggers are back and its index is consistent
            triggers = c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                                         "tbl_name = 'unit'").scalars().all()
            assert {"ggi_unit_geom", "tmi_unit_geom", "gii_unit_geom"} <= set(triggers)
            assert c.exec_driver_sql("SELECT CheckSpatialIndex('unit', 'geom')").scalar() == 1


def test_a_geometry_of_the_wrong_kind_is_refused_and_nothing_stays(parents):
    columns, geoms = _units(3)
    geoms[1] = shapely.Point(37_480_000, 4_060_000)
    with pytest.raises((DatabaseError, sa.exc.DBAPIError)):
        with write_transaction(parents) as c:
            insert_rows(c, "unit", columns, geoms, SRID, package_id=7, now=NOW)
    with parents.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM unit")).scalar() == 0
        if c.dialect.name == "sqlite":
            assert c.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
                                     "name = 'gii_unit_geom'").scalar() == 1


def test_an_empty_polygon_is_refused_as_before_it_was_written_as_a_collection(parents):
    columns, geoms = _units(2)
    geoms[1] = shapely.Polygon()
    with pytest.raises(DatabaseError, match="MULTIPOLYGON"):
        with write_transaction(parents) as c:
            insert_rows(c, "unit", columns, geoms, SRID, package_id=7, now=NOW)


def test_single_parts_are_written_as_the_one_part_collections_shapely_makes():
    from cadastre.store.spatial import to_wkb

    square = shapely.box(37_480_000.0, 4_060_000.0, 37_480_010.0, 4_060_008.0)
    geoms = np.array([square, shapely.MultiPolygon([square, shapely.box(0, 0, 1, 1)]), None,
                      shapely.Polygon(square.exterior.coords, [[(37_480_001, 4_060_001), (37_480_002, 4_060_001),
                                                               (37_480_002, 4_060_002)]]),
                      shapely.LineString([(0, 0), (1, 1)]), shapely.Polygon(), shapely.Point(1, 2),
                      shapely.Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5)])], dtype=object)
    multi = geoms.copy()  # each non-empty polygon and line as a one-part collection, made by shapely
    multi[[0, 3]] = shapely.multipolygons(geoms[[0, 3]][:, np.newaxis])
    multi[4] = shapely.multilinestrings([geoms[4]])
    multi[7] = shapely.multipolygons([geoms[7]])
    expected = [None if g is None else shapely.to_wkb(g, output_dimension=2, byte_order=1) for g in multi]
    assert to_wkb(geoms, multi=True) == expected
    assert to_wkb(geoms)[0] == shapely.to_wkb(square, byte_order=1)  # as it is without multi
    # extended WKB with the SRID (PostGIS's COPY): the collection carries it, its part does not
    extended = [None if g is None else shapely.to_wkb(shapely.set_srid(g, SRID), output_dimension=2, byte_order=1,
                                                      include_srid=True) for g in multi]
    assert to_wkb(geoms, multi=True, srid=SRID) == extended
    assert to_wkb(geoms, srid=SRID) == [None if g is None else shapely.to_wkb(
        shapely.set_srid(g, SRID), output_dimension=2, byte_order=1, include_srid=True) for g in geoms]


def test_ids_are_the_sequences_values_when_they_are_not_one_run(parents):
    # concurrent writers interleave their values from the sequence: a sequence stepping by 3 gives the same kind of
    # broken run, and every value it gave must be the ids (PostgreSQL; SQLite's ids come under the write lock)
    if parents.dialect.name != "postgresql":
        pytest.skip("PostgreSQL sequences only")
    with write_transaction(parents) as c:
        c.exec_driver_sql("ALTER SEQUENCE unit_id_seq INCREMENT BY 3")
    columns, geoms = _units(6)
    with write_transaction(parents) as c:
        ids = insert_rows(c, "unit", columns, geoms, SRID, package_id=7, now=NOW)
    assert np.all(np.diff(ids) == 3)
    with parents.connect() as c:
        stored = c.execute(sa.text("SELECT id, bdcdyh FROM unit ORDER BY id")).all()
    assert [r.id for r in stored] == ids and [r.bdcdyh for r in stored] == list(columns["bdcdyh"])


def test_rows_are_ended_and_read_by_an_id_set_larger_than_sqlites_parameter_limit(parents):
    # one statement with one parameter for any number of ids (store.spatial.id_set): 40 000 is past SQLite's
    # 32 766 parameters, and only the named current rows end
    n = 40_000
    columns, geoms = _units(n)
    columns["bdcdyh"] = np.array([f"141031001002GB00001F{k:08d}" for k in range(n)], dtype=object)
    with write_transaction(parents) as c:
        ids = insert_rows(c, "unit", columns, geoms, SRID, package_id=7, now=NOW)
        assert len(registry_rows.current_units(c, [1])) == n
    with write_transaction(parents) as c:
        registry_rows.end_rows(c, "unit", np.asarray(ids[1:]), "replaced", NOW)
        registry_rows.end_rows(c, "unit", ids[1:3], "again", NOW)  # already ended: left as they were
    with parents.connect() as c:
        ended = c.execute(sa.text("SELECT end_reason, count(*) FROM unit WHERE valid_to IS NOT NULL "
                                  "GROUP BY end_reason")).all()
        current = registry_rows.current_units(c, [1])
    assert [tuple(r) for r in ended] == [("replaced", n - 1)]
    assert current["id"].tolist() == [ids[0]] and current["bdcdyh"].tolist() == [columns["bdcdyh"][0]]


def test_floors_of_replaced_buildings_end_in_one_statement_with_spatialites_triggers_kept(parents):
    # a project's as-built survey ends the floors of its 200 buildings: one statement with an id set, SpatiaLite's
    # per-row update stamp suspended and written once, its trigger back afterwards
    with write_transaction(parents) as c:
        c.execute(sa.text("INSERT INTO building (id, parcel_id, zddm, zrzh, stage, geom, package_id, valid_from) "
                          "SELECT 2, parcel_id, zddm, '0002', stage, geom, package_id, valid_from FROM building"))
        insert_rows(c, "floor", {"sjc": np.array([1, 2, 3, 1], dtype=object), "building_id": np.array([1, 1, 1, 2])},
                    None, SRID, package_id=7, now=NOW)
    with write_transaction(parents) as c:
        registry_rows.end_floors(c, [1, *range(1000, 1500)], "实测成果替代此前成果", NOW)
        registry_rows.end_floors(c, [], "nothing", NOW)
    with parents.connect() as c:
        rows = c.execute(sa.text("SELECT building_id, end_reason FROM floor ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "实测成果替代此前成果")] * 3 + [(2, None)]
        if c.dialect.name == "sqlite":
            assert c.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
                                     "name = 'tmu_floor_geom'").scalar() == 1
            assert c.exec_driver_sql("SELECT last_update FROM geometry_columns_time "
                                     "WHERE f_table_name = 'floor'").scalar() is not None


def test_codes_issued_retired_and_linked_in_bulk_and_never_twice(parents, monkeypatch):
    # issued codes and lineage go through store.bulk (COPY on PostGIS, in chunks; executemany on SQLite)
    monkeypatch.setattr(bulk, "_COPY_CHUNK", 4)
    codes = [f"141031001002GB00001F0001{k:04d}" for k in range(1, 11)]
    with write_transaction(parents) as c:
        registry_rows.issue_codes(c, codes, "unit", 7, NOW)
        registry_rows.retire_codes(c, [("141031001002GB00001W00000000", codes, "建成房屋"),
                                       (codes[0], [], "注销")], 7, NOW)
    with pytest.raises(AllocationError, match="已发放过"), write_transaction(parents) as c:
        registry_rows.issue_codes(c, [codes[3]], "unit", 7, NOW)
    with parents.connect() as c:
        issued = c.execute(sa.text("SELECT code, kind, package_id, issued_at FROM issued_code ORDER BY code")
                           .columns(issued_at=_TS)).all()
        lineage = c.execute(sa.text("SELECT old_code, new_code, reason, package_id, created_at FROM code_lineage "
                                    "ORDER BY id").columns(created_at=_TS)).all()
    assert [r.code for r in issued] == codes and {(r.kind, r.package_id) for r in issued} == {("unit", 7)}
    assert {r.issued_at.replace(tzinfo=r.issued_at.tzinfo or UTC) for r in issued} == {NOW}
    assert [(r.old_code, r.new_code, r.reason) for r in lineage] == (
        [("141031001002GB00001W00000000", code, "建成房屋") for code in codes] + [(codes[0], None, "注销")])
    assert {r.created_at.replace(tzinfo=r.created_at.tzinfo or UTC) for r in lineage} == {NOW}


def test_queries_sent_together_answer_as_one_by_one_and_a_failing_one_leaves_the_connection_usable(parents):
    # store.spatial.query_records_together: PostgreSQL's pipeline (one round trip), SQLite one after the other
    queries = [("SELECT id, zddm FROM parcel WHERE zddm = :z", {"z": "141031001002GB00001"}),
               ("SELECT zrzh, stage FROM building WHERE parcel_id = :p ORDER BY zrzh", {"p": 1}),
               ("SELECT id FROM parcel WHERE zddm = :z", {"z": "none"})]
    with lookup_engine(parents).connect() as c:
        together = query_records_together(c, *queries)
        assert together == [query_records(c, sql, **params) for sql, params in queries]
        assert together == [[{"id": 1, "zddm": "141031001002GB00001"}], [{"zrzh": "0001", "stage": "asbuilt"}], []]
        with pytest.raises(c.dialect.loaded_dbapi.Error, match="no_such_column"):
            query_records_together(c, queries[0], ("SELECT no_such_column FROM parcel", {}))
        assert query_records_together(c, queries[1]) == [together[1]]


def test_queries_sent_together_on_an_event_loop_answer_as_the_blocking_ones_and_keep_their_connections(parents):
    # store.engine.async_lookup_engine: PostgreSQL's lookups served on the loop; SQLite has none (in-process)
    lookups = async_lookup_engine(parents)
    if parents.dialect.name == "sqlite":
        assert lookups is None
        return
    queries = [("SELECT id, zddm FROM parcel WHERE zddm = :z", {"z": "141031001002GB00001"}),
               ("SELECT zrzh, stage FROM building WHERE parcel_id = :p ORDER BY zrzh", {"p": 1})]
    with lookup_engine(parents).connect() as c:
        blocking = query_records_together(c, *queries)
    opened = []
    sa.event.listen(lookups.sync_engine, "connect", lambda *_: opened.append(1))

    async def one():
        async with lookups.connect() as c:
            return await query_records_together_async(c, *queries)

    async def run():
        try:
            async with lookups.connect() as c:
                with pytest.raises(psycopg.errors.UndefinedColumn, match="no_such_column"):
                    await query_records_together_async(c, queries[0], ("SELECT no_such_column FROM parcel", {}))
                again = await query_records_together_async(c, queries[1])  # the same connection, still usable
            first = await asyncio.gather(*(one() for _ in range(POOL_SIZE_ASYNC)))
            before = len(opened)
            second = await asyncio.gather(*(one() for _ in range(POOL_SIZE_ASYNC)))
            return again, first + second, len(opened) - before
        finally:
            await lookups.dispose()

    again, answers, reopened = asyncio.run(run())
    assert again == [blocking[1]] and all(a == blocking for a in answers)
    assert reopened == 0  # as many in flight as the pool keeps: none opened and closed per request
