"""Read + normalise a county-scale package vs plain ``pyogrio.read_dataframe`` on the same files.

Goal (issue 3): read + normalise ≤ 1.5 × the baseline, on 100 000 parcels and 500 000 units.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyogrio

from bench.common import measure, peak_rss_mb, save
from cadastre.package import read_package
from cadastre.samples import Quirks, synthetic_county, write_package

GOAL = 1.5


def run(*, parcels: int, buildings: int, units: int, runs: int) -> dict:
    layers = synthetic_county(parcels, buildings, units)
    with tempfile.TemporaryDirectory(prefix="cadastre-bench-") as tmp:
        package = write_package(Path(tmp) / "county", layers, quirks=Quirks(container="folder", folder=""),
                                manifest={"county_code": "141031", "stage": "asbuilt"})
        files = sorted(package.glob("*.shp"))

        def baseline():
            for path in files:
                pyogrio.read_dataframe(path, encoding="GB18030", use_arrow=True)

        def ours():
            read_package(package)

        baseline()  # warm the page cache and GDAL once before timing either
        timings = measure({"pyogrio.read_dataframe": baseline, "read_package (read + normalise)": ours}, runs)
        plain, read = timings.values()
    ratio = read.median_s / plain.median_s
    result = {
        "sizes": {"parcels": parcels, "boundary_points": len(layers["JZD"]), "buildings": len(layers["ZRZ"]),
                  "units": len(layers["H"])},
        "baseline": plain, "measured": read, "ratio": round(ratio, 3), "goal": GOAL, "met": ratio <= GOAL,
        "peak_rss_mb": round(peak_rss_mb()),
    }
    save("read", result)
    return result


def report(result: dict) -> str:
    b, m = result["baseline"], result["measured"]
    verdict = "met" if result["met"] else "MISSED"
    return (f"read {result['sizes']}: pyogrio {b.median_s:.2f} s (min {b.min_s:.2f}, max {b.max_s:.2f}); "
            f"read_package {m.median_s:.2f} s (min {m.min_s:.2f}, max {m.max_s:.2f}); ratio {result['ratio']:.2f} "
            f"(goal ≤ {result['goal']}: {verdict}); peak RSS {result['peak_rss_mb']} MB")
