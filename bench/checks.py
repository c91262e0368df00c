"""Read + every rule on a county-scale package, against the usual way: load into PostGIS and run the same checks
as SQL (ST_IsValid, self-joins with the GiST index, ST_Within, boundary points by ST_DWithin).

Goals, as ratios to the SQL baseline measured in the same run (issue 26): every rule of the catalogue (read
excluded) ≤ 0.35 × the six SQL checks' time (after loading, which is not counted); our rules that do what the six
checks do ≤ 0.35 × too (issue 4). Peak memory ≤ 2 GB. Read + all rules in seconds is reported, not a goal (an
absolute time moves ±30 % with the machine's load).
Our side runs in a fresh process per run (``bench.common.in_child``), so its peak memory is its own.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import shapely

from bench.common import Timing, county_package, database, in_child, postgres, save

GOALS = {"all_rules_ratio": 0.35, "peak_mb": 2048, "ratio": 0.35}

SQL_CHECKS = {
    "validity (ST_IsValid)": """
        SELECT count(*) FROM (SELECT geom FROM parcel UNION ALL SELECT geom FROM zrz UNION ALL SELECT geom FROM h) g
        WHERE NOT ST_IsValid(geom)""",
    "parcel overlaps (self-join)": """
        SELECT count(*) FROM parcel a JOIN parcel b ON a.id < b.id AND a.geom && b.geom AND a.qlsdfs = b.qlsdfs
        WHERE ST_Area(ST_Intersection(a.geom, b.geom)) > 0.01""",
    "buildings within parcels (ST_Within)": """
        SELECT count(*) FROM zrz z JOIN parcel p ON p.zddm = z.zddm WHERE NOT ST_Within(z.geom, p.geom)""",
    "units within footprints (ST_Within)": """
        SELECT count(*) FROM h JOIN zrz z ON z.zddm = h.zddm AND z.zrzh = h.zrzh WHERE NOT ST_Within(h.geom, z.geom)""",
    "unit overlaps per building and floor": """
        SELECT count(*) FROM h a JOIN h b ON a.id < b.id AND a.zddm = b.zddm AND a.zrzh = b.zrzh AND a.sjc = b.sjc
        AND a.geom && b.geom WHERE ST_Area(ST_Intersection(a.geom, b.geom)) > 0.01""",
    "parcel vertices with a boundary point (ST_DWithin)": """
        SELECT count(*) FROM (SELECT DISTINCT (ST_DumpPoints(geom)).geom AS v FROM parcel) d
        WHERE NOT EXISTS (SELECT 1 FROM jzd j WHERE ST_DWithin(j.geom, d.v, 0.05))""",
}

#: our rules that do what SQL_CHECKS do (validity is checked while reading: GEO-001)
EQUIVALENT = {"TOP-001", "TOP-003", "TOP-004", "TOP-005", "TOP-006"}

def _read_and_check(package: str, equivalent: list[str]) -> dict:
    """One run of our side (in a fresh process, :func:`bench.common.in_child`): read the package, run every rule,
    then the rules that do what the SQL baseline does, timed alone. Seconds of each, and the findings' count."""
    import numpy as np

    from cadastre.qa.rules import RULES, CheckContext, load_rules, run_checks
    from cadastre.read.package import read_package

    load_rules()

    def check(rules: set[str]) -> int:
        found, done = 0, set()
        for stage in ("cadastral", "asbuilt"):  # the county package carries both kinds of layers: each rule once
            loaded.stage = stage
            todo = {r for r in rules if stage in RULES[r].stages} - done
            findings, _ = run_checks(CheckContext(loaded, loaded.county.tolerances, None), only=todo)
            found += len(findings)
            done |= todo
        return found

    t1 = time.perf_counter()
    loaded = read_package(package)
    t2 = time.perf_counter()
    found = check(set(RULES))
    t3 = time.perf_counter()
    for code in ("ZDJBXX", "ZRZ", "H"):  # validity: checked while reading (GEO-001), so timed here on its own
        shapely.is_valid(np.asarray(loaded.layers[code].geometry.values, dtype=object))
    check(set(equivalent))
    t4 = time.perf_counter()
    return {"read": t2 - t1, "checks": t3 - t2, "equivalent": t4 - t3, "findings": found}


def _ours(package: Path) -> dict:
    result, peak = in_child(_read_and_check, str(package), sorted(EQUIVALENT))
    return {**result, "peak_mb": peak}


def _load(url: str, layers) -> float:
    """COPY the package's layers into PostGIS and index them; returns seconds."""
    import psycopg

    start = time.perf_counter()
    tables = {
        "parcel": ("id int, zddm text, qlsdfs text, geom geometry(Polygon, 4525)", layers["ZDJBXX"],
                   lambda f: zip(f["ZDDM"], f["QLSDFS"], strict=True)),
        "jzd": ("id int, geom geometry(Point, 4525)", layers["JZD"], lambda f: ((),) * len(f)),
        "zrz": ("id int, zddm text, zrzh text, geom geometry(Polygon, 4525)", layers["ZRZ"],
                lambda f: zip(f["ZRZH"].str[:19], f["ZRZH"].str[20:], strict=True)),
        "h": ("id int, zddm text, zrzh text, sjc int, geom geometry(Polygon, 4525)", layers["H"],
              lambda f: zip(f["ZRZH"].str[:19], f["ZRZH"].str[20:], f["SJC"].astype(int), strict=True)),
    }
    with psycopg.connect(url, autocommit=True) as conn:
        for name, (columns, frame, attributes) in tables.items():
            conn.execute(f"CREATE TABLE {name} ({columns})")
            wkb = shapely.to_wkb(shapely.set_srid(frame.geometry.values, 4525), hex=True, include_srid=True)
            names = [c.split()[0] for c in columns.split(", ") if not c[0].isdigit()]
            with conn.cursor().copy(f"COPY {name} ({', '.join(names)}) FROM STDIN") as copy:
                for i, (values, geom) in enumerate(zip(attributes(frame), wkb, strict=True)):
                    copy.write_row((i, *values, geom))
            conn.execute(f"CREATE INDEX ON {name} USING gist (geom)")
        conn.execute("CREATE INDEX ON parcel (zddm)")
        conn.execute("CREATE INDEX ON zrz (zddm, zrzh)")
        conn.execute("CREATE INDEX ON h (zddm, zrzh, sjc)")
        conn.execute("ANALYZE")
    return time.perf_counter() - start


def _sql(url: str) -> dict[str, float]:
    import psycopg

    times = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name, sql in SQL_CHECKS.items():
            start = time.perf_counter()
            conn.execute(sql).fetchone()
            times[name] = time.perf_counter() - start
    return times


def _timing(name: str, values: list[float]) -> Timing:
    return Timing(name, statistics.median(values), min(values), max(values), len(values))


def run(*, parcels: int, buildings: int, units: int, runs: int, county: tuple | None = None, pg=None) -> dict:
    with county_package(parcels, buildings, units, county) as (layers, package):
        with postgres(pg) as server, database(server, "checks") as url:
            load = _load(url, layers)
            ours, theirs = [], []
            for _ in range(runs):  # interleaved
                ours.append(_ours(package))
                theirs.append(_sql(url))
    read = _timing("read_package", [o["read"] for o in ours])
    checks = _timing("all rules (shapely 2, vectorised)", [o["checks"] for o in ours])
    equivalent = _timing("the SQL baseline's checks, ours", [o["equivalent"] for o in ours])
    total = _timing("read + all rules", [o["read"] + o["checks"] for o in ours])
    sql = _timing("the same checks as PostGIS SQL", [sum(t.values()) for t in theirs])
    per_query = {name: _timing(name, [t[name] for t in theirs]) for name in SQL_CHECKS}
    peak = max(o["peak_mb"] for o in ours)
    ratio = equivalent.median_s / sql.median_s
    all_rules = checks.median_s / sql.median_s
    result = {
        "sizes": {"parcels": parcels, "boundary_points": len(layers["JZD"]), "buildings": len(layers["ZRZ"]),
                  "units": len(layers["H"])},
        "read": read, "checks": checks, "equivalent_checks": equivalent, "read_and_checks": total,
        "baseline_sql": sql, "baseline_queries": per_query, "all_rules_vs_sql": round(all_rules, 3),
        "baseline_load_s": round(load, 2), "peak_mb": round(peak), "ratio": round(ratio, 3), "goals": GOALS,
        "met": {"all_rules_ratio": all_rules <= GOALS["all_rules_ratio"], "peak_mb": peak <= GOALS["peak_mb"],
                "ratio": ratio <= GOALS["ratio"]},
        "findings": ours[0]["findings"],
    }
    save("checks", result)
    return result


def report(result: dict) -> str:
    r, c, t, s = result["read"], result["checks"], result["read_and_checks"], result["baseline_sql"]
    met = {k: "met" if v else "MISSED" for k, v in result["met"].items()}
    lines = [f"checks {result['sizes']}: read {r.median_s:.2f} s + all rules {c.median_s:.2f} s = {t.median_s:.2f} s; "
             f"all rules vs the SQL checks {result['all_rules_vs_sql']:.2f} (goal ≤ {result['goals']['all_rules_ratio']}: "
             f"{met['all_rules_ratio']}); peak {result['peak_mb']} MB (goal ≤ {result['goals']['peak_mb']} MB: {met['peak_mb']})",
             f"  same checks: ours {result['equivalent_checks'].median_s:.2f} s, PostGIS SQL {s.median_s:.2f} s "
             f"(min {s.min_s:.2f}, max {s.max_s:.2f}) after {result['baseline_load_s']} s of loading; "
             f"ratio {result['ratio']:.2f} (goal ≤ {result['goals']['ratio']}: {met['ratio']})"]
    lines += [f"    {name}: {q.median_s:.2f} s" for name, q in result["baseline_queries"].items()]
    return "\n".join(lines)
