"""Database engines for the two supported back ends.

- **SQLite + SpatiaLite** (default, embedded): ``sqlite:///var/cadastre.sqlite``. The interpreter's own ``sqlite3``
  module is often built without extension loading (it is on this project's machines), so we hand SQLAlchemy the
  ``sqlean`` module (sqlean-py): a drop-in ``sqlite3`` whose SQLite can load extensions, into which we load Debian's
  ``mod_spatialite``. Every connection runs in WAL mode with a busy timeout; transactions are opened explicitly
  (``BEGIN``, or ``BEGIN IMMEDIATE`` for writes that allocate codes, see :func:`write_transaction`).
- **PostgreSQL + PostGIS** (production): ``postgresql://user:pass@host:port/db``, driven by psycopg 3.

The URL comes from the ``--db`` option, else the ``CADASTRE_DB`` environment variable, else the default file.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cadastre.core import jsontext
from cadastre.core.errors import DatabaseError, DatabaseUnavailable, InputError, StorageFull
from cadastre.store.checkpoint import Checkpointer

log = logging.getLogger("cadastre.store")

__all__ = ["DEFAULT_URL", "database_url", "create_engine", "lookup_engine", "async_lookup_engine", "write_transaction",
           "is_sqlite", "redact", "serialise", "driver_cursor", "driver_time", "checkpointer", "meanwhile"]

DEFAULT_URL = "sqlite:///var/cadastre.sqlite"
BUSY_TIMEOUT_MS = 30_000
#: connections an event loop's lookups keep open, and at most: on a loop every request in flight holds one, and
#: with SQLAlchemy's default five (and ten more opened and closed as needed) eight clients had one opened and closed
#: per request; further requests wait for one (the server's other pool holds 5 + 10 for the rest of its work)
POOL_SIZE_ASYNC = 10
SPATIALITE = os.environ.get("SPATIALITE_LIBRARY_PATH", "mod_spatialite")


def database_url(url: str | None = None) -> str:
    """The database URL in force: the argument, else ``CADASTRE_DB``, else :data:`DEFAULT_URL`."""
    return url or os.environ.get("CADASTRE_DB") or DEFAULT_URL


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def create_engine(url: str | None = None, *, must_exist: bool = False, **kwargs) -> Engine:
    """An engine for ``url`` (see :func:`database_url`) with the spatial extension loaded on every connection.

    ``must_exist`` refuses a SQLite file that is not there yet (instead of creating an empty one).
    """
    url = database_url(url)
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseError(f"数据库地址无法解析：{url}", f"cannot parse database URL {url!r}") from None
    backend = parsed.get_backend_name()
    # never put statement parameters into error messages: they carry owners' names (权利人), and a name read from
    # a log is a read the audit log never saw
    kwargs.setdefault("hide_parameters", True)
    # the JSON columns (reports, attributes) written and read by one encoder, the API's (core.jsontext)
    kwargs.setdefault("json_serializer", jsontext.dumps)
    kwargs.setdefault("json_deserializer", jsontext.loads)
    if backend == "sqlite":
        database = parsed.database or ""
        if must_exist and database not in ("", ":memory:") and not Path(database).exists():
            raise DatabaseError(f"数据库文件 {database} 不存在，请先运行 cadastre init --county 代码",
                                f"database file {database} does not exist: run cadastre init --county CODE")
        return _translated(_sqlite_engine(parsed, **kwargs))
    if backend in ("postgresql", "postgis"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return _translated(sa.create_engine(parsed, **{"pool_pre_ping": True, **kwargs}))
    raise DatabaseError(f"不支持的数据库类型 {backend}（支持 sqlite 与 postgresql）",
                        f"unsupported database {backend!r} (use sqlite or postgresql)")


_SQLITE_FULL, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_CANTOPEN = 13, 5, 6, 10, 14


def translate(error: BaseException) -> Exception | None:
    """The domain error for a driver error whose cause is not a bug of ours, or None.

    Connection-level failures (the server stopped or restarting, the network, too many connections, a SQLite file
    locked past the busy timeout or unreadable) are :class:`DatabaseUnavailable`; a full disk is
    :class:`StorageFull`; text PostgreSQL cannot store (a NUL character) is :class:`InputError`. Messages name
    neither the statement, its parameters nor server paths."""
    import psycopg

    if isinstance(error, psycopg.errors.DiskFull) or (isinstance(error, OSError) and error.errno == errno.ENOSPC):
        return StorageFull("存储空间已满，本次操作未保存任何内容；请管理员扩充磁盘后重试",
                           "no space left on the database's disk: nothing was saved")
    if isinstance(error, psycopg.DataError) and "NUL" in str(error):
        return InputError("输入中含有空字符（NUL，\\x00），已拒绝", "input contains a NUL character")
    if isinstance(error, psycopg.OperationalError):
        return DatabaseUnavailable("数据库暂时不可用，请稍后重试", f"database unavailable: {type(error).__name__}")
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        primary = code & 0xFF
        if primary == _SQLITE_FULL:
            return StorageFull("存储空间已满，本次操作未保存任何内容；请管理员扩充磁盘后重试",
                               "database or disk is full: nothing was saved")
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_CANTOPEN):
            return DatabaseUnavailable("数据库暂时不可用（正忙或无法读写），请稍后重试",
                                       f"database unavailable: {getattr(error, 'sqlite_errorname', code)}")
    return None


@contextmanager
def driver_cursor(connection: Connection) -> Iterator:
    """The driver's own cursor on ``connection`` (inside its transaction, if one was begun), closed afterwards, for
    the paths that skip SQLAlchemy's execution (bulk writes, COPY, point lookups). Its errors do not pass the
    engine's handler, so they are translated here the same way (:func:`translate`); others, such as a unique key's
    refusal, are raised as the driver raised them."""
    cursor = connection.connection.driver_connection.cursor()
    try:
        yield cursor
    except connection.dialect.loaded_dbapi.Error as e:
        raise translate(e) or e from None
    finally:
        cursor.close()


def driver_time(connection: Connection, when):
    """``when`` (an aware datetime) as the driver should receive it: PostgreSQL's takes the datetime, SQLite's the
    text SQLAlchemy writes for ``DateTime(timezone=True)``, so that it reads back the same."""
    if connection.dialect.name != "sqlite":
        return when
    return _TIMESTAMP.dialect_impl(connection.dialect).bind_processor(connection.dialect)(when)


_TIMESTAMP = sa.DateTime(timezone=True)


#: per database (its URL, password hidden), since when this process has found it unavailable: one outage is
#: logged once however many engines (the blocking one, the event loop's lookups) meet it
_DOWN_SINCE: dict[str, list[float]] = {}


def _translated(engine: Engine) -> Engine:
    """``engine`` raising domain errors for driver errors that are not bugs (:func:`translate`), and logging an
    outage once per process: when it starts and when a statement goes through again (not one traceback per
    request)."""
    down_since = _DOWN_SINCE.setdefault(redact(engine.url.render_as_string(False)), [])

    @event.listens_for(engine, "handle_error")
    def _on_error(context):
        if context.is_pre_ping:  # the pool is testing a connection: it reconnects or reports on its own
            return
        error = translate(context.original_exception)
        if error is None:
            return
        if isinstance(error, DatabaseUnavailable) and not down_since:
            down_since.append(time.monotonic())
            log.warning("database unavailable (%s): %s", redact(engine.url.render_as_string(False)),
                        type(context.original_exception).__name__)
        raise error from None

    @event.listens_for(engine, "after_cursor_execute")
    def _on_success(*_args):
        if down_since:  # a statement went through: the outage is over
            log.warning("database available again after %.0f s", time.monotonic() - down_since.pop())

    return engine


def _load_bundled_libraries() -> None:
    """Load the GEOS, PROJ and GDAL that the shapely, pyproj and pyogrio wheels bundle, before SpatiaLite's.

    SQLite opens an extension with ``RTLD_GLOBAL``: Debian's mod_spatialite puts the system GEOS and PROJ C++
    symbols in the process's global scope, and a wheel's own copy loaded after it binds to those (another
    version): shapely raising "WKB output dimension must be 2 or 3", pyproj freeing memory twice at exit. Loaded
    first, each wheel's libraries are bound to their own copies (tests/test_store.py runs the wrong order in a
    child process)."""
    import pyogrio  # noqa: F401  (its GDAL, with that GDAL's PROJ)
    import pyproj  # noqa: F401
    import shapely  # noqa: F401


def _bind_as_they_are(sqlean) -> None:
    """Register ``None``, ``bytes`` and ``memoryview`` as adapting to themselves.

    The ``sqlite3`` module binds int, float and str directly, but looks every other value up as a protocol
    adaptation that fails through two attribute errors before binding it as it is — a NULL or a WKB blob cost
    60 µs each, twenty times a float: most of the time of inserting rows with empty columns and a geometry (40 800
    units: 2 s). With an adapter registered the lookup succeeds at once; the value bound is the same."""
    for kind in (type(None), bytes, memoryview):
        sqlean.register_adapter(kind, _same)


def _same(value):
    return value


def _sqlite_engine(url: sa.URL, **kwargs) -> Engine:
    import sqlean  # see the module docstring: the stdlib sqlite3 here cannot load extensions

    _load_bundled_libraries()
    _bind_as_they_are(sqlean)

    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    checkpointed = not in_memory and not database.startswith("file:")  # a plain path (URI names keep SQLite's own)
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        module=sqlean,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin (so BEGIN IMMEDIATE is possible).
        dbapi_connection.isolation_level = None
        try:
            dbapi_connection.enable_load_extension(True)
            dbapi_connection.load_extension(SPATIALITE)
            dbapi_connection.enable_load_extension(False)
        except Exception as e:  # the driver raises its own OperationalError class
            raise DatabaseError(
                f"无法加载 SpatiaLite 扩展 {SPATIALITE}：{e}。请安装 Debian 软件包 libsqlite3-mod-spatialite"
                "（make demo 会自动安装）",
                f"cannot load SpatiaLite ({SPATIALITE}): {e}; install libsqlite3-mod-spatialite",
            ) from None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if checkpointed:  # after commits, in a thread (store.checkpoint)
                cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    if checkpointed:
        checkpoints = _CHECKPOINTERS[engine.dialect] = Checkpointer(database, sqlean.connect)
        # a registry closed waits for the checkpoint running, so a command ends with its file checkpointed
        event.listen(engine, "engine_disposed", lambda _engine: checkpoints.close())
    return engine


#: each SQLite file engine's checkpoint thread, by its dialect (shared by the engines execution_options derives)
_CHECKPOINTERS: WeakKeyDictionary = WeakKeyDictionary()


def checkpointer(bind: Engine | Connection) -> Checkpointer | None:
    """The checkpoint thread of a SQLite file's engine (:mod:`cadastre.store.checkpoint`); None otherwise."""
    return _CHECKPOINTERS.get(bind.dialect)


def async_lookup_engine(engine: Engine) -> AsyncEngine | None:
    """For PostgreSQL, an engine of the same database for point lookups served on an event loop: psycopg's
    ``AsyncConnection`` in autocommit (as :func:`lookup_engine`), its errors translated and its outages logged
    with the blocking engine's (:func:`translate`). A lookup then waits for the database without a thread: handed
    to the thread pool, a parcel card's hand-off cost it a quarter of its throughput (bench/http.py), and run
    blocking on the loop it would stop every other request whenever the database stalls.

    Its pool does not ping a connection before lending it (a round trip through the async adaptation: 0.6 of a
    card's 2.6 ms); a lookup finding its connection dead invalidates it and is tried once more on a new one
    (``registry.lookups``), which is safe for a read. Its connections belong to the loop that opened them: one
    such engine per loop, disposed on it. None for SQLite, where a lookup is in-process work shorter than any
    hand-off."""
    if is_sqlite(engine):
        return None
    lookups = create_async_engine(engine.url.set(drivername="postgresql+psycopg_async"), pool_pre_ping=False,
                                  isolation_level="AUTOCOMMIT", hide_parameters=True, pool_size=POOL_SIZE_ASYNC,
                                  max_overflow=0)
    _translated(lookups.sync_engine)
    return lookups


def lookup_engine(engine: Engine) -> Engine:
    """The engine point lookups read through (a parcel card, a token's check, a tile, a feature page).

    On PostgreSQL its connections (from the same pool) run in autocommit: each statement is its own snapshot, and
    a lookup pays no ``BEGIN`` and no ``ROLLBACK`` round trip when the connection goes back to the pool — a parcel
    card took 2.0 ms with them and 1.1 ms without (bench/http.py). Only reads whose statements stand on their own
    go through it: a parcel card's readiness is decided inside its first statement, and a card read while an
    ingest commits can at worst show the buildings of the moment after its versions. On SQLite, where a
    transaction costs nothing but a function call, it is the engine itself.
    """
    return engine if is_sqlite(engine) else engine.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for writes that allocate codes or change current records.

    On SQLite it starts with ``BEGIN IMMEDIATE``, taking the write lock up front, so two writers queue on the busy
    timeout instead of failing half-way with "database is locked" on lock upgrade. On PostgreSQL it is an ordinary
    transaction; allocation takes row locks on the high-water marks it touches (see ``store.counters``).
    Commits on success, rolls back on any exception.
    """
    with engine.connect() as connection:
        connection.execution_options(immediate=True)
        with connection.begin():
            yield connection
    checkpoints = checkpointer(engine)
    if checkpoints is not None:  # copied into the file while the caller goes on (store.checkpoint)
        checkpoints.request()


@contextmanager
def meanwhile(connection: Connection, work: Callable[[Connection], object]) -> Iterator[None]:
    """Run ``work(connection)`` — statements the database takes long over, inside the caller's transaction — on a
    thread of its own while the caller's block computes what does not need the database: the driver waits for the
    database with the GIL released, so on a second core the two overlap (an as-built survey ends its 40 800 pre-sale
    rows, 0.15 s, while it matches them). The block must not touch ``connection``; its end waits for ``work``, and
    raises ``work``'s error there (the block's own, if it raised, goes first: the transaction ends in either case
    only after ``work`` has)."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work(connection)
        except BaseException as e:  # noqa: BLE001 - raised in the caller's thread below
            failed.append(e)

    thread = threading.Thread(target=run, name="cadastre-meanwhile", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
    if failed:
        raise failed[0]


def serialise(connection: Connection, *names: str) -> None:
    """Make the caller's write transaction the only one holding ``names`` until it ends (commit or rollback).

    Decisions that depend on the registry's current state — no land registered twice, the parcel a building
    stands on, one package per checksum — must be taken under the same lock as the write that acts on them. On
    PostgreSQL each name is a transaction-level advisory lock (``pg_advisory_xact_lock`` on a 64-bit hash of the
    name), taken in sorted order so that two callers never deadlock; statements after it see everything the
    previous holder committed (READ COMMITTED). On SQLite ``BEGIN IMMEDIATE`` (:func:`write_transaction`) already
    serialises every writer, so there is nothing more to take.
    """
    if is_sqlite(connection):
        return
    for name in sorted(set(names)):
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                           {"name": f"cadastre:{name}"})
