"""Helpers shared by the benchmarks: repeated runs with median / min / max, peak memory, the run's PostgreSQL server
and the fresh processes each step runs in."""

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
from functools import partial
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


#: the PostgreSQL server every benchmark of a run shares, set up for bulk loads as a county's production server
#: would be (the defaults, 128 MB of shared buffers and 1 GB of WAL between checkpoints, make a million-row load
#: checkpoint several times), with memory for the SQL baseline's joins
SERVER_SETTINGS = {"shared_buffers": "1GB", "work_mem": "64MB", "maintenance_work_mem": "512MB", "max_wal_size": "8GB",
                   "checkpoint_timeout": "30min", "wal_buffers": "64MB"}


@contextmanager
def postgres(given=None) -> Iterator:
    """The run's PostgreSQL server: ``given`` (``python -m bench`` starts one for all the benchmarks it runs), or a
    throwaway one (:class:`cadastre.testing.TemporaryPostgres`) for a benchmark run on its own."""
    if given is not None:
        yield given
        return
    from cadastre.testing import TemporaryPostgres

    with TemporaryPostgres(SERVER_SETTINGS) as pg:
        yield pg


@contextmanager
def database(pg, name: str) -> Iterator[str]:
    """A new PostGIS database ``name`` on ``pg`` for one benchmark (its URL), dropped afterwards and the server
    checkpointed, so that the next benchmark finds it as this one did (no checkpoint of these writes still spread
    over the next one's measurements)."""
    import psycopg

    url = pg.create_database(name)
    try:
        yield url
    finally:
        pg.drop_database(name)
        with psycopg.connect(pg.url(), autocommit=True) as connection:
            connection.execute("CHECKPOINT")


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


#: what the server behind :func:`in_child` imports once, so that each step's process starts with it loaded: the
#: geospatial stack every step needs, the read baseline's pyogrio alone too; nothing of ours, so that a baseline's
#: peak memory does not carry our modules
PRELOAD = ["geopandas", "pyogrio"]


def start_forkserver() -> Callable[[], None]:
    """Start :func:`in_children`'s forkserver now: it imports :data:`PRELOAD` in the background, so its start-up
    overlaps the caller's own set-up. Returns a function that waits until the server has started a process (call
    it before measuring anything)."""
    import multiprocessing
    import os
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()

    def ready() -> None:
        in_child(os.getpid)  # answered once the server has imported PRELOAD

    return ready


def in_child(function: Callable, *args, **kwargs):
    """Run ``function(*args, **kwargs)`` (a module-level function) in a fresh process and return ``(its result, that
    process's peak resident memory in MB)``: the step's own peak, not whatever the benchmark process held before."""
    return in_children([partial(function, *args, **kwargs)])[0]


def in_children(calls: list[Callable], *, fork: bool = False) -> list[tuple[object, int]]:
    """Run the calls (partials of module-level functions) at once, each in a fresh process, and return each one's
    ``(result, peak resident memory in MB)`` in order. The first exception raised in a child is raised here.

    The processes are forked from multiprocessing's forkserver, which has imported :data:`PRELOAD` once, rather than
    spawned: a spawned interpreter spends a second importing the geospatial stack before it does anything. A forked
    process's VmHWM starts at its size at the fork, the preloaded modules, so its peak is still its own. Plain
    processes, not pool workers, so a step may start processes of its own.

    ``fork=True`` forks from this process instead, for set-up work whose memory is not reported: the children
    start with everything this process has imported, and take their arguments without pickling them."""
    import multiprocessing

    if fork:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # has effect only before the server's first start
    started = []
    for call in calls:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(send, call))
        process.start()
        send.close()
        started.append((process, receive, call))
    outcomes = []
    for process, receive, call in started:
        try:
            outcomes.append(receive.recv())
        except EOFError:
            outcomes.append(RuntimeError(f"{call.func.__name__} died"))
        finally:
            process.join()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


def _child(send, call: Callable) -> None:
    try:
        result = call()
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
