"""``python -m bench [--quick] [--only NAME]``: run the benchmarks, print one line each, and write
``bench/results/latest.json`` and ``docs/benchmarks.md`` (see ``bench/report.py``)."""

from __future__ import annotations

import argparse
import time

from bench import checks, common, http, read, report, store


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, for a run under a minute")
    parser.add_argument("--runs", type=int, help="repeated runs of each timing (default 3; 2 with --quick)")
    parser.add_argument("--only", choices=["read", "checks", "store", "http"], help="run one benchmark")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    if args.quick:  # a tenth of the data: its results apart from the full run's
        common.RESULTS = common.RESULTS / "quick"
    runs = args.runs or (2 if args.quick else 3)
    sizes = {"parcels": 100_000 // scale, "buildings": 10_000 // scale, "units": 500_000 // scale}
    ran = []
    started = time.perf_counter()
    def step(name: str, module, **kwargs) -> None:
        start = time.perf_counter()
        print(module.report(module.run(**kwargs)), flush=True)
        print(f"  ({name}: {time.perf_counter() - start:.0f} s)", flush=True)
        ran.append(name)

    if args.only in (None, "read", "checks"):
        with common.county_package(**sizes) as county:  # written once for both
            for name, module in (("read", read), ("checks", checks)):
                if args.only in (None, name):
                    step(name, module, **sizes, runs=runs, county=county)
    if args.only in (None, "store"):
        step("store", store, units=1_000_000 // scale, runs=runs)
    if args.only in (None, "http"):
        step("http", http, **sizes, seconds=1 if args.quick else 10, quick=args.quick)
    print(f"results: {report.write(ran, quick=args.quick)}, {common.RESULTS / 'latest.json'} "
          f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
