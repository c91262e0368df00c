"""The HTTP service on a county-scale registry, with a load generator on loopback (``wrk``, a Debian package),
on SpatiaLite and on PostGIS.

Served by ``cadastre serve --workers 2`` exactly as a county would run it; ``wrk`` shares the machine's two cores.
Both registries are built at once and vacuumed (set-up, not measured). Then, engine by engine, the servers compared
(ours, the baseline, tipg) start together and are warmed up together, and are measured one after the other: an
idle server takes no CPU from the one under load.
Each figure comes from one ``wrk`` run over random codes of the county (a Lua script cycles through them):

- point lookup ``GET /api/parcels/{zddm}`` with an API token (the token's check, then the parcel card: current
  version, buildings, history, lineage, readiness: three queries) and ``GET /api/units/{bdcdyh}``, at one connection (latency with nothing queued) and
  at eight (throughput, and the latency a client then sees);
- the baseline, measured in the same run on the same database: a plain FastAPI endpoint running one raw SQL
  query (``bench/baseline_app.py``), also with two workers; the ratio of throughputs is the service's overhead.
  The two are loaded in turn, half the time each at a go (ours, baseline, ours, baseline), so that the machine's
  drift between the two measurements (a third within minutes) falls on both alike;
- on PostGIS, tipg (developmentseed's OGC Features server for PostGIS, installed by ``make bench`` into its own
  ``.venv-baselines`` so its pins never touch ours) serving the same ``parcel`` table, one feature by its row id,
  two workers — the established tool's throughput for the same point lookup;
- vector tiles at the busiest zoom, the parcels layer's ``minzoom`` (each tile there holds the most parcels),
  every tile of the county at that zoom in turn, one connection: p95 latency and the largest tile's size.

Goals, as ratios to peers measured in the same run (issue 26): the parcel card's throughput ≥ 0.7 × the plain
FastAPI one-query baseline's, on each engine; tile p95 ≤ 0.5 × one ``ST_AsMVT`` query per tile (PostGIS's, the peer
of both engines' tiles). Latencies, requests per second and the search's p95 are reported as they were measured
(issue 7's p50 ≤ 2 ms, p99 ≤ 10 ms, ≥ 1 000 requests/s and issue 23's search p95 ≤ 50 ms are absolute: on these
shared machines they move ±30 % from run to run).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from bench import county
from bench.common import database, in_children, postgres, process_group_peak_mb, save

GOALS = {"throughput_ratio": 0.7, "tile_ratio": 0.5}
BASELINES = Path(__file__).resolve().parent.parent / ".venv-baselines" / "bin"
WORKERS = 2
QUICK_WORKERS = 1  # a quick run: one worker per server (the ratio still compares like with like), faster start-ups

WRK_SCRIPT = r"""
local paths = {}
local n = 0
local headers = {}
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if args[2] then headers["Authorization"] = "Bearer " .. args[2] end
end
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "socket_errors": %d, "non_2xx": %d}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until ``url`` answers; an OSError if ``process`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None:
                raise OSError(f"exited with status {process.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def _servers(*servers: tuple[list[str], dict, str]):
    """Start servers, each ``(command, environment, probe URL)``, all at once: their start-ups overlap, and once up
    and idle they take no CPU from the one being measured. Each runs in a session of its own, so that it and its
    workers are stopped together, at once (SIGKILL: nothing is measured after, and a graceful stop of each
    server's workers took a second). A server that does not come up is reported with the end of its stderr."""
    processes, logs = [], []
    try:
        for command, env, _ in servers:
            logs.append(tempfile.TemporaryFile())
            processes.append(subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                              stderr=logs[-1], start_new_session=True))
        for (command, _, probe), process, log in zip(servers, processes, logs, strict=True):
            try:
                _wait(probe, process)
            except OSError as e:
                log.seek(0)
                raise RuntimeError(f"{' '.join(command)} did not come up ({e}):\n"
                                   f"{log.read().decode(errors='replace')[-2000:]}") from None
        yield processes
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
        for process in processes:
            process.wait(30)
        for log in logs:
            log.close()


def _wrk_start(base: str, paths: list[str], workdir: Path, *, connections: int, seconds: int,
               token: str = "") -> subprocess.Popen:
    """Start one wrk run over ``paths`` (cycled), its script and list of paths in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    script, listing = workdir / "paths.lua", workdir / "paths.txt"
    script.write_text(WRK_SCRIPT)
    listing.write_text("\n".join(paths) + "\n")
    # one wrk thread: the load generator shares the two cores with the two workers, and one thread drives eight
    # connections without waiting on itself
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
                             base, "--", str(listing), *([token] if token else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wrk_result(process: subprocess.Popen) -> dict:
    """A finished wrk run's latency percentiles in ms, requests per second and errors."""
    out, err = process.communicate()
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, process.args, out, err)
    line = next(line for line in out.splitlines() if line.startswith("WRK "))
    raw = json.loads(line[4:])
    return {"requests": raw["requests"], "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            **{f"{k}_ms": round(raw[f"{k}_us"] / 1000, 3) for k in ("p50", "p95", "p99", "max")},
            "errors": raw["socket_errors"] + raw["non_2xx"]}


def _wrk(base: str, paths: list[str], workdir: Path, *, connections: int, seconds: int, token: str = "") -> dict:
    """One wrk run, measured alone."""
    result = _wrk_result(_wrk_start(base, paths, workdir, connections=connections, seconds=seconds, token=token))
    return {"connections": connections, "seconds": seconds, **result}


def _alternated(runs: list[tuple[str, list[str], str]], workdir: Path, *, connections: int,
                seconds: int) -> list[dict]:
    """Each of ``runs`` (base URL, paths, token) for ``seconds`` in all, in two halves taken in turn (a, b, a, b):
    requests per second over both halves; latency percentiles the worse half's."""
    halves: list[list[dict]] = [[] for _ in runs]
    for _ in range(2):
        for k, (base, paths, token) in enumerate(runs):
            halves[k].append(_wrk(base, paths, workdir, connections=connections, seconds=max(1, seconds // 2),
                                  token=token))
    out = []
    for parts in halves:
        requests = sum(p["requests"] for p in parts)
        elapsed = sum(p["requests"] / p["requests_per_s"] for p in parts if p["requests_per_s"])
        out.append({"connections": connections, "seconds": sum(p["seconds"] for p in parts), "requests": requests,
                    "requests_per_s": round(requests / elapsed, 1) if elapsed else 0.0,
                    **{k: max(p[k] for p in parts) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
                    "errors": sum(p["errors"] for p in parts), "halves_per_s": [p["requests_per_s"] for p in parts]})
    return out


def _tiles(extent: list[float], zoom: int) -> list[tuple[int, int, int]]:
    """Every XYZ tile at ``zoom`` meeting the lon/lat ``extent``."""
    def xy(lon: float, lat: float) -> tuple[int, int]:
        n = 2 ** zoom
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        return int((lon + 180) / 360 * n), int(y)

    (x0, y1), (x1, y0) = xy(extent[0], extent[1]), xy(extent[2], extent[3])
    return [(zoom, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def _setup(name: str, url: str, workdir: Path, quick: bool = False) -> dict:
    """What one engine's measurements need, from its built registry: codes to ask for, an API token, the busiest
    zoom's tiles, and its servers (ours, the plain baseline and on PostGIS tipg), not yet started."""
    from cadastre.registry import open_registry
    from cadastre.serve.tiles import TILE_LAYERS

    codes = county.sample_codes(url, 20_000)
    with open_registry(url) as registry:
        extent = registry.extent()
        # another office's system reading the registry: an API token, owners' names masked (nothing to audit)
        registry.add_user("bench-system", "analyst")
        token = registry.issue_token("bench-system", label="bench").token
    zoom = TILE_LAYERS["parcels"].minzoom
    ours, plain, tipg = (f"http://127.0.0.1:{_free_port()}" for _ in range(3))
    workers = str(QUICK_WORKERS if quick else WORKERS)
    setup = {"name": name, "workdir": workdir, "token": token, "zoom": zoom, "ours": ours, "plain": plain,
             "tiles": [f"/tiles/parcels/{z}/{x}/{y}.pbf" for z, x, y in _tiles(extent, zoom)],
             "parcels": [f"/api/parcels/{c}" for c in codes["parcels"]],
             "units": [f"/api/units/{c}" for c in codes["units"]],
             "search": [f"/api/search?q={urllib.parse.quote(q)}" for q in county.search_queries(codes)],
             "baseline": [f"/parcel/{c}" for c in codes["parcels"]],
             "servers": [([str(Path(sys.executable).with_name("cadastre")), "--db", url, "serve", "--port",
                           ours.rsplit(":", 1)[1], "--workers", workers], {}, f"{ours}/static/common.js"),
                         ([sys.executable, "-m", "uvicorn", "bench.baseline_app:app_from_env", "--factory", "--port",
                           plain.rsplit(":", 1)[1], "--workers", workers, "--log-level", "warning"],
                          {"CADASTRE_DB": url}, f"{plain}/parcel/{codes['parcels'][0]}")]}
    if name == "PostGIS" and (BASELINES / "uvicorn").exists() and not quick:
        # developmentseed's OGC Features server on the same table: one parcel by its row id
        setup["tipg"] = tipg
        setup["tipg_paths"] = [f"/collections/public.parcel/items/{i}" for i in codes["parcel_ids"]]
        setup["servers"].append(
            ([str(BASELINES / "uvicorn"), "tipg.main:app", "--port", tipg.rsplit(":", 1)[1], "--workers",
              str(WORKERS), "--log-level", "warning"],
             {"DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["public"]', "TIPG_DB_TABLES": '["public.parcel"]'},
             f"{tipg}{setup['tipg_paths'][0]}"))
    return setup


def _warm_up(setups: list[dict], seconds: int) -> None:
    """Each server of the engines ``setups`` under load, all at once, for a few seconds before any is measured:
    workers' connection pools filled, lazily loaded code loaded, the tables in the page cache and PostgreSQL's
    buffers. Eight connections, as many as any measurement opens: a pool that grew during a measurement would start
    PostgreSQL backends there, each loading PostGIS on its first query."""
    runs = []
    for s in setups:
        runs += [(s["workdir"], s["ours"], s["parcels"], s["token"]), (s["workdir"], s["plain"], s["baseline"], "")]
        if "tipg" in s:
            runs.append((s["workdir"], s["tipg"], s["tipg_paths"], ""))
    processes = [_wrk_start(base, paths, workdir / f"warm-{k}", connections=8, seconds=seconds, token=token)
                 for k, (workdir, base, paths, token) in enumerate(runs)]
    for process in processes:
        _wrk_result(process)


def _measure(s: dict, server, seconds: int, quick: bool) -> dict:
    """One engine's figures, its servers up and warm."""
    name, ours, workdir, token, tiles = s["name"], s["ours"], s["workdir"], s["token"], s["tiles"]
    result: dict = {}
    # a quick run (a smoke run printing the ratios) measures what the goals compare only: throughput and tiles;
    # the card and its one-query peer under the same load in alternation, so a drift of the machine falls on both
    ours_load, plain_load = _alternated([(ours, s["parcels"], token), (s["plain"], s["baseline"], "")], workdir,
                                        connections=8, seconds=seconds)
    result["parcel_lookup"] = {"load": ours_load}
    if not quick:
        result["parcel_lookup"]["latency"] = _wrk(ours, s["parcels"], workdir, connections=1, seconds=seconds,
                                                  token=token)
    if not quick:  # not a goal: left out of a quick run
        result["unit_lookup"] = {"latency": _wrk(ours, s["units"], workdir, connections=1, seconds=seconds, token=token),
                                 "load": _wrk(ours, s["units"], workdir, connections=8, seconds=seconds, token=token)}
    sizes_kb = []
    for path in tiles:
        request = urllib.request.Request(ours + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request) as response:
            sizes_kb.append(len(response.read()) / 1024)
    result["tiles"] = {"zoom": s["zoom"], "count": len(tiles), "largest_kb": round(max(sizes_kb), 1),
                       **_wrk(ours, tiles, workdir, connections=1, seconds=seconds, token=token)}
    # search as clerks type (codes with blanks, a code's start, words of a 坐落, a room alone), one client
    if not quick:
        result["search"] = _wrk(ours, s["search"], workdir, connections=1, seconds=seconds, token=token)
    result["server_memory"] = process_group_peak_mb(server.pid)  # our server and its workers, at peak

    plain = s["plain"]
    result["baseline"] = {"load": plain_load}
    if not quick:
        result["baseline"]["latency"] = _wrk(plain, s["baseline"], workdir, connections=1, seconds=seconds)
    if name == "PostGIS":  # the same tiles, one ST_AsMVT query each
        result["tiles_baseline"] = _wrk(plain, [p.replace("/tiles/parcels/", "/tile/").removesuffix(".pbf")
                                                for p in tiles], workdir, connections=1, seconds=seconds)
    if "tipg" in s and not quick:
        result["tipg"] = {"installed": True, "version": _tipg_version(),
                          "latency": _wrk(s["tipg"], s["tipg_paths"], workdir, connections=1, seconds=seconds),
                          "load": _wrk(s["tipg"], s["tipg_paths"], workdir, connections=8, seconds=seconds)}
    elif name == "PostGIS":
        result["tipg"] = {"installed": False, "quick": quick}
    ours_load, theirs = result["parcel_lookup"]["load"], result["baseline"]["load"]
    result["throughput_vs_baseline"] = round(ours_load["requests_per_s"] / theirs["requests_per_s"], 3)
    if result.get("tipg", {}).get("load"):
        result["throughput_vs_tipg"] = round(ours_load["requests_per_s"] / result["tipg"]["load"]["requests_per_s"], 3)
    result["met"] = {"throughput_ratio": result["throughput_vs_baseline"] >= GOALS["throughput_ratio"]}
    return result


def _tile_ratios(engines: dict) -> None:
    """Each engine's tile p95 against one ST_AsMVT query per tile (measured on PostGIS, the same tiles of the same
    county, in the same run)."""
    peer = engines.get("PostGIS", {}).get("tiles_baseline")
    for e in engines.values():
        if peer:
            e["tiles_vs_st_asmvt"] = round(e["tiles"]["p95_ms"] / peer["p95_ms"], 3)
            e["met"]["tile_ratio"] = e["tiles_vs_st_asmvt"] <= GOALS["tile_ratio"]


def _tipg_version() -> str:
    return subprocess.run([str(BASELINES / "python"), "-c", "import tipg; print(tipg.__version__)"],
                          capture_output=True, text=True).stdout.strip()


def run(*, parcels: int, buildings: int, units: int, seconds: int = 10, quick: bool = False, pg=None) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench` installs it (Debian package wrk)")
    sizes = {"parcels": parcels, "buildings": buildings, "units": units}
    with (tempfile.TemporaryDirectory(prefix="cadastre-http-") as tmp, postgres(pg) as server,
          database(server, "county") as pg_url):
        urls = {"SpatiaLite": f"sqlite:///{Path(tmp) / 'county.sqlite'}", "PostGIS": pg_url}
        layers = county.layers(**sizes)
        package, zoning = county.write_packages(Path(tmp), layers)
        # both registries built at once, each in a process of its own: set-up, not measured
        built = in_children([partial(county.build, url, layers, package, zoning) for url in urls.values()], fork=True)
        setups = []
        for name, url in urls.items():
            (Path(tmp) / name).mkdir()
            setups.append(_setup(name, url, Path(tmp) / name, quick))
        engines = {}
        # a quick run starts both engines' servers at once (start-ups are most of its time); a full run, engine by
        # engine: the engine's servers up at once (their start-ups overlap; idle, they take no CPU from the one
        # measured)
        batches = [setups] if quick else [[s] for s in setups]
        for batch in batches:
            with _servers(*(server for s in batch for server in s["servers"])) as processes:
                _warm_up(batch, 1 if quick else min(3, seconds))
                for s in batch:
                    ours_process = processes[sum(len(t["servers"]) for t in batch[:batch.index(s)])]
                    engines[s["name"]] = {"data": built[setups.index(s)][0], **_measure(s, ours_process, seconds, quick)}
    _tile_ratios(engines)
    result = {"workers": QUICK_WORKERS if quick else WORKERS, "load_generator": "wrk on loopback, same machine",
              "goals": GOALS, "engines": engines}
    save("http", result)
    return result


def report(result: dict) -> str:
    lines = []
    for name, r in result["engines"].items():
        met = {k: "met" if v else "MISSED" for k, v in r["met"].items()}
        g = result["goals"]
        for what in ("parcel_lookup", "unit_lookup", "baseline"):
            if what not in r:
                continue
            lat, load = r[what].get("latency"), r[what]["load"]
            label = {"parcel_lookup": "GET /api/parcels/{zddm}", "unit_lookup": "GET /api/units/{bdcdyh}",
                     "baseline": "baseline: one raw SQL query"}[what]
            errors = load["errors"] + (lat["errors"] if lat else 0)
            lines.append(f"http {name} {label}: " + (f"1 connection p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} "
                                                    f"ms; " if lat else "") +
                         f"8 connections {load['requests_per_s']:.0f} req/s (p50 {load['p50_ms']:.2f} ms, "
                         f"p99 {load['p99_ms']:.2f} ms){'; errors ' + str(errors) if errors else ''}")
        tipg = r.get("tipg") or {}
        if tipg.get("installed"):
            lines.append(f"http {name} tipg {tipg['version']} /collections/public.parcel/items/{{id}}: 1 connection p50 "
                         f"{tipg['latency']['p50_ms']:.2f} ms; 8 connections {tipg['load']['requests_per_s']:.0f} req/s; "
                         f"ours vs tipg {r['throughput_vs_tipg']:.2f}")
        lines.append(f"  throughput vs baseline {r['throughput_vs_baseline']:.2f} (goal ≥ {g['throughput_ratio']}: "
                     f"{met['throughput_ratio']})")
        t = r["tiles"]
        lines.append(f"  tiles z{t['zoom']} ({t['count']} tiles, largest {t['largest_kb']} KB): p50 {t['p50_ms']:.1f} ms, "
                     f"p95 {t['p95_ms']:.1f} ms" + (f"; vs one ST_AsMVT query per tile {r['tiles_vs_st_asmvt']:.2f} (goal ≤ "
                                                   f"{g['tile_ratio']}: {met['tile_ratio']})" if "tiles_vs_st_asmvt" in r else ""))
        q = r.get("search")
        if q:
            lines.append(f"  search GET /api/search?q=… (codes with blanks, code starts, 坐落 words, rooms): p50 "
                         f"{q['p50_ms']:.1f} ms, p95 {q['p95_ms']:.1f} ms")
        if r.get("tiles_baseline"):
            b = r["tiles_baseline"]
            lines.append(f"  the same tiles by one ST_AsMVT query each: p50 {b['p50_ms']:.1f} ms, p95 {b['p95_ms']:.1f} ms")
    return "\n".join(lines)
