"""The county's existing registry imported whole (issue 22): the benchmark county's parcels, buildings and units
with their codes already issued, plus a table of every code ever issued with some retired, imported by
``Registry.import_baseline`` on SpatiaLite and on PostGIS, each in a fresh process and a fresh registry, against
reading + checking the same lot (``read_baseline`` + ``check_baseline_alone``) in the same run: before the first
import and again after each, an import's floor the mean of the runs either side (the machine's speed drifts by a
third within minutes; a floor measured once, minutes before the second engine's import, compared unlike times).

Goal: the whole import ≤ 3× reading + checking, ≤ 3 GB peak.
"""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import database, in_child, in_children, postgres, save

GOALS = {"ratio": 3.0, "peak_mb": 3072}
COUNTY = "141031"


def legacy_layers(*, parcels: int, buildings: int, units: int) -> dict:
    """The synthetic county as an old registry's export: codes on every parcel and unit, units as a table that
    carries only its code (its 宗地代码 and 幢号 are inside it), and DYDM: every current code plus one retired unit
    code per building."""
    import geopandas as gpd

    from cadastre.samples import inside_subdistricts, synthetic_county

    county = inside_subdistricts(synthetic_county(parcels, buildings, units), COUNTY)
    zrz = county["ZRZ"].copy()
    long = zrz["ZRZH"].astype(str)
    zrz["ZDDM"], zrz["ZRZH"] = long.str[:19], long.str[20:]
    h = county["H"].copy()
    serial = h.groupby("ZRZH").cumcount().to_numpy() + 1
    h["BDCDYH"] = h["ZRZH"].astype(str) + pd.Series(serial).map("{:04d}".format).to_numpy()
    h = gpd.GeoDataFrame(h.drop(columns=["ZRZH"]), geometry=[None] * len(h), crs=h.crs)
    last = h.groupby(h["BDCDYH"].str[:24])["BDCDYH"].max()
    retired = [f"{code[:24]}{int(code[24:]) + 1:04d}" for code in last]
    current = np.concatenate([county["ZDJBXX"]["ZDDM"].to_numpy(object), h["BDCDYH"].to_numpy(object)])
    dydm = gpd.GeoDataFrame({"BDCDYH": np.concatenate([current, retired]),
                             "ZT": ["现势"] * len(current) + ["注销"] * len(retired)}, geometry=[None] * (
        len(current) + len(retired)), crs=h.crs)
    return {"ZDJBXX": county["ZDJBXX"], "JZD": county["JZD"], "ZRZ": zrz, "H": h, "DYDM": dydm}


def _read_and_check(path: str) -> dict:
    from cadastre.qa.baseline import check_baseline_alone
    from cadastre.read.baseline import read_baseline

    t1 = time.perf_counter()
    package = read_baseline(path, county=COUNTY)
    t2 = time.perf_counter()
    found = check_baseline_alone(package).findings
    return {"read": t2 - t1, "check": time.perf_counter() - t2, "findings": len(found)}


def _import(url: str, path: str, zoning: str) -> dict:
    from cadastre.registry import init_registry

    registry = init_registry(url, [COUNTY])
    try:
        registry.import_zoning(zoning)
        start = time.perf_counter()
        result = registry.import_baseline(path)
        seconds = time.perf_counter() - start
        if result.status != "imported":
            raise RuntimeError(f"the baseline was {result.status}: {result.report.findings_list()[:5]}")
        return {"seconds": seconds, "imported": result.imported, "phases": result.seconds}
    finally:
        registry.close()


def run(*, parcels: int, buildings: int, units: int, pg=None, quick: bool = False) -> dict:
    from cadastre.samples import Quirks, write_package, write_zoning_package

    layers = legacy_layers(parcels=parcels, buildings=buildings, units=units)
    with tempfile.TemporaryDirectory(prefix="cadastre-bench-baseline-") as tmp:
        lot = write_package(Path(tmp) / "legacy", layers, quirks=Quirks(container="folder", folder="", tables="dbf"),
                            manifest={"county_code": COUNTY, "stage": "baseline"})
        zoning = write_zoning_package(Path(tmp), COUNTY)
        peer = partial(in_child, _read_and_check, str(lot))
        peers = [peer()]
        engines = {}
        with postgres(pg) as server, database(server, "baseline") as url:
            imports = [partial(_import, f"sqlite:///{tmp}/baseline.sqlite", str(lot), str(zoning)),
                       partial(_import, url, str(lot), str(zoning))]
            if quick:  # a smoke run: both engines at once
                done = in_children(imports)
            else:  # one after the other, the peer again after each: an import's floor is the peers either side
                done = []
                for call in imports:
                    done.append(in_children([call])[0])
                    peers.append(peer())
        for k, (name, (imported, peak)) in enumerate(zip(("SpatiaLite", "PostGIS"), done, strict=True)):
            around = peers[k:k + 2] if len(peers) > 1 else peers
            floor = float(np.mean([p["read"] + p["check"] for p, _ in around]))
            engines[name] = {**imported, "peak_mb": round(peak), "floor_s": round(floor, 2),
                             "ratio": round(imported["seconds"] / floor, 2)}
    for e in engines.values():
        e["met"] = {"ratio": e["ratio"] <= GOALS["ratio"], "peak_mb": e["peak_mb"] <= GOALS["peak_mb"]}
        e["seconds"] = round(e["seconds"], 2)
    median = lambda key: round(float(np.median([p[key] for p, _ in peers])), 2)  # noqa: E731
    result = {"sizes": {"parcels": len(layers["ZDJBXX"]), "buildings": len(layers["ZRZ"]), "units": len(layers["H"]),
                        "codes": len(layers["DYDM"])},
              "read_s": median("read"), "check_s": median("check"),
              "peers_s": [round(p["read"] + p["check"], 2) for p, _ in peers],
              "peer_peak_mb": round(max(peak for _, peak in peers)), "findings": peers[0][0]["findings"],
              "engines": engines, "goals": GOALS}
    save("baseline", result)
    return result


def report(result: dict) -> str:
    lines = [f"baseline import {result['sizes']}: read {result['read_s']:.2f} s + check {result['check_s']:.2f} s "
             f"(medians; each run {result['peers_s']} s; peak {result['peer_peak_mb']} MB)"]
    for name, e in result["engines"].items():
        verdict = "met" if all(e["met"].values()) else "MISSED"
        lines.append(f"  {name}: whole import {e['seconds']:.2f} s = {e['ratio']:.2f}× read + check "
                     f"({e['floor_s']:.2f} s, the runs either side), peak "
                     f"{e['peak_mb']} MB (goal ≤ {GOALS['ratio']}×, ≤ {GOALS['peak_mb']} MB: {verdict}); phases "
                     f"{e['phases']}")
    return "\n".join(lines)
