"""Read + normalise a county-scale package vs plain ``pyogrio.read_dataframe`` on the same files.

Goals, as ratios to the baseline measured in the same run (issue 26): read + normalise ≤ 1.2 × pyogrio on the package
of GBK shapefiles (100 000 parcels, 500 000 units); ≤ 1.5 × (issue 20) for the same layers delivered as a File
Geodatabase (``县.gdb``, as ArcGIS writes it), against pyogrio reading that ``.gdb``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyogrio

from bench.common import county_package, in_child, measure, save
from cadastre.read.package import read_package

GOAL = 1.2
GDB_GOAL = 1.5


def _baseline(files: list[Path]) -> None:
    for path in files:
        pyogrio.read_dataframe(path, encoding="GB18030", use_arrow=True)


def _ours(package: Path) -> None:
    read_package(package)


def _baseline_gdb(gdb: Path) -> None:
    for layer, _ in pyogrio.list_layers(gdb):
        pyogrio.read_dataframe(gdb, layer=layer, use_arrow=True)


def _ours_gdb(gdb: Path) -> None:
    read_package(gdb, county="141031")


def _filegdb(layers: dict, runs: int) -> dict:
    """The File Geodatabase variant: the same layers written by GDAL's OpenFileGDB driver, read both ways."""
    from cadastre.samples import Quirks, write_package

    with tempfile.TemporaryDirectory(prefix="cadastre-bench-gdb-") as tmp:
        gdb = write_package(Path(tmp) / "县.gdb", layers, quirks=Quirks(container="gdb"))
        _baseline_gdb(gdb)  # warm the page cache and GDAL once before timing either
        timings = measure({"pyogrio.read_dataframe (.gdb)": lambda: _baseline_gdb(gdb),
                           "read_package (.gdb)": lambda: _ours_gdb(gdb)}, runs)
    plain, read = timings.values()
    ratio = read.median_s / plain.median_s
    return {"baseline": plain, "measured": read, "ratio": round(ratio, 3), "goal": GDB_GOAL, "met": ratio <= GDB_GOAL}


def run(*, parcels: int, buildings: int, units: int, runs: int, county: tuple | None = None,
        quick: bool = False) -> dict:
    with county_package(parcels, buildings, units, county) as (layers, package):
        files = sorted(package.glob("*.shp"))

        _baseline(files)  # warm the page cache and GDAL once before timing either
        timings = measure({"pyogrio.read_dataframe": lambda: _baseline(files),
                           "read_package (read + normalise)": lambda: _ours(package)}, runs)
        plain, read = timings.values()
        # each side's own peak memory: one more run of each in a fresh process (not in a quick run: a smoke run of
        # the ratios)
        peak_plain = peak_ours = None
        if not quick:
            _, peak_plain = in_child(_baseline, files)
            _, peak_ours = in_child(_ours, package)
        filegdb = _filegdb(layers, runs)
    ratio = read.median_s / plain.median_s
    result = {
        "sizes": {"parcels": parcels, "boundary_points": len(layers["JZD"]), "buildings": len(layers["ZRZ"]),
                  "units": len(layers["H"])},
        "baseline": plain, "measured": read, "ratio": round(ratio, 3), "goal": GOAL, "met": ratio <= GOAL,
        "peak_rss_mb": peak_ours, "baseline_peak_rss_mb": peak_plain, "filegdb": filegdb,
    }
    save("read", result)
    return result


def report(result: dict) -> str:
    b, m = result["baseline"], result["measured"]
    verdict = "met" if result["met"] else "MISSED"
    return (f"read {result['sizes']}: pyogrio {b.median_s:.2f} s (min {b.min_s:.2f}, max {b.max_s:.2f}); "
            f"read_package {m.median_s:.2f} s (min {m.min_s:.2f}, max {m.max_s:.2f}); ratio {result['ratio']:.2f} "
            f"(goal ≤ {result['goal']}: {verdict})" +
            (f"; peak RSS {result['peak_rss_mb']} MB (pyogrio alone {result.get('baseline_peak_rss_mb', '—')} MB)"
             if result.get("peak_rss_mb") else "")
            + (f"; File Geodatabase: pyogrio {g['baseline'].median_s:.2f} s, read_package {g['measured'].median_s:.2f}"
               f" s, ratio {g['ratio']:.2f} ({'met' if g['met'] else 'MISSED'})" if (g := result.get("filegdb")) else ""))
