"""Who is processing a received package, whether that process still lives, and when a failure is tried again.

A worker (a server process's background thread, or a library call to ``Registry.process``) writes its identity
into the package's claim and refreshes the claim's heartbeat every :data:`HEARTBEAT_S` while it works. A claim is
abandoned — and any worker may take the package — when

- its process is gone: a claimant on this host is looked up by process id and start time (a restarted server takes
  up what the killed one held at once, the process id reused by another program does not fool it), or
- its heartbeat is older than :data:`CLAIM_TIMEOUT_S` (a claimant on another host) or, for a live process on this
  host, than :data:`HUNG_TIMEOUT_S` (a worker that hangs).

Processing that fails for a transient cause (the database unreachable, a full disk) is tried again after growing
delays (:func:`retry_delay`); after :data:`MAX_ATTEMPTS` failures, or on any other failure, it waits for a
registrar (``POST /api/packages/{id}/process``) or a new upload of the same bytes.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from cadastre.core.errors import DatabaseUnavailable, StorageFull

__all__ = ["HEARTBEAT_S", "CLAIM_TIMEOUT_S", "HUNG_TIMEOUT_S", "MAX_ATTEMPTS", "identity", "abandoned", "due",
           "retry_delay", "transient"]

#: a worker refreshes the heartbeat of the package it processes this often
HEARTBEAT_S = 10.0
#: a claim whose heartbeat is older than this is abandoned when its process is on another host…
CLAIM_TIMEOUT_S = 60.0
#: …or, when it is a live process on this host, older than this (its heartbeat may wait behind a long SQLite
#: write; a second worker taking the package would only find it decided, but would waste the work)
HUNG_TIMEOUT_S = 1800.0
#: transient failures tried again automatically; then a person decides
MAX_ATTEMPTS = 12
#: delays before the first tries again (seconds); later ones wait the last of these
_DELAYS_S = (10, 30, 90, 270, 810, 1800, 3600)


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux ``/proc/PID/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


@cache
def _host() -> str:
    return socket.gethostname()


def identity(pid: int | None = None) -> str:
    """``host:pid:start`` of this process (or of ``pid`` on this host): what a claim records."""
    pid = os.getpid() if pid is None else pid
    return f"{_host()}:{pid}:{_start_ticks(pid) or '?'}"


def _alive_here(claimant: str) -> bool | None:
    """Whether the claimant process lives, when it is on this host (None: on another host, unknowable here)."""
    host, _, rest = claimant.partition(":")
    pid, _, start = rest.partition(":")
    if host != _host() or not pid.isdigit():
        return None
    ticks = _start_ticks(int(pid))
    return ticks is not None and (start == "?" or ticks == start)


def abandoned(claimant: str | None, heartbeat_at: datetime | None, now: datetime) -> bool:
    """Whether a claim no longer stands: nobody holds it, its process is gone, or it stopped saying so."""
    if claimant is None:
        return True
    here = _alive_here(claimant)
    if here is False:
        return True
    timeout = HUNG_TIMEOUT_S if here else CLAIM_TIMEOUT_S
    return heartbeat_at is None or now - heartbeat_at > timedelta(seconds=timeout)


def due(stage: str, claimant: str | None, heartbeat_at: datetime | None, retry_at: datetime | None,
        now: datetime, *, retry: bool = False) -> bool:
    """Whether a worker may take a received package now: nobody live holds it, and it is not waiting — for its
    next try (``waiting`` until ``retry_at``) or for a person (``failed``) — unless ``retry`` (a registrar, or the
    same bytes uploaded again) says to try now."""
    if not abandoned(claimant, heartbeat_at, now):
        return False
    if retry:
        return True
    if stage == "failed":
        return False
    return stage != "waiting" or retry_at is None or retry_at <= now


def retry_delay(attempts: int) -> float | None:
    """Seconds to wait after the ``attempts``-th failure before trying again; None once it is a person's call."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return float(_DELAYS_S[min(attempts, len(_DELAYS_S)) - 1])


def transient(error: BaseException) -> bool:
    """Whether a failure may pass by itself (the database unreachable or busy, a full disk being cleared)."""
    return isinstance(error, (DatabaseUnavailable, StorageFull))
