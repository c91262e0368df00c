"""Python's cyclic garbage collector paused around bulk work.

Reading, checking and storing a package make millions of objects that live until the work is done (geometries,
strings, rows). CPython runs a full collection over every tracked object each time the survivors grow by a
quarter, so bulk work pays for scanning its own data again and again: making 100 000 box stand-ins beside a
loaded fifth of a county took 0.10 s collecting and 0.02 s paused; a 40 800-unit ingest about 1 s of 6.
Paused, reference counting still frees everything it frees; only cycles made meanwhile wait for the first
collection after the block. Process-wide (the collector is): nested and concurrent blocks count, and the
collector comes back when the last one ends, as it was before the first.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = True


@contextmanager
def paused() -> Iterator[None]:
    """The collector paused for the block (also a decorator: ``@paused()``)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
