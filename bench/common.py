"""Timing helpers shared by the benchmarks: repeated runs, median / min / max, peak memory."""

from __future__ import annotations

import gc
import json
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def county_package(parcels: int, buildings: int, units: int, given: tuple | None = None) -> Iterator[tuple]:
    """(layers, package folder): the synthetic county written as a package of GBK shapefiles in zone 37, or
    ``given`` (the read and checks benchmarks of one run share one)."""
    if given is not None:
        yield given
        return
    from cadastre.samples import Quirks, synthetic_county, write_package

    layers = synthetic_county(parcels, buildings, units)
    with tempfile.TemporaryDirectory(prefix="cadastre-bench-") as tmp:
        yield layers, write_package(Path(tmp) / "county", layers, quirks=Quirks(container="folder", folder=""),
                                    manifest={"county_code": "141031", "stage": "asbuilt"})


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
    """This process's own peak resident memory, MB: Linux's VmHWM, which starts afresh at exec. (``getrusage``'s
    ``ru_maxrss`` does not: a process spawned by a big parent reports the parent's size, taken at the fork.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(function: Callable, *args):
    """Run ``function(*args)`` (a module-level function) in a fresh spawned process and return ``(its result, that
    process's peak resident memory in MB)``: the step's own peak, not whatever the benchmark process held before.
    A plain process, not a pool worker, so the step may start processes of its own."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, function, args))
    process.start()
    send.close()
    try:
        outcome = receive.recv()
    except EOFError:
        outcome = RuntimeError(f"{function.__name__} died")
    finally:
        process.join()
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _child(send, function: Callable, args: tuple) -> None:
    try:
        result = function(*args)
        send.send((result, round(peak_rss_mb())))
    except BaseException as e:  # reported to the parent, which raises it
        send.send(e)
    finally:
        send.close()


def process_group_peak_mb(group: int) -> dict:
    """Peak resident memory (VmHWM) of every process in process group ``group`` (a server and its workers,
    started in a session of their own): the largest one's and their sum, in MB."""
    peaks = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != group:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return {"largest_mb": round(max(peaks, default=0)), "total_mb": round(sum(peaks)), "processes": len(peaks)}


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
