"""Shared fixtures: every storage test runs on SpatiaLite and on PostGIS.

The HTTP tests (``tests/api``) share a registry with the sample county ingested per engine and module
(``loaded_registry``) and the application over it (``client``); uploads use ``fresh_client``.

The PostGIS server is a throwaway cluster started once per session on a free loopback port
(``cadastre.testing.TemporaryPostgres``) and removed at the end; each test gets a fresh database. Set
``CADASTRE_TEST_POSTGRES`` to the URL of an existing server's maintenance database to use it instead. PostGIS is not
optional: without its binaries the PostGIS half of the suite errors (``make test`` installs them).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api import create_app
from api.deps import ServiceSettings
from cadastre.registry import init_database, init_registry
from cadastre.samples import write_sample_packages
from cadastre.store.engine import create_engine
from cadastre.testing import TemporaryPostgres, role_tokens

ENGINES = ("spatialite", "postgis")


@pytest.fixture(autouse=True)
def no_default_registry(tmp_path_factory, monkeypatch):
    """Tests never see a developer's own var/cadastre.sqlite: the default database is a path that does not exist."""
    monkeypatch.setenv("CADASTRE_DB", f"sqlite:///{tmp_path_factory.getbasetemp() / 'no-registry.sqlite'}")


@pytest.fixture(scope="session")
def postgres():
    external = os.environ.get("CADASTRE_TEST_POSTGRES")
    if external:
        yield _ExternalPostgres(external)
        return
    cluster = TemporaryPostgres().start()
    try:
        yield cluster
    finally:
        cluster.stop()


class _ExternalPostgres:
    """An existing server: databases are created and dropped by name through its maintenance database."""

    def __init__(self, url: str) -> None:
        self._url = sa.make_url(url)

    def _admin(self):
        return sa.create_engine(self._url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT",
                                poolclass=sa.pool.NullPool)

    def create_database(self, name: str, *, postgis: bool = True) -> str:
        with self._admin().connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = self._url.set(database=name)
        if postgis:
            with sa.create_engine(url.set(drivername="postgresql+psycopg")).begin() as c:
                c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        return url.render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        with self._admin().connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=ENGINES)
def db_url(request, tmp_path: Path, monkeypatch) -> str:
    """A URL of an empty database on each engine (the originals store goes to the test's own folder)."""
    monkeypatch.setenv("CADASTRE_ORIGINALS", str(tmp_path / "originals"))
    if request.param == "spatialite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite'}"
        return
    cluster = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield cluster.create_database(name)
    cluster.drop_database(name)


@pytest.fixture
def engine(db_url):
    """An engine on an initialised registry of 隰县 (141031)."""
    engine = create_engine(db_url)
    init_database(engine, ["141031"])
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine, zoning_zip):
    """A registry of 隰县 with the sample zoning loaded, on each engine."""
    from cadastre.registry import Registry

    reg = Registry(engine)
    reg.import_zoning(zoning_zip)
    return reg


@pytest.fixture(scope="session")
def zoning_zip(tmp_path_factory) -> Path:
    from cadastre.samples import write_zoning_package

    return write_zoning_package(tmp_path_factory.mktemp("samples"))


# ------------------------------------------------------------------------------------------- HTTP service



@pytest.fixture(scope="session")
def sample_files(tmp_path_factory):
    return write_sample_packages(tmp_path_factory.mktemp("api-samples"))


def _api_database(request, tmp_path_factory, engine: str) -> tuple[str, callable]:
    if engine == "spatialite":
        return f"sqlite:///{tmp_path_factory.mktemp('api-db') / 'registry.sqlite'}", lambda: None
    cluster = request.getfixturevalue("postgres")
    name = f"api_{uuid.uuid4().hex[:12]}"
    return cluster.create_database(name), lambda: cluster.drop_database(name)


@pytest.fixture(scope="module", params=ENGINES)
def loaded_registry(request, tmp_path_factory, sample_files):
    """The sample county, fully ingested, on each engine (read-only for the tests that use it)."""
    url, drop = _api_database(request, tmp_path_factory, request.param)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CADASTRE_ORIGINALS", str(tmp_path_factory.mktemp("api-originals")))
        registry = init_registry(url, ["141031"])
        registry.import_zoning(sample_files["zoning"])
        for stage in ("cadastral", "presale", "asbuilt"):
            registry.ingest(sample_files[stage], submitted_by="test-surveyor")
        registry.tokens_by_role = role_tokens(registry)
        yield registry
        registry.close()
    drop()


@pytest.fixture(scope="module")
def client(loaded_registry):
    """The service over the sample county, signed in as an administrator (``client.tokens``: one per role)."""
    with TestClient(create_app(loaded_registry, ServiceSettings())) as c:
        c.tokens = loaded_registry.tokens_by_role
        c.headers["Authorization"] = f"Bearer {c.tokens['admin']}"
        yield c


@pytest.fixture
def fresh_client(registry):
    """The application over a registry with zoning only (each test its own), for uploads; signed in as a
    surveyor (``client.tokens``: one per role)."""
    app = create_app(registry, ServiceSettings(max_upload_bytes=5 << 20))
    tokens = role_tokens(registry)
    with TestClient(app) as c:
        c.worker = app.state.worker
        c.tokens = tokens
        c.headers["Authorization"] = f"Bearer {tokens['surveyor']}"
        yield c


@pytest.fixture
def tiny_disk():
    """A folder on a filesystem of its own that fills up: ``tiny_disk(bytes)`` mounts a tmpfs of that size and
    returns its path, which other users (the PostgreSQL server's) may reach (root only, as ``make test`` runs in
    CI; skipped where mounting is not allowed)."""
    import shutil
    import subprocess
    import tempfile

    mounted = []

    def mount(size: int) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="cadastre-disk-"))
        folder.chmod(0o755)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server(loaded_registry):
    """The service over ``loaded_registry`` on a free loopback port, in a thread of this process; its base URL
    (for real clients: a browser, GDAL)."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(create_app(loaded_registry, ServiceSettings()), host="127.0.0.1",
                                             port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)
