"""Creating and migrating the registry on both engines."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from cadastre.core.errors import ConfigError, DatabaseError
from cadastre.registry import init_database, registry_info
from cadastre.store.engine import create_engine, write_transaction
from cadastre.store.models import GEOMETRY_COLUMNS, Base
from cadastre.store.schema import _alembic_config, head_revision

SURVEY_TABLES = {"parcel", "boundary_point", "boundary_line", "building", "floor", "unit"}


def test_init_creates_every_table_and_column_of_the_models(engine):
    inspector = sa.inspect(engine)
    for table in Base.metadata.sorted_tables:
        assert inspector.has_table(table.name), table.name
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert set(table.c.keys()) <= columns, (table.name, set(table.c.keys()) - columns)
    info = registry_info(engine)
    assert info.revision == head_revision() and info.up_to_date
    assert info.counties == ("141031",) and info.storage_srid == 4525


def test_geometry_columns_have_storage_srid_and_spatial_index(engine):
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            rows = c.execute(sa.text("SELECT f_table_name, srid, spatial_index_enabled FROM geometry_columns"))
            found = {r[0]: (r[1], r[2]) for r in rows}
            assert found == {t: (4525, 1) for t in GEOMETRY_COLUMNS}
        else:
            rows = c.execute(sa.text("SELECT f_table_name, srid, type FROM geometry_columns"))
            found = {r[0]: (r[1], r[2]) for r in rows}
            views = {f"{t}_current": (4525, "MULTIPOLYGON") for t in ("parcel", "building", "unit")}  # migration 0011
            assert found == {t: (4525, kind) for t, (kind, _) in GEOMETRY_COLUMNS.items()} | views
            indexes = dict(c.execute(sa.text(
                "SELECT tablename, substring(indexdef FROM 'USING (\\w+) \\(geom\\)') FROM pg_indexes "
                "WHERE indexdef LIKE '%(geom)%'")).all())
            # bulk-loaded survey tables use SP-GiST (migration 0002), zoning GiST
            assert indexes == {t: ("spgist" if t in SURVEY_TABLES else "gist") for t in GEOMETRY_COLUMNS}


def test_init_is_idempotent_and_adds_counties_of_the_same_zone(db_url):
    engine = create_engine(db_url)
    first = init_database(engine, ["141031"])
    again = init_database(engine, ["141031"])
    assert first.counties == again.counties == ("141031",)
    assert init_database(engine, ["141030"]).counties == ("141031", "141030")
    assert init_database(engine).counties == ("141031", "141030")
    with pytest.raises(ConfigError, match="存储坐标系"):
        init_database(engine, ["231081"])  # zone 44: another storage CRS
    engine.dispose()


def test_new_registry_needs_a_county_and_counties_must_share_a_zone(db_url):
    engine = create_engine(db_url)
    with pytest.raises(ConfigError, match="--county"):
        init_database(engine)
    with pytest.raises(ConfigError, match="同一存储坐标系"):
        init_database(engine, ["231002", "231081"])
    with pytest.raises(DatabaseError, match="尚未初始化"):
        registry_info(engine)
    engine.dispose()


def test_downgrade_and_upgrade_again(engine):
    srid = registry_info(engine).storage_srid
    with write_transaction(engine) as c:
        command.downgrade(_alembic_config(c, srid), "base")
    assert not sa.inspect(engine).has_table("parcel")
    with write_transaction(engine) as c:
        command.upgrade(_alembic_config(c, srid), "head")
    assert sa.inspect(engine).has_table("parcel")


def test_current_rows_are_unique_per_key_but_history_is_kept(engine):
    insert = sa.text(
        "INSERT INTO original (sha256, filename, size, path, received_at) VALUES ('a', 'x', 1, 'x', :t);"
    )
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with engine.begin() as c:
        c.execute(insert, {"t": now})
        c.execute(sa.text("INSERT INTO package (id, sha256, status, received_at) VALUES (1, 'a', 'accepted', :t)"),
                  {"t": now})
    row = ("INSERT INTO parcel (zddm, zdtzm, geom, package_id, valid_from, valid_to) VALUES "
           "('141031001002GB00001', 'GB', ST_Multi(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4525)), 1, :t, :to)")
    with engine.begin() as c:
        c.execute(sa.text(row), {"t": now, "to": now})  # an ended version
        c.execute(sa.text(row), {"t": now, "to": None})  # the current one
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as c:
            c.execute(sa.text(row), {"t": now, "to": None})  # a second current row for the same code


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert c.exec_driver_sql("SELECT spatialite_version()").scalar()
    engine.dispose()


def test_sqlite_binds_nulls_and_blobs_as_they_are(tmp_path):
    """The identity adapters (``store.engine._bind_as_they_are``) skip the driver's failing adaptation lookup and
    bind the same values: NULL, blob from bytes and from memoryview, text and numbers untouched."""
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.connect() as c:
        c.exec_driver_sql("CREATE TABLE t (a, b, c, d, e)")
        c.exec_driver_sql("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [(None, b"\x01\x00", memoryview(b"wkb"), "文", 1.5)])
        row = c.exec_driver_sql("SELECT typeof(a), typeof(b), typeof(c), typeof(d), typeof(e), b, c FROM t").one()
    engine.dispose()
    assert tuple(row) == ("null", "blob", "blob", "text", "real", b"\x01\x00", b"wkb")


def test_unsupported_url_and_missing_file_are_clear(tmp_path):
    with pytest.raises(DatabaseError, match="不支持"):
        create_engine("mysql://x/y")
    with pytest.raises(DatabaseError, match="不存在"):
        create_engine(f"sqlite:///{tmp_path / 'absent.sqlite'}", must_exist=True)
    assert not (tmp_path / "absent.sqlite").exists()


def test_write_transactions_take_the_sqlite_write_lock_up_front(tmp_path):
    import sqlean

    url = f"sqlite:///{tmp_path / 'lock.sqlite'}"
    engine = create_engine(url)
    init_database(engine, ["141031"])
    with write_transaction(engine) as c:
        c.execute(sa.text("SELECT 1"))  # no write yet: only BEGIN IMMEDIATE holds the lock
        other = sqlean.connect(str(tmp_path / "lock.sqlite"), timeout=0, isolation_level=None)
        with pytest.raises(sqlean.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    engine.dispose()


def test_point_lookups_read_in_autocommit_on_postgresql_and_leave_no_transaction(engine):
    from cadastre.store.engine import lookup_engine

    lookups = lookup_engine(engine)
    if engine.dialect.name == "sqlite":
        assert lookups is engine
        return
    with lookups.connect() as connection:
        assert connection.connection.driver_connection.autocommit
        from psycopg.pq import TransactionStatus

        connection.execute(sa.text("SELECT 1"))
        assert connection.connection.driver_connection.info.transaction_status == TransactionStatus.IDLE
        # a statement that fails does not poison the connection for the next lookup
        with pytest.raises(sa.exc.ProgrammingError):
            connection.execute(sa.text("SELECT no_such_column FROM parcel"))
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1
    with engine.connect() as connection:  # the pool's connections go back to transactions for everyone else
        assert not connection.connection.driver_connection.autocommit


def test_work_meanwhile_runs_beside_the_block_inside_the_transaction(engine):
    # store.engine.meanwhile: statements run on a thread of their own while the block computes, in the same
    # transaction; the block's end waits for them and raises their error; the transaction ends only after them
    import threading
    import time

    from cadastre.core.errors import CadastreError
    from cadastre.store.engine import meanwhile

    insert = sa.text("INSERT INTO code_counter (prefix, last_value, updated_at) VALUES (:p, 1, '2026-11-29')")
    count = sa.text("SELECT count(*) FROM code_counter WHERE prefix LIKE 'meanwhile%'")
    computed, threads = threading.Event(), []

    def work(c):  # waits for the block: were they run one after the other, it would wait 10 s in vain
        threads.append(threading.current_thread().name)
        assert computed.wait(10)
        c.execute(insert, {"p": "meanwhile-1"})

    with write_transaction(engine) as c:
        with meanwhile(c, work):
            computed.set()
        assert c.execute(count).scalar() == 1 and threads == ["cadastre-meanwhile"]
    with pytest.raises((CadastreError, sa.exc.IntegrityError)), write_transaction(engine) as c:
        c.execute(insert, {"p": "meanwhile-2"})
        with meanwhile(c, lambda c: c.execute(insert, {"p": "meanwhile-1"})):  # a key taken: its error, here
            pass
    finished = []

    def slow(c):
        time.sleep(0.3)  # still working when the block fails
        c.execute(insert, {"p": "meanwhile-3"})
        finished.append(True)

    with pytest.raises(ZeroDivisionError), write_transaction(engine) as c:
        with meanwhile(c, slow):
            1 / 0  # the block's own error: the work ends first, then the transaction rolls back with it
    assert finished == [True]
    with engine.connect() as c:
        assert c.execute(count).scalar() == 1  # the first only: both failed transactions left nothing
