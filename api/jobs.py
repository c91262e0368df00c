"""Background processing of uploaded packages: the upload answers at once; a worker thread ingests.

Each server process runs one worker thread (ingests write under one lock anyway), so a big package never holds a
request. Workers *claim* a package in the database before touching it and keep the claim alive while they work
(``cadastre.core.workers``), so with several server processes each package is processed once. A sweeper thread looks
every few seconds for packages due — never taken, their worker dead (a killed server: at once on the same host),
or their next try after a transient failure due — and takes them up; when a server starts it sweeps first. Once
an hour it also deletes the bytes of refused uploads past their retention period (``Registry.purge_refused``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from cadastre.core.auth import Principal, Role
from cadastre.core.errors import CadastreError
from cadastre.registry import Registry

log = logging.getLogger("cadastre.api.jobs")

__all__ = ["IngestWorker", "DeliveryWorker"]

#: who the service's own housekeeping is, in the audit log
SERVICE = Principal("service", Role.ADMIN, "worker")

#: how often the sweeper looks for packages due (seconds), and deletes refused uploads past their retention
SWEEP_S = 5.0
PURGE_S = 3600.0


class IngestWorker:
    def __init__(self, registry: Registry, threads: int = 1, *, sweep_s: float = SWEEP_S) -> None:
        self.registry = registry
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cadastre-ingest")
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweep_s = sweep_s
        self._sweeper: threading.Thread | None = None
        self._watchers: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def start(self) -> list[int]:
        """Take up what is due now, then keep sweeping in the background; returns the packages queued now."""
        queued = self.resume()
        self._sweeper = threading.Thread(target=self._sweep, daemon=True, name="cadastre-sweeper")
        self._sweeper.start()
        return queued

    def submit(self, package_id: int, actor: Principal | None = None, *, retry: bool = False) -> Future:
        """Queue ``package_id`` (once: a package already queued here is not queued twice); its outcome is audited
        for ``actor`` (None: its uploader). ``retry``: try a failed or waiting package now."""
        with self._lock:
            queued = self._futures.get(package_id)
            if queued is not None and not queued.done():
                return queued
            future = self._pool.submit(self._run, package_id, actor, retry)
            self._futures[package_id] = future
        future.add_done_callback(lambda f, pid=package_id: self._forget(pid, f))
        return future

    def _forget(self, package_id: int, future: Future) -> None:
        with self._lock:
            if self._futures.get(package_id) is future:
                del self._futures[package_id]

    def resume(self) -> list[int]:
        """Queue every received package that is due (see module docstring)."""
        pending = self.registry.packages_due()
        for package_id in pending:
            self.submit(package_id)
        return pending

    def _sweep(self) -> None:
        next_purge = 0.0
        while not self._stop.wait(self._sweep_s):
            try:
                self.resume()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_S
                    self.registry.purge_refused(actor=SERVICE)
            except CadastreError:  # the database is away: the engine logs the outage once; sweep again later
                continue
            except Exception:
                log.exception("sweeping for packages due failed")

    def processing(self, package_id: int) -> bool:
        """Whether ``package_id`` is queued or being processed here (its changes are announced, see
        :meth:`watching`)."""
        with self._lock:
            future = self._futures.get(package_id)
            return future is not None and not future.done()

    @contextmanager
    def watching(self, package_id: int) -> Iterator[asyncio.Event]:
        """An event of the running loop, set whenever this process's worker has recorded a change of
        ``package_id`` (its progress, its outcome), for a request waiting on its state: woken as the change is
        written rather than by looking every 0.1 s. Take it before reading the state, clear it before each read:
        no change is missed."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            self._watchers.setdefault(package_id, set()).add(waiter)
        try:
            yield event
        finally:
            with self._lock:
                waiters = self._watchers.get(package_id, set())
                waiters.discard(waiter)
                if not waiters:
                    self._watchers.pop(package_id, None)

    def _announce(self, package_id: int) -> None:
        with self._lock:
            waiters = list(self._watchers.get(package_id, ()))
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed
                continue

    def _run(self, package_id: int, actor: Principal | None, retry: bool):
        def recorded(_stage: str, _fraction: float) -> None:  # told once the change is on the progress row
            self._announce(package_id)

        try:
            return self.registry.process(package_id, actor=actor, retry=retry, progress=recorded)
        except CadastreError as e:  # recorded on the package's progress row by Registry.process
            log.warning("processing package %s failed: %s", package_id, e.message_en)
            return None
        except Exception:  # a bug: recorded on the package, logged here in full for staff
            log.exception("processing package %s failed", package_id)
            return None
        finally:
            self._announce(package_id)  # the outcome, failures included

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the queued work (tests, shutdown)."""
        with self._lock:
            futures = list(self._futures.values())
        for future in futures:
            future.result(timeout)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=False)


class DeliveryWorker:
    """Delivers events to webhook subscribers from a thread of the server (``Registry.deliver_due`` every
    ``poll_s``): subscriptions are claimed in the database, so several server processes share the work and a killed
    one's subscriptions are taken up when its claims expire."""

    def __init__(self, registry: Registry, *, poll_s: float = 1.0, delays: tuple[float, ...] | None = None) -> None:
        self.registry = registry
        self._poll_s = poll_s
        self._delays = delays
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="cadastre-webhooks")
        self._thread.start()

    def _run(self) -> None:
        kwargs = {"delays": self._delays} if self._delays else {}
        while not self._stop.wait(self._poll_s):
            try:
                while self.registry.deliver_due(**kwargs) and not self._stop.is_set():
                    pass  # more may be due at once: a receiver back after an outage gets its backlog now
            except CadastreError:  # the database is away: try again next round
                continue
            except Exception:
                log.exception("delivering webhooks failed")

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(20)
