"""The benchmarks' results as one file and one table: ``bench/results/latest.json`` and ``docs/benchmarks.md``
(a quick run writes ``bench/results/quick/`` instead, and leaves the full run's table alone).

Written by ``python -m bench`` after the benchmarks it ran (from their ``bench/results/<name>.json``), never by
hand. Every row gives our figure (median, with min and max where repeated), the baseline measured in the same
run, the ratio, the goal, and whether it was met — a missed goal says so plainly.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench import common
from bench.common import machine

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
QUICK_DOCS = common.RESULTS / "quick" / "benchmarks.md"  # a quick run's table: not the one the README links
ORDER = ("read", "checks", "store", "baseline", "project", "documents", "events", "http")


def _s(t: dict) -> str:
    if t["runs"] == 1:
        return f"{t['median_s']:.2f} s (1 run)"
    return f"{t['median_s']:.2f} s ({t['min_s']:.2f}–{t['max_s']:.2f}, {t['runs']} runs)"


def _summary(times: list[float]) -> str:
    """Seconds of repeated runs as :func:`_s` writes a timing."""
    return _s({"runs": len(times), "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)})


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _read(r: dict) -> list[list[str]]:
    return [["read + normalise the county package", _s(r["measured"]), f"`pyogrio.read_dataframe`: {_s(r['baseline'])}",
             f"{r['ratio']:.2f}", f"≤ {r['goal']}×: {_verdict(r['met'])}",
             "—" if r.get("peak_rss_mb") is None else f"{r['peak_rss_mb']} MB" + (
                 f" (pyogrio alone {r['baseline_peak_rss_mb']} MB)" if r.get("baseline_peak_rss_mb") else "")]] + (
        [["read + normalise the same layers as a File Geodatabase", _s(g["measured"]),
          f"`pyogrio.read_dataframe` on the `.gdb`: {_s(g['baseline'])}", f"{g['ratio']:.2f}",
          f"≤ {g.get('goal', 1.5)}×: {_verdict(g['met'])}", "—"]] if (g := r.get("filegdb")) else [])


def _checks(r: dict) -> list[list[str]]:
    g, met = r["goals"], r["met"]
    sql = f"the six PostGIS SQL checks (after {r['baseline_load_s']} s of loading): {_s(r['baseline_sql'])}"
    if "all_rules_ratio" not in g:  # a result of before issue 26: its goal was read + every rule in seconds
        return [["read + every rule", _s(r["read_and_checks"]), "—", "—", "— (a result of before issue 26)",
                 f"{r['peak_mb']} MB"],
                ["the SQL baseline's six checks, ours", _s(r["equivalent_checks"]), sql, f"{r['ratio']:.2f}",
                 f"≤ {g['ratio']}×: {_verdict(met['ratio'])}", "—"]]
    return [
        ["every rule of the catalogue, read excluded (read + every rule: "
         f"{r['read_and_checks']['median_s']:.2f} s)", _s(r["checks"]), sql, f"{r['all_rules_vs_sql']:.2f}",
         f"≤ {g['all_rules_ratio']}×: {_verdict(met['all_rules_ratio'])}; ≤ {g['peak_mb']} MB: "
         f"{_verdict(met['peak_mb'])}", f"{r['peak_mb']} MB"],
        ["the SQL baseline's six checks, ours", _s(r["equivalent_checks"]), sql, f"{r['ratio']:.2f}",
         f"≤ {g['ratio']}×: {_verdict(met['ratio'])}", "—"],
    ]


def _store(r: dict) -> list[list[str]]:
    rows = []
    for name, e in r["engines"].items():
        if "ratio" in e:
            peer, ratio = f"the same rows without geometry: {_s(e['without_geometry'])}", f"{e['ratio']:.2f}"
            goal = f"≤ {r['goal_ratio']}×: {_verdict(e['met'])} ({e['per_million_s']:.1f} s per million)"
        else:  # a result of before issue 26: its goal was seconds per million
            peer, ratio = f"the same rows without geometry: {e['without_geometry_s']:.2f} s", \
                f"{e['with_geometry']['median_s'] / e['without_geometry_s']:.2f}"
            goal = "— (a result of before issue 26)"
        rows.append([f"allocate codes + store {r['units']:,} units with geometry, {name}", _s(e["with_geometry"]),
                     peer, ratio, goal, f"{e['peak_mb']} MB" if "peak_mb" in e else "—"])
        c = e.get("concurrent")
        if c:
            rows.append([f"the same with {c['writers']} concurrent writers, {name}", f"{c['wall_s']:.2f} s (wall)",
                         f"one writer: {e['with_geometry']['median_s']:.2f} s", f"{c['wall_s'] / e['with_geometry']['median_s']:.2f}",
                         f"no duplicate code: {_verdict(c['duplicates'] == 0)} ({c['codes']:,} codes)", "—"])
    return rows


def _server_memory(memory: dict | None) -> str:
    if not memory:
        return "—"
    return f"server: {memory['largest_mb']} MB per process at most, {memory['total_mb']} MB in all ({memory['processes']})"


def _http(r: dict) -> list[list[str]]:
    rows, g = [], r["goals"]
    ratios = "throughput_ratio" in g  # results of before issue 26 had absolute goals
    for name, e in r["engines"].items():
        lat, load, base = e["parcel_lookup"].get("latency"), e["parcel_lookup"]["load"], e["baseline"]["load"]
        met = e["met"]
        workers = f"{r['workers']} worker" + ("s" if r["workers"] > 1 else "")
        rows.append([f"HTTP point lookup `GET /api/parcels/{{zddm}}`, {workers}, 8 clients, {name}",
                     f"{load['requests_per_s']:,.0f} req/s (p99 {load['p99_ms']:.1f} ms)" +
                     (f"; 1 client: p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms" if lat else ""),
                     f"plain FastAPI + one SQL query: {base['requests_per_s']:,.0f} req/s",
                     f"{e['throughput_vs_baseline']:.2f}",
                     f"≥ {g['throughput_ratio']}×: {_verdict(met['throughput_ratio'])}" if ratios else
                     "— (a result of before issue 26)", _server_memory(e.get("server_memory"))])
        tipg = e.get("tipg") or {}
        if tipg.get("installed"):
            rows.append([f"the same lookup served by tipg {tipg['version']} (one feature by row id), {name}",
                         f"ours: {load['requests_per_s']:,.0f} req/s", f"tipg: {tipg['load']['requests_per_s']:,.0f} req/s "
                         f"(1 client p50 {tipg['latency']['p50_ms']:.2f} ms)", f"{e['throughput_vs_tipg']:.2f}",
                         f"at least their throughput: {_verdict(e['throughput_vs_tipg'] >= 1)}", "—"])
        q = e.get("search")
        if q:
            rows.append([f"HTTP search `GET /api/search?q=` as clerks type (codes with blanks, code starts, 坐落 words, "
                         f"rooms), 1 client, {name}", f"p50 {q['p50_ms']:.1f} ms, p95 {q['p95_ms']:.1f} ms", "—", "—",
                         "— (reported)", "—"])
        t, tb = e["tiles"], r["engines"].get("PostGIS", {}).get("tiles_baseline")
        ratio = e.get("tiles_vs_st_asmvt")
        rows.append([f"vector tile, parcels at zoom {t['zoom']} (the busiest), {t['count']} tiles, {name}",
                     f"p95 {t['p95_ms']:.1f} ms, p50 {t['p50_ms']:.1f} ms (largest {t['largest_kb']} KB)",
                     f"one PostGIS `ST_AsMVT` query per tile: p95 {tb['p95_ms']:.1f} ms, p50 {tb['p50_ms']:.1f} ms"
                     if tb else "—", f"{ratio:.2f}" if ratio is not None else "—",
                     f"≤ {g['tile_ratio']}×: {_verdict(met['tile_ratio'])}" if ratio is not None else "—", "—"])
    return rows


def _baseline(r: dict) -> list[list[str]]:
    sizes = r["sizes"]
    return [[f"baseline import of the county ({sizes['parcels']:,} parcels, {sizes['units']:,} units, "
             f"{sizes['codes']:,} codes), {name}", f"{e['seconds']:.2f} s (1 run)",
             f"reading + checking the same lot: {e.get('floor_s', r['read_s'] + r['check_s']):.2f} s "
             f"(the runs before and after)", f"{e['ratio']:.2f}",
             f"≤ {r['goals']['ratio']:.0f}×: {_verdict(e['met']['ratio'])}; ≤ {r['goals']['peak_mb']} MB: "
             f"{_verdict(e['met']['peak_mb'])}", f"{e['peak_mb']} MB"] for name, e in r["engines"].items()]


def _documents(r: dict) -> list[list[str]]:
    m = statistics.median

    def _s(times: list[float]) -> str:
        return _summary(times)

    return [[f"首次登记 file of a {r['floors']}-floor building, {r['units']} units ({r['pages']} PDF pages, "
             f"{r['file_kb']} KB), SpatiaLite", f"{_s(r['file_s'])}: {r['pages_per_s']} pages/s",
             f"its 楼盘表 (xlsx): {_s(r['table_s'])}", f"{r['file_vs_table']}", "— (reported beside the 楼盘表)", "—"],
            [f"宗地图 / 界址点成果表 of a parcel with {r['points']} boundary points", f"{m(r['parcel_map_s']) * 1000:.0f} ms / "
             f"{m(r['boundary_points_s']) * 1000:.0f} ms", "—", "—", "—", "—"]]


def _events(r: dict) -> list[list[str]]:
    f = r["feed"]
    return [[f"ingest of {r['parcels']:,} parcels with two live webhook subscriptions, SpatiaLite",
             _summary(r["with_two_s"]) + f"; {r['delivered']} deliveries done {r['delivered_after_s']} s after the commit",
             f"the same ingest without subscriptions: {_summary(r['without_s'])}",
             f"{r['ratio']:.2f}", "— (overhead, reported)", "—"],
            [f"event feed: {f['events']:,} events read in pages of 1 000, SpatiaLite",
             f"{f['events_per_s']:,} events/s ({f['read_s']} s)", f"writing them: {f['write_s']} s", "—", "—", "—"]]


def _project(r: dict) -> list[list[str]]:
    return [[f"project upload → accepted with its report ({r['buildings']} buildings, {r['units']:,} units, as built "
             f"after their pre-sale survey), SpatiaLite", _summary(r["upload_to_accepted_s"]) +
             (f"; the report page read {statistics.median(r['upload_to_report_s']) - statistics.median(r['upload_to_accepted_s']):.2f}"
              " s later" if r.get("report_kb") else ""),
             f"reading + checking the same package: {_summary(r['read_and_check_s'])}" +
             (f" + SQLite alone writing the rows the accept writes (ended, inserted, lineage, commit): "
              f"{_summary(r['bare_writes_s'])}" if r.get("bare_writes_s") else ""),
             f"{r['ratio']:.2f}" + (f" ({r['ratio_to_read_and_check']:.2f} to reading + checking alone)"
                                    if "ratio_to_read_and_check" in r else ""),
             f"≤ {r['goal']}×: {_verdict(r['met'])}", f"server: {r['server_peak_mb']} MB"]]


ROWS = {"read": _read, "project": _project, "checks": _checks, "store": _store, "baseline": _baseline, "documents": _documents,
        "events": _events, "http": _http}


#: how each benchmark's rows begin in the table: a benchmark without results here (``--only`` another one, on a
#: machine that never ran it) keeps its rows from the table as it was, measured date and all
ROW_STARTS = {"read": ("read + normalise",), "checks": ("every rule", "read + every rule", "the SQL baseline's"),
              "store": ("allocate codes", "the same with 4 concurrent writers"),
              "baseline": ("baseline import",), "project": ("project upload",),
              "documents": ("首次登记 file", "宗地图 / 界址点成果表"),
              "events": ("ingest of", "event feed"),
              "http": ("HTTP point lookup", "HTTP search", "vector tile", "the same lookup served by tipg")}


#: what the remaining time of each benchmark goes to, from profiles (py-spy, pyinstrument, cProfile) taken while
#: working on it — written by hand, kept with the code that produces the figures; say when it was measured
DOMINATES = {
    "read": "GDAL reading and recoding the files inside `pyogrio.read_dataframe`, the floor itself — now two layers at "
            "a time (GDAL decodes with the GIL released), the largest files first, so the county's units load beside "
            "its parcels: read_package 14.5 → 10.8 s on the county in process, under the floor's sequential 11.5 s. "
            "The rest (pyinstrument, county): normalising 1.6 s — geometry validity 0.6 s (GEOS `is_valid` on both "
            "cores), the 幢号 forms 0.37 s, typing the fields 0.19 s, making the GeoDataFrame 0.18 s — the encoding "
            "decision 0.4 s (decoding a layer's Chinese text in full to be sure of it) and the CRS decision 0.2 s. "
            "Also removed this round (normalising 2.34 → 1.59 s): a regular expression over every value for "
            "non-ASCII text and for `3.0` codes, the per-field scan of DBFs whose records are all ASCII, rows "
            "assigned one by one into Arrow strings, natural keys where every feature has its BSM, the garbage "
            "collector's passes.",
    "checks": "Per rule on a fifth of the county, read excluded (2.4 s for every rule): the package's structure "
              "(单元 and room keys from the labels with Arrow's regex kernels: 0.25–0.45 s), unit overlaps (box "
              "candidates from one STRtree: 0.3 s), boundary points (two KD-tree queries: 0.2 s), units within their "
              "footprints (prepared `covers`: 0.2 s), near misses (0.2–0.3 s), GEO-003 (0.16 s). Removed this round: "
              "copying every unit's geometry to keep floors apart (the boxes are moved instead), exact intersections "
              "of units that share a wall (two shapes overlap by no more than their boxes), the tree's `dwithin` on "
              "both orders of a pair, a ring object per hole-free polygon, the cyclic garbage collector's full "
              "passes over the loaded package while rules make their arrays (paused: `cadastre.core.collector`). "
              "Since: the parcels' boundary vertices and their KD-tree are made once for TOP-006 and TOP-008 "
              "(`CheckContext.shared`), and KD-trees split at midpoints without shrinking their boxes (the county's "
              "700 000 vertices: built in 0.07 s instead of 0.17–0.21 s, queried as fast): every rule on the whole "
              "county in process 5.25 / 4.22 → 4.56 / 3.56 s (first / second run), the same findings.",
    "store": "SpatiaLite: SQLite's B-tree inserts into the table and its five indexes, for both runs; binding "
             "each row's parameters in Python's driver is most of the `executemany`. What the geometry adds "
             "(pyinstrument, 10^6 units): the blobs 0.7 s, the R*Tree bulk load 0.8 s (packing 0.3 s, its `%_rowid` "
             "table 0.4 s), the longer rows written. The geometry goes in as SpatiaLite's own blob, written in bulk "
             "for the shapes nearly every row has (`store.spatialite_blob`, byte for byte what `GeomFromWKB` makes), "
             "the `%_rowid` rows as one statement. This round, for both runs: a column holding one value in every "
             "row (the package, the stage, the time, the columns left empty) is written into the statement instead "
             "of bound per row (`store.bulk.sqlite_insert`), and the WAL is copied into the file by a thread after "
             "the commit instead of inside it (`store.checkpoint`): `--only store` 10.40 / 7.89 s → 8.76 / 6.46 s "
             "(1.32× → 1.35×); inside a full run 1.62× (11.9 / 7.3 s) → 1.44× (9.05 / 6.27 s): after the other "
             "benchmarks' writes the longer rows cost more. PostGIS: binary COPY; the server is the limit (the client's CPU is 6–7 s "
             "of 21–23 s): two foreign-key checks per row, the SP-GiST index, four B-tree indexes; in isolation "
             "1.05–1.24×.",
    "baseline": "Storing: buildings, units and floors, then parcels, then issuing the codes and marks (the "
                "`phases` of `bench/results/baseline.json`); reading and checking are a third. This round (pyinstrument "
                "on PostGIS): the lot's 59 868 warnings were stored a row at a time through SQLAlchemy (8.7 s) and "
                "listed row by row twice (1.2 s each), the 608 052 codes sent by `COPY` row by row (12.8 s): now "
                "`store.bulk.insert_columns` (binary COPY / one executemany) and lists built column by column "
                "(findings 2.1 s, codes 6.4 s). A code column's failures are explained once per distinct value: the "
                "check 7.4 → 5.4 s, which lowers the floor as much. The floor is now measured before the first "
                "import and after each; its runs still differ by a third.",
    "project": "The floor is reading + checking the package (0.85–1.05 s) and SQLite alone writing the rows an "
               "as-built survey must write (40 800 pre-sale rows ended, 40 800 inserted, 40 800 lineage rows for the "
               "parcel's W code, the commit: 0.62–0.9 s, `_bare_writes`); the goal was ≤ 2× reading + checking "
               "before those writes were measured (they left the rest of the accept < 0.2 s), and is now ≤ 1.5× "
               "the floor, the store row's allowance; the ratio to reading + checking alone is shown beside it. In "
               "process (phase timers, pyinstrument): reading 0.54–0.6 s, checking 0.24–0.3 s, storing 1.0–1.1 s "
               "(1.26 s before this round): inserting the units 0.25–0.3 s in `executemany`, the R*Tree rebuilt with "
               "the pre-sale entries 0.06 s, reading the pre-sale units 0.085 s, the report stored 0.085 s, matching "
               "0.1 s. This round: the pre-sale rows are ended on a second thread while the as-built units are "
               "matched to them, and the codes' lineage written while the report's lists are made "
               "(`store.engine.meanwhile`: the database works with the GIL released; 0.25 s of statements "
               "overlapped), the lineage and new codes as one statement over a JSON array "
               "(`store.bulk.sqlite_insert`), text and float columns converted without a round trip through "
               "Arrow, the floors ended with SpatiaLite's per-row trigger suspended, numbering planned only for the "
               "units that need a number, the area comparison's rows made as dict displays, the R*Tree's entries "
               "decoded from its leaves, the progress row written at most every 0.25 s (the check had written a "
               "percent every 0.02 s, each a commit and an answer): over HTTP 2.43–2.57 → 2.18 s alone and 1.98 s in "
               "the full run (1.36× the floor both times; 2.33× and 2.41× reading + checking). Over HTTP the server adds ~0.15 s (receiving, the final state's summary "
               "parsed by SQLite from the 14 MB report: 0.03 s). Removed earlier: the state's 13 MB of per-unit "
               "lists, polling every 0.5 s, binding NULLs and blobs through the driver's failing adaptation lookup, "
               "one statement per ended row, the WAL checkpoint inside the commit, shared values bound per row, the "
               "garbage collector's repeated full passes over the package, the report parsed and encoded again.",
    "documents": "reportlab drawing text (every 房产分户图 page draws its labels and the unit's outline); the "
                 "C accelerators took it from 59 to ~90 pages/s.",
    "events": "The outbox rows are written inside the ingest's transaction; a delivery is one HTTP request after "
              "the commit.",
    "http": "Parcel card, in process through the ASGI interface (no network): FastAPI's dependency solving for the "
            "token and the route's permission (11 nested `solve_dependencies` calls a request), route matching and "
            "the response; the card's three queries take 0.35 ms in SQLite. On PostGIS the card and the unit now "
            "wait for the database on the event loop, through psycopg's `AsyncConnection` (`Registry.parcel_async`, "
            "a pool of 10 per loop): handed to the thread pool, the hand-off and the threads' contention for the GIL "
            "were the gap (py-spy: one worker read 0.58–0.69× its peer so, 1.24–1.39× on the loop). The async pool "
            "does not ping before lending (the ping through the async adaptation cost 0.6 of 2.6 ms a card, in "
            "process); a dead connection is invalidated and the lookup tried once more. What remains under load is "
            "the two workers' CPU beside `wrk` and PostgreSQL on two cores: psycopg's waiting in Python (its async "
            "waits are not in C), column descriptions rebuilt per cursor, FastAPI's dependencies. Tiles: not "
            "profiled this round.",
}


def _carried(target: Path, name: str) -> list[str]:
    if not target.exists():
        return []
    return [line for line in target.read_text().splitlines()
            if line.startswith("| ") and line[2:].startswith(ROW_STARTS[name])]


def write(ran: list[str], *, quick: bool) -> Path:
    """Gather the results of the benchmarks run now (and the latest of the others) into latest.json and
    docs/benchmarks.md."""
    results = {}
    for name in ORDER:
        path = common.RESULTS / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    (common.RESULTS / "latest.json").write_text(json.dumps(
        {"machine": machine(), "quick": quick, "ran": ran, "results": results}, ensure_ascii=False, indent=2))
    m = machine()
    lines = ["# Benchmarks", "",
             "Written by `make bench` (`python -m bench`) from `bench/results/*.json`; do not edit by hand. "
             "Each figure is a median over repeated runs (min–max in brackets) with its baseline measured in the same "
             "run; every goal is a ratio to that baseline (a floor or a peer), since an absolute time moves ±30 % "
             "from run to run on these shared machines. Absolute figures are given as information.", "",
             f"Machine: {m['platform']}, Python {m['python']}, GDAL {m['gdal']}, GEOS {m['geos']}, shapely "
             f"{m['shapely']}, geopandas {m['geopandas']}, pyogrio {m['pyogrio']}. Written {m['date']}"
             f"{' (QUICK: a hundredth of the data, one run each: a smoke run)' if quick else ''}.", "",
             "| what | ours | baseline | ratio | goal | peak memory | measured |", "|---|---|---|---|---|---|---|"]
    target = QUICK_DOCS if quick else DOCS
    for name in ORDER:
        if name in results:
            when = results[name]["machine"]["date"][:16].replace("T", " ")
            for row in ROWS[name](results[name]):
                lines.append("| " + " | ".join([*row, when]) + " |")
        else:
            lines += _carried(target, name)
    lines += ["", "## What dominates the remaining time", ""]
    lines += [f"- **{name}**: {DOMINATES[name]}" for name in ORDER if name in DOMINATES]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    return target
