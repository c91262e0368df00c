"""Events for other offices (issue 25), on both engines: written with the change they describe, read in commit
order from the feed, delivered as signed webhooks to a real HTTP receiver on 127.0.0.1 — in order, retried while
the receiver is down, dead-lettered past the schedule and replayed — and checked with ``cadastre.events.verify``;
a server killed while a receiver is down delivers everything after its restart."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cadastre.core.errors import InputError
from cadastre.events import InvalidSignature, verify

FAST = (0.05, 0.1, 0.2)  # retry delays for tests: the real schedule is 27 h


class Receiver:
    """A receiving office's endpoint: records what it accepted; answers 503 while ``down``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.refused = 0
        self.down = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.down:
                    receiver.refused += 1
                    self.send_response(503)
                else:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.received]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _emit(registry, count: int, kind: str = "codes.issued", start: int = 0) -> None:
    """``count`` events written as a change writes them (the delivery tests need events, not ingests)."""
    from cadastre.core.events import Event
    from cadastre.registry.events import emit
    from cadastre.store.engine import write_transaction

    with write_transaction(registry.engine) as connection:
        emit(connection, [Event(kind, {"n": start + k}) for k in range(count)])


def _drain(registry, rounds: int = 40, pause: float = 0.06) -> None:
    for _ in range(rounds):
        registry.deliver_due(delays=FAST)
        time.sleep(pause)


def test_events_are_written_with_their_change_and_read_in_commit_order(registry, sample_files):
    cadastral = registry.ingest(sample_files["cadastral"])
    assert cadastral.status == "accepted"
    assert registry.ingest(sample_files["presale"]).status == "accepted"
    events = registry.events()
    types = [e["type"] for e in events]
    assert types[:2] == ["package.accepted", "codes.issued"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    issued = events[1]["data"]
    assert [p["zddm"] for p in issued["parcels"]] == [p["zddm"] for p in cadastral.assigned["parcels"]]
    assert issued["parcels"][0]["zddm"].startswith("141031001002GB")
    presale = [e for e in events if e["data"].get("package_id") == events[-1]["data"]["package_id"]]
    kinds = {e["type"] for e in presale}
    assert {"package.accepted", "codes.issued", "building.table_changed",
            "building.not_ready_for_first_registration"} <= kinds  # a pre-sale building is not ready
    units = next(e for e in presale if e["type"] == "codes.issued")["data"]["units"]
    assert units and all(len(u["bdcdyh"]) == 28 and u["building"] == u["bdcdyh"][:24] for u in units)
    # after the as-built survey each building's readiness event says what its 楼盘表 says
    asbuilt = registry.ingest(sample_files["asbuilt"])
    ready = {e["data"]["building"]: e for e in registry.events(after=events[-1]["id"])
             if e["type"].startswith("building.") and e["type"] != "building.table_changed"}
    assert ready and all(e["data"]["package_id"] == asbuilt.package_id for e in ready.values())
    for code, event in ready.items():
        table = registry.building_table(code)
        assert (event["type"] == "building.ready_for_first_registration") == table.ready, code
        assert event["data"]["reasons"] == table.not_ready_because
    assert any("PLN-009" in " ".join(e["data"]["reasons"]) for e in ready.values())
    # the feed reads on from an id; types filter; owners' names never appear
    assert registry.events(after=events[0]["id"])[:len(events) - 1] == events[1:]
    assert {e["type"] for e in registry.events(types="codes.issued")} == {"codes.issued"}
    assert "房地产开发有限公司" not in json.dumps(events, ensure_ascii=False)
    with pytest.raises(InputError, match="没有事件类型"):
        registry.events(types="codes.typo")


def test_a_rejected_package_issues_no_codes(registry, tmp_path):
    from cadastre.samples import sample_cadastral, sample_manifest, write_package

    layers = {k: v.copy() for k, v in sample_cadastral().items()}
    layers["ZDJBXX"].loc[3, "ZDMJ"] = 19000.0  # declared area far from the drawn one: ATT-001
    flawed = write_package(tmp_path / "flawed.zip", layers, manifest=sample_manifest("cadastral"))
    assert registry.ingest(flawed).status == "rejected"
    events = registry.events()
    assert [e["type"] for e in events] == ["package.rejected"] and events[0]["data"]["errors"] > 0
    assert "ATT-001" in events[0]["data"]["rules"]


def test_webhooks_arrive_signed_and_in_order_and_the_feed_carries_the_same(registry, receiver):
    subscription, secret = registry.add_subscription(receiver.url, types="package.accepted,codes.issued")
    assert secret.startswith("whsec_")
    _emit(registry, 3, "codes.issued")
    _emit(registry, 2, "package.rejected")  # not subscribed: passed over
    _emit(registry, 2, "package.accepted")
    _drain(registry, rounds=3)
    feed = registry.events(types="package.accepted,codes.issued")
    assert len(feed) == 5 and receiver.ids() == [f"evt_{e['id']}" for e in feed]
    for (headers, body), event in zip(receiver.received, feed, strict=True):
        assert verify(headers, body, secret) == json.loads(json.dumps(event))
    # a wrong secret, or a body changed on the way, is detected
    headers, body = receiver.received[0]
    with pytest.raises(InvalidSignature):
        verify(headers, body, registry.add_subscription(receiver.url)[1])
    with pytest.raises(InvalidSignature):
        verify(headers, body.replace(b"codes", b"coded"), secret)
    [state] = [s for s in registry.subscriptions() if s["id"] == subscription]
    assert state["delivered"] == 5 and state["attempts"] == 0 and state["cursor"] == registry.events()[-1]["id"]
    assert registry.test_subscription(subscription) is None


def test_a_receiver_down_then_up_gets_every_event_once(registry, receiver):
    registry.add_subscription(receiver.url)
    receiver.down = True
    _emit(registry, 3)
    registry.deliver_due(delays=(60, 60))  # fails; next try in a minute: not due again now
    registry.deliver_due(delays=(60, 60))
    assert receiver.refused == 1 and not receiver.received
    [state] = registry.subscriptions()
    assert state["attempts"] == 1 and state["next_attempt_at"] is not None and "503" in state["last_error"]
    receiver.down = False
    _emit(registry, 3, start=3)
    registry.set_subscription_enabled(state["id"], True)  # enabling again makes the next try due now
    _drain(registry, rounds=3)
    assert receiver.ids() == [f"evt_{e['id']}" for e in registry.events()]  # all, in order, each once


def test_past_the_schedule_an_event_is_a_dead_letter_an_admin_replays(registry, receiver):
    subscription, secret = registry.add_subscription(receiver.url, types="package.accepted")
    receiver.down = True
    _emit(registry, 1, "package.accepted")
    _drain(registry, rounds=12)
    [dead] = registry.dead_letters()
    assert dead["subscription_id"] == subscription and dead["type"] == "package.accepted"
    assert dead["attempts"] == len(FAST) + 1 and "503" in dead["last_error"]
    # the subscription went on past it: a later event is delivered once the receiver is back
    receiver.down = False
    _emit(registry, 1, "package.accepted", start=1)
    _drain(registry, rounds=3)
    assert len(receiver.received) == 1 and receiver.ids() != [f"evt_{dead['event_id']}"]
    assert registry.replay(dead["id"]) is None
    assert receiver.ids()[-1] == f"evt_{dead['event_id']}" and not registry.dead_letters()
    verify(*receiver.received[-1], secret)


def test_subscriptions_refuse_other_schemes_and_unknown_types(registry):
    with pytest.raises(InputError, match="http 或 https"):
        registry.add_subscription("file:///etc/passwd")
    with pytest.raises(InputError, match="没有事件类型"):
        registry.add_subscription("https://example.org/hook", types="codes.issued,nope")


def test_redirects_are_not_followed(registry):
    """A receiver answering 307 to another host gets nothing delivered there: a failure, retried."""
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(307)
            self.send_header("location", "http://203.0.113.9/elsewhere")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        registry.add_subscription(f"http://127.0.0.1:{server.server_address[1]}/")
        _emit(registry, 1)
        registry.deliver_due(delays=(60,))
        [state] = registry.subscriptions()
        assert state["attempts"] == 1 and "重定向" in state["last_error"] and state["delivered"] == 0
    finally:
        server.shutdown()


def test_a_killed_server_delivers_after_its_restart(db_url, registry, receiver):
    from cadastre.testing import ServiceProcess

    registry.add_subscription(receiver.url)
    receiver.down = True
    env = {"CADASTRE_WEBHOOK_RETRY_S": ",".join(["0.2"] * 20), "CADASTRE_WEBHOOK_CLAIM_S": "2"}
    with ServiceProcess(db_url, env=env) as service:
        _emit(registry, 3)
        deadline = time.monotonic() + 20
        while receiver.refused < 2:  # the server is trying
            assert time.monotonic() < deadline, service.output()
            time.sleep(0.1)
        service.kill()  # SIGKILL: perhaps holding its claim, which expires in 2 s here (a minute by default)
    receiver.down = False
    _emit(registry, 2, start=3)
    with ServiceProcess(db_url, env=env):
        deadline = time.monotonic() + 30
        while len(receiver.received) < 5:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert receiver.ids() == [f"evt_{e['id']}" for e in registry.events()]


def test_a_recorded_permit_and_an_imported_lot_are_told(registry, sample_files):
    from cadastre.samples import sample_permit

    registry.record_permit(sample_permit())
    registry.record_permit(sample_permit())  # the same content again changes nothing: no second event
    registry.import_baseline(sample_files["legacy"])
    told = registry.events(types="permit.recorded,baseline.imported")
    assert [e["type"] for e in told] == ["permit.recorded", "baseline.imported"]
    assert told[0]["data"]["number"] == sample_permit()["number"]
    assert told[1]["data"]["imported"]["parcels"] > 0 and told[1]["data"]["subdistricts"]


def test_ids_past_what_databases_hold_are_answered_not_crashed_on(registry):
    """Schemathesis sent after=2^63: SQLite cannot bind it (OverflowError → 500)."""
    from cadastre.core.errors import NotFoundError

    with pytest.raises(InputError, match="after 应在"):
        registry.events(after=2**63)
    for call in (lambda: registry.set_subscription_enabled(2**63, False), lambda: registry.delete_subscription(2**70),
                 lambda: registry.dead_letters(2**63), lambda: registry.replay(2**64)):
        with pytest.raises(NotFoundError):
            call()
