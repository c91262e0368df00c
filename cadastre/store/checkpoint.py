"""SQLite's WAL checkpoints, run in a thread of their own after write transactions instead of inside their commit.

In WAL mode a commit appends the transaction's pages to the ``-wal`` file; a *checkpoint* copies them back into
the database file and syncs it. By default the connection that commits runs one whenever the WAL holds more
than 1 000 pages, inside ``COMMIT``: an as-built survey of 40 800 units (15 000 pages) then took 0.21 s to commit,
0.17 s of it the checkpoint, and the surveyor waited for it although the transaction was done and visible.

Our connections turn that off (``PRAGMA wal_autocheckpoint=0``, :mod:`cadastre.store.engine`) and every write
transaction asks for a checkpoint when it has committed (:meth:`Checkpointer.request`): one thread per engine runs
``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own, on the other core, while the caller goes on. A
passive checkpoint waits for nobody and is safe to interrupt (the WAL stays until it is copied); requests made
while one runs are served by one more. Durability is unchanged: a committed transaction is in the WAL, which
SQLite reads and recovers from. Other programs writing the file (QGIS, ``sqlite3``) checkpoint as they always do.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger("cadastre.store")

__all__ = ["Checkpointer", "IDLE_S", "MIN_INTERVAL_S"]

#: a checkpoint thread asked for nothing this long ends; the next request starts another
IDLE_S = 30.0
#: at most one checkpoint this often: each syncs the file, and small writes come in bursts
MIN_INTERVAL_S = 0.2


class Checkpointer:
    """Passive checkpoints of the SQLite file ``path`` in a daemon thread, one at a time, when asked."""

    def __init__(self, path: str | os.PathLike, connect) -> None:
        self.path = Path(path).resolve()
        self._connect = connect  # the driver's connect (sqlean's: the same SQLite as the engine's)
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pid = os.getpid()
        self._running = False
        self.done = 0  # checkpoints run

    def _forked(self) -> None:
        """In a child forked from the process that made this: start afresh (the parent's thread is not here, and
        its lock and event may have been held at the fork)."""
        if self._pid != os.getpid():
            self._pid, self._lock, self._wanted = os.getpid(), threading.Lock(), threading.Event()
            self._thread, self._stop, self._running = None, threading.Event(), False

    def request(self) -> None:
        """Ask for a checkpoint soon (returns at once)."""
        self._forked()
        with self._lock:
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop,), name="sqlite-checkpoint",
                                                daemon=True)
                self._thread.start()
            self._wanted.set()

    def wait(self, timeout: float = 60.0) -> None:
        """Until no checkpoint is asked for or running (tests)."""
        self._forked()
        deadline = time.monotonic() + timeout
        while (self._wanted.is_set() or self._running) and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self, timeout: float = 60.0) -> None:
        """Stop the thread after the checkpoint it is running, if any (a later request starts another); the
        engine's last connection to close checkpoints what is left."""
        self._forked()
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stop.set()
            self._wanted.set()
        thread.join(timeout)

    def _run(self, stop: threading.Event) -> None:
        while True:
            if not self._wanted.wait(IDLE_S):
                with self._lock:  # idle: the thread ends (a registry opened and forgotten leaves none behind)
                    if self._wanted.is_set():  # asked for just now
                        continue
                    if self._thread is threading.current_thread():
                        self._thread = None
                    return
            if stop.is_set():
                return
            self._running = True
            self._wanted.clear()
            try:
                self.checkpoint()
            except Exception as e:  # the next request tries again
                log.warning("WAL checkpoint of %s failed: %s", self.path, e)
            finally:
                self._running = False
            # requests in the meantime (an ingest records its progress every percent) are served by one more
            stop.wait(MIN_INTERVAL_S)

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint now, in the calling thread: (busy, frames in the WAL, frames copied)."""
        # mode=rw: a file removed meanwhile is an error, not a new empty database
        connection = self._connect(f"file:{quote(str(self.path))}?mode=rw", uri=True, timeout=1.0)
        try:
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
        self.done += 1
        return busy, frames, copied
