"""Background processing of uploaded packages: the upload answers at once; a worker thread ingests.

Each server process runs one worker thread (ingests write under one lock anyway), so a big package never holds a
request. Workers *claim* a package in the database before touching it, so with several server processes each
package is processed once; packages left received by a process that stopped are taken up when a server starts.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from cadastre.auth import Principal
from cadastre.registry import Registry

log = logging.getLogger("cadastre.api.jobs")

__all__ = ["IngestWorker"]


class IngestWorker:
    def __init__(self, registry: Registry, threads: int = 1) -> None:
        self.registry = registry
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cadastre-ingest")
        self._futures: dict[int, Future] = {}

    def submit(self, package_id: int, actor: Principal | None = None) -> Future:
        """Queue ``package_id``; its outcome is audited for ``actor`` (None: its uploader)."""
        future = self._pool.submit(self._run, package_id, actor)
        self._futures[package_id] = future
        future.add_done_callback(lambda _f, pid=package_id: self._futures.pop(pid, None))
        return future

    def resume(self) -> list[int]:
        """Queue every received package that no live worker holds."""
        pending = self.registry.unclaimed()
        for package_id in pending:
            self.submit(package_id)
        return pending

    def _run(self, package_id: int, actor: Principal | None):
        try:
            return self.registry.process(package_id, actor=actor)
        except Exception:  # recorded on the package's progress row by Registry.process; logged here for staff
            log.exception("processing package %s failed", package_id)
            return None

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the queued work (tests, shutdown)."""
        for future in list(self._futures.values()):
            future.result(timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
