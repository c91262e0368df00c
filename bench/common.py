"""Timing helpers shared by the benchmarks: repeated runs, median / min / max, peak memory."""

from __future__ import annotations

import gc
import json
import platform
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Timing:
    name: str
    median_s: float
    min_s: float
    max_s: float
    runs: int


def measure(functions: dict[str, Callable[[], object]], runs: int) -> dict[str, Timing]:
    """Time each function ``runs`` times, interleaved (a, b, a, b …) so that drift in the machine's speed falls on
    both alike; median, min and max per function."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            gc.collect()
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: Timing(name, statistics.median(t), min(t), max(t), runs) for name, t in times.items()}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    import geopandas
    import pyogrio
    import shapely

    return {"python": platform.python_version(), "platform": platform.platform(), "geopandas": geopandas.__version__,
            "pyogrio": pyogrio.__version__, "gdal": pyogrio.__gdal_version_string__, "shapely": shapely.__version__,
            "geos": shapely.geos_version_string, "date": datetime.now(UTC).isoformat(timespec="seconds")}


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, ensure_ascii=False, indent=2, default=asdict))
    return path
