"""Progress of a long operation (reading, checking and storing a package), reported through a callback.

The library calls ``progress(stage, fraction)`` with ``fraction`` in 0…1 of the whole operation; a caller turns it
into whatever it shows: the CLI a bar on the terminal, the service a row a browser polls (``store.packages``).
Callbacks must be cheap and must not raise; :func:`safe` wraps one so a failing display never fails the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = ["Progress", "STAGES", "PROCESSING_NAMES", "no_progress", "safe", "scaled"]

#: callback(stage, fraction of the whole in 0…1)
Progress = Callable[[str, float], None]

#: stages of processing a package, in order; ``waiting``: a failed attempt, tried again later by itself;
#: ``failed``: waiting for a person (a registrar's 重新处理, or the same file uploaded again)
STAGES = ("received", "reading", "checking", "storing", "done", "waiting", "failed")
PROCESSING_NAMES = {"received": "已接收，排队中", "reading": "读取成果包", "checking": "质量检查", "storing": "入库与编码",
               "done": "完成", "waiting": "处理中断，等待自动重试", "failed": "处理失败"}

log = logging.getLogger(__name__)


def no_progress(stage: str, fraction: float) -> None:
    """The callback that shows nothing."""


def safe(progress: Progress | None) -> Progress:
    """``progress`` made harmless: None becomes :func:`no_progress`, and an exception it raises is logged."""
    if progress is None:
        return no_progress

    def report(stage: str, fraction: float) -> None:
        try:
            progress(stage, min(max(float(fraction), 0.0), 1.0))
        except Exception:  # a display must never fail the work it displays
            log.warning("progress callback failed", exc_info=True)

    return report


def scaled(progress: Progress, stage: str, start: float, end: float) -> Callable[[float], None]:
    """A callback for a part of the work: its own 0…1 maps to ``start``…``end`` of the whole, under ``stage``."""
    return lambda fraction: progress(stage, start + (end - start) * fraction)
