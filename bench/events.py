"""Events for other offices (issue 25), SpatiaLite, in process: what the outbox and two live webhook subscriptions
cost an ingest, and how fast the feed reads.

- Ingest of a synthetic cadastral package (a tenth of the benchmark county's parcels) into a fresh registry, with
  no subscription, then into another with two subscriptions whose receivers (HTTP servers on 127.0.0.1 taking
  every event) are served by a delivery thread running alongside, as in the server: the ratio of the two.
- The feed: 100 000 events written, then read in pages of 1 000 (``Registry.events(after=…)``): events per second.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.common import save

COUNTY = "141031"
FEED_EVENTS = 100_000


class _Receiver:
    def __init__(self) -> None:
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                self.rfile.read(int(self.headers["content-length"]))
                receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _ingest(workdir: Path, package: Path, zoning: Path, subscribed: bool) -> tuple[float, int]:
    from cadastre.registry import init_registry

    registry = init_registry(f"sqlite:///{workdir / ('with' if subscribed else 'without')}.sqlite", [COUNTY])
    registry.import_zoning(zoning)
    receivers, stop = [], threading.Event()
    if subscribed:
        receivers = [_Receiver(), _Receiver()]
        for receiver in receivers:
            registry.add_subscription(receiver.url)

        def deliver() -> None:
            while not stop.wait(0.2):
                registry.deliver_due()

        threading.Thread(target=deliver, daemon=True).start()
    start = time.perf_counter()
    result = registry.ingest(package)
    seconds = time.perf_counter() - start
    assert result.status == "accepted", result.report.get("summary")
    # then every event reaches both receivers (the delivery thread polls every 0.2 s): how long after the commit
    expected = 2 * len(registry.events(limit=1000)) if subscribed else 0
    while sum(r.count for r in receivers) < expected and time.perf_counter() - start < seconds + 30:
        time.sleep(0.01)
    after = time.perf_counter() - start - seconds
    stop.set()
    delivered = sum(r.count for r in receivers)
    registry.close()
    return seconds, delivered, after


def _feed(workdir: Path, count: int) -> dict:
    from cadastre.core.events import Event
    from cadastre.registry import init_registry
    from cadastre.registry.events import emit
    from cadastre.store.engine import write_transaction

    registry = init_registry(f"sqlite:///{workdir / 'feed.sqlite'}", [COUNTY])
    start = time.perf_counter()
    with write_transaction(registry.engine) as connection:
        emit(connection, [Event("codes.issued", {"package_id": 1, "units": [{"bdcdyh": f"{k:028d}"}]})
                          for k in range(count)])
    written = time.perf_counter() - start
    start, after, read = time.perf_counter(), 0, 0
    while True:
        page = registry.events(after=after, limit=1000)
        if not page:
            break
        read, after = read + len(page), page[-1]["id"]
    seconds = time.perf_counter() - start
    registry.close()
    return {"events": read, "write_s": round(written, 2), "read_s": round(seconds, 2),
            "events_per_s": round(read / seconds)}


def run(*, parcels: int = 10_000, runs: int = 3, feed_events: int = FEED_EVENTS) -> dict:
    from bench import county

    with tempfile.TemporaryDirectory(prefix="cadastre-bench-events-") as tmp:
        workdir = Path(tmp)
        layers = county.layers(parcels=parcels, buildings=max(parcels // 10, 1), units=max(parcels // 2, 1))
        package, zoning = county.write_packages(workdir, layers)
        without, with_two, latency, delivered = [], [], [], 0
        for k in range(runs):
            run_dir = workdir / f"run{k}"
            run_dir.mkdir()
            for subscribed in ((False, True) if k % 2 == 0 else (True, False)):  # alternate: no order effect
                seconds, got, after = _ingest(run_dir, package, zoning, subscribed)
                if subscribed:
                    with_two.append(seconds)
                    latency.append(after)
                    delivered = got
                else:
                    without.append(seconds)
        feed = _feed(workdir, feed_events)
    median = statistics.median
    result = {"parcels": len(layers["ZDJBXX"]), "runs": runs, "without_s": without, "with_two_s": with_two,
              "ratio": round(median(with_two) / median(without), 2), "delivered": delivered,
              "delivered_after_s": round(median(latency), 2), "feed": feed}
    save("events", result)
    return result


def report(r: dict) -> str:
    m = statistics.median
    f = r["feed"]
    return (f"events: ingest of {r['parcels']:,} parcels {m(r['without_s']):.2f} s without subscriptions, "
            f"{m(r['with_two_s']):.2f} s with two live ones (ratio {r['ratio']}), its {r['delivered']} deliveries "
            f"{r['delivered_after_s']} s after the commit; feed {f['events']:,} events "
            f"written in {f['write_s']} s, read in pages of 1 000 at {f['events_per_s']:,} events/s")
