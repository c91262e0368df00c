"""Helpers for testing code that uses cadastre — importable by users, as ``geopandas.testing`` is.

- :class:`TemporaryPostgres`: a throwaway PostgreSQL + PostGIS cluster on a free 127.0.0.1 port, for tests and
  benchmarks that need the production engine without touching any system service.
- :func:`assert_findings`: compare a findings frame with the rules and features expected.
- :class:`ServiceProcess`: ``cadastre serve`` as a real process on a free port, to be killed and started again.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa

__all__ = ["TemporaryPostgres", "postgres_bindir", "assert_findings", "role_tokens", "ServiceProcess"]


def postgres_bindir() -> Path:
    """The newest PostgreSQL server binaries on this machine (Debian layout, else ``pg_config --bindir``)."""
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted((p for p in root.iterdir() if (p / "bin" / "initdb").exists()),
                          key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()])
        if versions:
            return versions[-1] / "bin"
    if shutil.which("pg_config"):
        bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    raise FileNotFoundError("PostgreSQL server binaries (initdb) not found: run `make test-deps`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TemporaryPostgres:
    """A PostgreSQL cluster in a temporary directory, started on a free loopback port, removed on :meth:`stop`.

    initdb refuses to run as root, so when we are root the cluster is owned and run by the ``postgres`` system
    user (created by Debian's postgresql-common). Durability is switched off: this is for tests.

    Example::

        with TemporaryPostgres() as pg:
            url = pg.create_database("demo", postgis=True)
    """

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = dict(settings or {})  # extra server settings, e.g. {"shared_buffers": "1GB"}
        self.bindir = postgres_bindir()
        self.port = _free_port()
        self.user = "postgres"
        self._run_as = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="cadastre-pg-"))
        self.data = self.root / "data"
        self._template_ready = False

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        kwargs = {"user": self._run_as} if self._run_as else {}
        result = subprocess.run(args, capture_output=True, text=True, cwd=self.root, **kwargs)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{tail}")
        return result

    def start(self) -> TemporaryPostgres:
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                  # C ordering (fast, code-point order the code ranges rely on); UTF-8 character classes, without
                  # which pg_trgm finds no trigrams in Chinese text (the 坐落 search index, migration 0012)
                  "--locale=C", "--lc-ctype=C.UTF-8", "--no-sync")
        self._start_server()
        return self

    def _start_server(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
                   + "".join(f" -c {k}={v}" for k, v in self.settings.items()))
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")

    def halt(self) -> None:
        """Stop the server (fast shutdown: connections are cut), keeping its data: an outage, for tests."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the server again after :meth:`halt`, on the same port."""
        self._start_server()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _admin(self):
        return sa.create_engine(self.url().replace("postgresql://", "postgresql+psycopg://"),
                                isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def create_database(self, name: str | None = None, *, postgis: bool = True) -> str:
        """Create an empty database (with the PostGIS extension, copied from a template) and return its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        engine = self._admin()
        with engine.connect() as c:
            if postgis and not self._template_ready:
                c.exec_driver_sql("CREATE DATABASE template_postgis")
                t = sa.create_engine(self.url("template_postgis").replace("postgresql://", "postgresql+psycopg://"),
                                     poolclass=sa.pool.NullPool)
                with t.begin() as tc:
                    tc.exec_driver_sql("CREATE EXTENSION postgis")
                t.dispose()
                self._template_ready = True
            template = "template_postgis" if postgis else "template0"
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE {template}')
        engine.dispose()
        return self.url(name)

    def drop_database(self, name: str) -> None:
        engine = self._admin()
        with engine.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def assert_findings(findings, expected: Iterable[tuple[str, str | None]], *, exact: bool = True) -> None:
    """Assert that ``findings`` (a frame or a list of Finding) holds the expected ``(rule, feature)`` pairs.

    With ``exact`` (the default) no other finding may be present, so a test also proves the absence of false
    positives.
    """
    rows = findings.to_dict("records") if hasattr(findings, "to_dict") else [vars(f) for f in findings]
    got = sorted((r["rule"], r.get("feature")) for r in rows)
    want = sorted(expected)
    if exact:
        assert got == want, f"findings differ:\n  got  {got}\n  want {want}"
    else:
        missing = [w for w in want if w not in got]
        assert not missing, f"missing findings {missing}; got {got}"


def ingest_in_process(db_url: str, path: str) -> list[str]:
    """Ingest ``path`` into the registry at ``db_url`` and return the parcel codes assigned — a module-level
    function, so tests can run it in separate processes (``multiprocessing`` with ``spawn``)."""
    from cadastre.registry import open_registry

    with open_registry(db_url) as registry:
        result = registry.ingest(path)
    if result.status != "accepted":
        raise RuntimeError(f"{path}: {result.status}: {[f['message'] for f in result.report['findings']]}")
    return [p["zddm"] for p in result.assigned["parcels"]]


def role_tokens(registry, prefix: str = "test-") -> dict[str, str]:
    """One account per role (named ``prefix + role``, password ``prefix + role + "-password"``) and an API token for
    each: ``{role: token}``, to call the service as each role in tests."""
    from cadastre.core.auth import Role

    tokens = {}
    for role in Role:
        name = f"{prefix}{role.value}"
        registry.add_user(name, role.value, password=f"{name}-password")
        tokens[role.value] = registry.issue_token(name, label="tests").token
    return tokens


class ServiceProcess:
    """``cadastre serve`` on a free 127.0.0.1 port in a process group of its own: a real server for tests of
    what only real processes show (a server killed mid-work, an outage, several workers).

    Example::

        with ServiceProcess(url, workers=2) as service:
            httpx.get(service.url + "/api/summary", headers=...)
            service.kill()          # SIGKILL to the whole group, as a crash or the OOM killer would
    """

    def __init__(self, db_url: str, *, workers: int = 1, env: dict[str, str] | None = None,
                 timeout: float = 60.0) -> None:
        self.db_url, self.workers, self.timeout = db_url, workers, timeout
        self.env = {**os.environ, "CADASTRE_DB": db_url, **(env or {})}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.mkstemp(prefix="cadastre-serve-", suffix=".log")[1])

    def start(self) -> ServiceProcess:
        import sys
        import time
        import urllib.error
        import urllib.request

        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cadastre", "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cadastre serve exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            try:
                urllib.request.urlopen(self.url + "/upload", timeout=1).read()
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"cadastre serve did not answer within {self.timeout} s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        """What the server printed (stdout and stderr) so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL the server and its workers: no shutdown handler runs."""
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop the server as Ctrl+C would (SIGINT), then make sure it is gone."""
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.log.unlink(missing_ok=True)
