"""The registry: one database's counties, zoning, packages, parcels, buildings, units and codes — the library's entry
point for everything the command line and the HTTP API do.

:class:`Registry` is a thin facade: each of its methods is a plain function of a topic module here, called with the
registry's :class:`~cadastre.registry.context.Context` (its engines, what it is the registry of, and the caches one
process keeps). This package is the only one that opens database connections and transactions; it composes the
layers below it — ``read`` → ``qa`` → ``allocate`` → ``store`` → ``serve`` — and the ``cli`` and ``api`` call it.

=================  ================================================================================================
``zoning``         the 地籍区 / 地籍子区 reference layers
``ingest``         checking a package against the registry; ingesting it (check, store, code) under the county's lock
``baseline``       the county's existing registry: importing it in lots with its codes; the sub-district safety net
``packages``       packages as the service takes them: receive, process with claims and retries, state, originals
``findings``       findings and package summaries for analysts; waivers
``planning``       planning permits
``lookups``        parcel cards, units, search, 楼盘表, the map's extent, counts
``events``         events for other offices: the feed, webhook subscriptions, deliveries
``documents``      registration documents: 宗地图, 界址点成果表, 房产分户图 (PDF; xlsx for the points)
``layers``         OGC API pages, vector tiles, GeoDataFrames for analysts, exports
``access``         accounts, tokens, signing in, the audit log
``operations``     backup, restore, verify
=================  ================================================================================================

Example::

    import cadastre
    reg = cadastre.init("sqlite:///var/example.sqlite", counties=["141031"])
    reg.import_zoning("var/samples/141031-zoning.zip")
    reg.summary()
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine

from cadastre.core.errors import DatabaseError, DatabaseUnavailable
from cadastre.registry import access as _access
from cadastre.registry import baseline as _baseline
from cadastre.registry import documents as _documents
from cadastre.registry import events as _events
from cadastre.registry import findings as _findings
from cadastre.registry import ingest as _ingest
from cadastre.registry import layers as _layers
from cadastre.registry import lookups as _lookups
from cadastre.registry import operations as _operations
from cadastre.registry import packages as _packages
from cadastre.registry import planning as _planning
from cadastre.registry import zoning as _zoning
from cadastre.registry.context import Context, IssuedToken, OriginalFile, Received, Summary
from cadastre.store.engine import create_engine, database_url, redact, write_transaction
from cadastre.store.schema import RegistryInfo, describe, init_schema

__all__ = ["Registry", "Context", "Summary", "Received", "OriginalFile", "IssuedToken", "open_registry",
           "init_registry", "restore_registry", "init_database", "registry_info", "database_url", "redact"]


def _context(name: str, doc: str, *, settable: bool = False) -> property:
    """An attribute of the registry's context, as an attribute of the registry."""
    setter = (lambda self, value: setattr(self.context, name, value)) if settable else None
    return property(lambda self: getattr(self.context, name), setter, doc=doc)


def _topic(function: Callable) -> Callable:
    """A method calling ``function`` with the registry's context, with its name, docstring and signature."""

    if inspect.iscoroutinefunction(function):  # awaited as the function is (the service's lookups on its loop)
        @functools.wraps(function)
        async def method(self, *args, **kwargs):
            return await function(self.context, *args, **kwargs)
    else:
        @functools.wraps(function)
        def method(self, *args, **kwargs):
            return function(self.context, *args, **kwargs)

    parameters = list(inspect.signature(function).parameters.values())
    method.__signature__ = inspect.signature(function).replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *parameters[1:]])
    return method


class Registry:
    """A registry database: its counties, zoning, packages, parcels, buildings, units and codes."""

    def __init__(self, engine: Engine) -> None:
        self.context = Context(engine, registry_info(engine))

    engine = _context("engine", "the database engine")
    lookups = _context("lookups", "the engine of point lookups (autocommit on PostgreSQL)")
    info = _context("info", ":class:`RegistryInfo`: counties, storage SRID, schema revision")
    storage_srid = _context("srid", "the EPSG code every geometry is stored in")
    counties = _context("counties", "the :class:`County` settings of the registry's counties")
    recent_tokens = _context("recent_tokens", "tokens found live in the last seconds (access.principal)",
                             settable=True)
    sign_in_throttle = _context("sign_in_throttle", "how failed sign-ins slow the next (service.toml [sign_in])",
                                settable=True)

    def close(self) -> None:
        self.context.engine.dispose()

    async def close_async(self) -> None:
        """Close the running event loop's lookup connections (:meth:`parcel_async`, :meth:`unit_async`): a
        service calls it before its loop ends."""
        await self.context.dispose_async_lookups()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # zoning
    zoning = _topic(_zoning.zoning)
    import_zoning = _topic(_zoning.import_zoning)
    # checking and ingesting packages
    check = _topic(_ingest.check)
    ingest = _topic(_ingest.ingest_package)
    # the county's existing registry
    import_baseline = _topic(_baseline.import_baseline)
    baseline_lots = _topic(_baseline.baseline_lots_of)
    declare_empty = _topic(_baseline.declare_empty)
    # packages, as the service takes them
    receive = _topic(_packages.receive)
    process = _topic(_packages.process)
    packages_due = _topic(_packages.packages_due)
    package = _topic(_packages.package)
    packages = _topic(_packages.packages)
    original = _topic(_packages.original)
    purge_refused = _topic(_packages.purge_refused)
    report = _topic(_packages.report)
    report_json = _topic(_packages.report_json)
    report_html = _topic(_packages.report_html)
    # findings, waivers
    findings = _topic(_findings.findings)
    package_summaries = _topic(_findings.package_summaries)
    waive = _topic(_findings.waive)
    # planning permits
    record_permit = _topic(_planning.record_permit)
    permit = _topic(_planning.permit)
    # lookups
    parcel = _topic(_lookups.parcel)
    parcel_async = _topic(_lookups.parcel_async)
    parcel_at = _topic(_lookups.parcel_at)
    unit = _topic(_lookups.unit)
    unit_async = _topic(_lookups.unit_async)
    search = _topic(_lookups.search)
    building_table = _topic(_lookups.building_table)
    extent = _topic(_lookups.extent)
    summary = _topic(_lookups.summary)
    # registration documents
    parcel_sheet = _topic(_documents.parcel_sheet)
    unit_sheet = _topic(_documents.unit_sheet)
    parcel_map = _topic(_documents.parcel_map)
    boundary_points = _topic(_documents.boundary_points_document)
    unit_plan = _topic(_documents.unit_plan)
    floor_plan = _topic(_documents.floor_plan)
    first_registration_file = _topic(_documents.first_registration_file)
    # layers: features, tiles, frames for analysts, exports
    features = _topic(_layers.features)
    feature = _topic(_layers.feature)
    tile = _topic(_layers.tile)
    parcels = _topic(_layers.parcels)
    buildings = _topic(_layers.buildings)
    units = _topic(_layers.units)
    export = _topic(_layers.export)
    unit_list = _topic(_layers.unit_list)
    # events for other offices: the feed, webhooks
    events = _topic(_events.events)
    add_subscription = _topic(_events.add_subscription)
    subscriptions = _topic(_events.subscriptions)
    set_subscription_enabled = _topic(_events.set_subscription_enabled)
    delete_subscription = _topic(_events.delete_subscription)
    test_subscription = _topic(_events.test_subscription)
    dead_letters = _topic(_events.dead_letters)
    replay = _topic(_events.replay)
    deliver_due = _topic(_events.deliver_due)
    # accounts, tokens, audit
    add_user = _topic(_access.add_user)
    update_user = _topic(_access.update_user)
    users = _topic(_access.users)
    issue_token = _topic(_access.issue_token)
    login = _topic(_access.login)
    revoke_token = _topic(_access.revoke_token)
    tokens = _topic(_access.tokens)
    principal = _topic(_access.principal)
    basic_principal = _topic(_access.basic_principal)
    cached_principal = _topic(_access.cached_principal)
    audit = _topic(_access.audit)
    audit_log = _topic(_access.audit_log)
    # operations
    backup = _topic(_operations.backup)
    verify = _topic(_operations.verify)


def init_database(engine: Engine, counties: Sequence[str] = ()) -> RegistryInfo:
    """Create the registry for ``counties`` in the database behind ``engine``, or migrate an existing one to the
    newest schema, in one transaction (``store.schema.init_schema``)."""
    try:
        with write_transaction(engine) as connection:
            init_schema(connection, counties)
    except DatabaseUnavailable as e:  # the operator at ``cadastre init`` is told which database
        url = redact(engine.url.render_as_string(False))
        raise DatabaseError(f"无法连接或写入数据库 {url}：{e.message_zh}", f"cannot open or write {url}") from None
    return registry_info(engine)


def registry_info(engine: Engine) -> RegistryInfo:
    """What the database behind ``engine`` is the registry of; :class:`DatabaseError` when not initialised."""
    try:
        with engine.connect() as connection:
            return describe(connection)
    except DatabaseUnavailable as e:
        url = redact(engine.url.render_as_string(False))
        raise DatabaseUnavailable(f"无法连接数据库 {url}：{e.message_zh}", f"cannot connect to {url}") from None


def open_registry(url: str | None = None) -> Registry:
    """Open an initialised registry (URL: argument, ``CADASTRE_DB``, or the default SpatiaLite file)."""
    return Registry(create_engine(url, must_exist=True))


def init_registry(url: str | None = None, counties: Sequence[str] = ()) -> Registry:
    """Create the registry for ``counties`` (or migrate an existing one) and open it."""
    engine = create_engine(url)
    init_database(engine, counties)
    return Registry(engine)


def restore_registry(folder: str | os.PathLike, url: str, *, originals: str | os.PathLike | None = None) -> Registry:
    """Restore the backup in ``folder`` (:meth:`Registry.backup`) into the empty database at ``url`` and an empty
    originals folder, after checking every file of the backup against its manifest; returns the registry."""
    _operations.restore(folder, url, originals)
    return open_registry(url)

