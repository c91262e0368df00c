"""``python -m bench [--quick] [--only NAME]``: run the benchmarks, print one line each, and write
``bench/results/latest.json`` and ``docs/benchmarks.md`` (see ``bench/report.py``)."""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

from bench import common, report  # light: the benchmarks' modules (our whole stack) are imported in main()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="a hundredth of the data, for a run under a minute that "
                                                             "prints every ratio (a smoke run, not a measurement)")
    parser.add_argument("--runs", type=int, help="runs of each timing (default 3; 1 with --quick, a smoke run)")
    parser.add_argument("--only", choices=list(report.ORDER), help="run one benchmark")
    args = parser.parse_args()
    scale = 100 if args.quick else 1
    if args.quick:  # a hundredth of the data: its results apart from the full run's
        common.RESULTS = common.RESULTS / "quick"
    runs = args.runs or (1 if args.quick else 3)
    sizes = {"parcels": 100_000 // scale, "buildings": 10_000 // scale, "units": 500_000 // scale}
    ran = []
    started = time.perf_counter()
    def step(name: str, module, **kwargs) -> None:
        start = time.perf_counter()
        print(module.report(module.run(**kwargs)), flush=True)
        print(f"  ({name}: {time.perf_counter() - start:.0f} s)", flush=True)
        ran.append(name)

    with ExitStack() as stack:
        # set-up that overlaps, before anything is measured: the forkserver behind common.in_child imports the
        # geospatial stack and one PostgreSQL server for every benchmark that needs one starts (each benchmark works
        # in a database of its own) while the county package is generated
        forkserver_ready = common.start_forkserver()
        with ThreadPoolExecutor(1) as background:
            starting = background.submit(stack.enter_context, common.postgres()) \
                if args.only not in ("read", "documents", "events", "project") else None
            # our stack imported meanwhile (3 s), not before the server and the forkserver start
            from bench import baseline, checks, documents, events, http, project, read, store
            if args.only in (None, "read", "checks"):
                county = stack.enter_context(common.county_package(**sizes))  # written once for both
        pg = starting.result() if starting else None
        forkserver_ready()
        if args.only in (None, "read"):
            step("read", read, **sizes, runs=runs, county=county, quick=args.quick)
        if args.only in (None, "checks"):
            step("checks", checks, **sizes, runs=runs, county=county, pg=pg)
        if args.only in (None, "store"):
            step("store", store, units=1_000_000 // scale, runs=runs, pg=pg, quick=args.quick)
        if args.only in (None, "baseline"):
            step("baseline", baseline, **sizes, pg=pg, quick=args.quick)
        if args.only in (None, "documents"):
            step("documents", documents, runs=runs, floors=30 // (10 if args.quick else 1))
        if args.only in (None, "events"):
            step("events", events, parcels=10_000 // scale, runs=runs, feed_events=100_000 // scale)
        if args.only in (None, "project"):
            step("project", project, buildings=200 // scale or 2, runs=runs, quick=args.quick)
        if args.only in (None, "http"):
            step("http", http, **sizes, seconds=1 if args.quick else 10, quick=args.quick, pg=pg)
    print(f"results: {report.write(ran, quick=args.quick)}, {common.RESULTS / 'latest.json'} "
          f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
