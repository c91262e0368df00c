"""Events for other offices (issue 25): the feed, webhook subscriptions, and delivering them.

Events are written by the topic modules in the transaction of their change (``emit``); this module reads them in
commit order, keeps the subscriptions an administrator registers, and delivers: a worker claims subscriptions due
in the database (as packages are claimed), sends each one's events in order, signed, and records the outcome —
delivered (the cursor moves on), failed (the next try after :data:`RETRY_DELAYS_S`), or given up after the last
try (a dead letter an administrator can replay). A killed worker's claim expires; another takes the subscription
up where its cursor stands, so an event may arrive twice (same ``webhook-id``) but is never lost."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cadastre.core.auth import Principal
from cadastre.core.errors import InputError, NotFoundError
from cadastre.core.events import (
    RETRY_DELAYS_S,
    Event,
    event_body,
    new_secret,
    parse_types,
    signed_headers,
)
from cadastre.registry.context import Context
from cadastre.serve.webhooks import check_url, post
from cadastre.store import events as stored
from cadastre.store.auth import record
from cadastre.store.engine import write_transaction

__all__ = ["emit", "events", "add_subscription", "subscriptions", "set_subscription_enabled", "delete_subscription",
           "test_subscription", "dead_letters", "replay", "deliver_due", "WORKER"]

#: this process, as the holder of delivery claims
WORKER = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
#: how long a claim lasts (a round of deliveries stays within half of it); a dead worker's claim expires after it
#: (``CADASTRE_WEBHOOK_CLAIM_S``: tests shorten it)
CLAIM_S = float(os.environ.get("CADASTRE_WEBHOOK_CLAIM_S", "60"))


#: ids and cursors as databases and JavaScript hold them exactly (a larger one is no event, subscription or letter)
MAX_ID = 2**53 - 1


def _id(value, what_zh: str, what_en: str) -> int:
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise NotFoundError(f"没有{what_zh} {number}", f"no {what_en} {number}")
    return number


def emit(connection, events: list[Event]) -> None:
    """Write ``events`` in the caller's transaction (the change and its events commit together or not at all)."""
    stored.append_events(connection, events)


def events(ctx: Context, *, after: int = 0, types: str | list[str] | None = None, limit: int = 100) -> list[dict]:
    """Events after id ``after`` in commit order (of ``types``: ``a,b`` or a list; None: all), at most ``limit``
    (1–1000). A receiver that was down reads on from the last id it has."""
    if int(limit) < 1 or int(limit) > 1000:
        raise InputError("limit 应在 1 到 1000 之间", "limit must be 1..1000")
    if not 0 <= int(after) <= MAX_ID:
        raise InputError(f"after 应在 0 到 {MAX_ID} 之间", f"after must be 0..{MAX_ID}")
    with ctx.engine.connect() as connection:
        return stored.event_rows(connection, int(after), parse_types(types), int(limit))


def add_subscription(ctx: Context, url: str, *, types: str | list[str] | None = None, description: str | None = None,
                     actor: Principal | None = None) -> tuple[int, str]:
    """Register a webhook: ``url`` (http or https) hears ``types`` (None: all) from now on. Returns its id and
    its signing secret — shown this once; the receiver keeps it to verify (``cadastre.events.verify``)."""
    url, chosen, secret = check_url(url), parse_types(types), new_secret()
    with write_transaction(ctx.engine) as connection:
        subscription_id = stored.insert_subscription(connection, url=url, types=chosen, secret=secret,
                                                     description=description,
                                                     created_by=actor.name if actor else None, now=datetime.now(UTC))
        record(connection, actor, "subscription.add", subscription_id, {"url": url, "types": chosen})
    return subscription_id, secret


def subscriptions(ctx: Context) -> list[dict]:
    """Every subscription (without secrets) and its delivery state: cursor, tries, next try, last error, dead
    letters waiting."""
    with ctx.engine.connect() as connection:
        return stored.subscription_rows(connection)


def set_subscription_enabled(ctx: Context, subscription_id: int, enabled: bool, *,
                             actor: Principal | None = None) -> None:
    """Stop delivering to a subscription (its events wait) or start again where it stopped."""
    with write_transaction(ctx.engine) as connection:
        stored.update_subscription(connection, _id(subscription_id, "订阅", "subscription"),
                                   disabled_at=None if enabled else datetime.now(UTC), next_attempt_at=None)
        record(connection, actor, "subscription.enable" if enabled else "subscription.disable", subscription_id)


def delete_subscription(ctx: Context, subscription_id: int, *, actor: Principal | None = None) -> None:
    with write_transaction(ctx.engine) as connection:
        stored.delete_subscription(connection, _id(subscription_id, "订阅", "subscription"))
        record(connection, actor, "subscription.delete", subscription_id)


def test_subscription(ctx: Context, subscription_id: int, *, send: Callable = post) -> str | None:
    """Send a signed ``subscription.test`` message (id 0, not an event of the feed) now; None when the receiver
    took it, else why not."""
    with ctx.engine.connect() as connection:
        row = stored.subscription_row(connection, _id(subscription_id, "订阅", "subscription"), with_secret=True)
    now = datetime.now(UTC)
    body = event_body({"id": 0, "type": "subscription.test", "time": now.isoformat().replace("+00:00", "Z"),
                       "version": 1, "data": {"subscription": row["id"]}})
    return send(row["url"], body, signed_headers(row["secret"], 0, body, now))


def dead_letters(ctx: Context, subscription_id: int | None = None, *, include_replayed: bool = False) -> list[dict]:
    """Events given up on after their retries, waiting for an administrator to replay them."""
    if subscription_id is not None:
        subscription_id = _id(subscription_id, "订阅", "subscription")
    with ctx.engine.connect() as connection:
        return stored.dead_letter_rows(connection, subscription_id, include_replayed=include_replayed)


def replay(ctx: Context, dead_id: int, *, actor: Principal | None = None, send: Callable = post) -> str | None:
    """Deliver a dead letter's event again now (same ``webhook-id``); None when the receiver took it (it is then
    marked replayed), else why not (it stays)."""
    with ctx.engine.connect() as connection:
        letter, event = stored.dead_letter(connection, _id(dead_id, "投递失败记录", "dead letter"))
        row = stored.subscription_row(connection, letter["subscription_id"], with_secret=True)
    body = event_body(event)
    error = send(row["url"], body, signed_headers(row["secret"], event["id"], body))
    with write_transaction(ctx.engine) as connection:
        if error is None:
            stored.mark_replayed(connection, int(dead_id), datetime.now(UTC))
        record(connection, actor, "subscription.replay", row["id"], {"dead_letter": int(dead_id), "error": error})
    return error


def deliver_due(ctx: Context, *, send: Callable = post, delays: tuple[float, ...] = RETRY_DELAYS_S,
                batch: int = 50, worker: str = WORKER) -> int:
    """One round of deliveries: claim the subscriptions due, send each one's next events in order, record each
    outcome. Returns the events delivered. Run by the server's delivery thread every second."""
    now = datetime.now(UTC)
    with ctx.engine.connect() as connection:  # most rounds find nothing due: no write lock for them
        if not stored.due_subscriptions(connection, now):
            return 0
    with write_transaction(ctx.engine) as connection:
        claimed = stored.claim_due(connection, worker, now, now + timedelta(seconds=CLAIM_S))
    done = 0
    for sub in claimed:
        try:
            done += _deliver(ctx, sub, send, delays, batch, worker)
        finally:
            with write_transaction(ctx.engine) as connection:
                stored.release(connection, sub["id"], worker)
    return done


def _deliver(ctx: Context, sub: dict, send: Callable, delays: tuple[float, ...], batch: int, worker: str) -> int:
    with ctx.engine.connect() as connection:
        wanted, last_seen = stored.next_events(connection, sub["cursor"], sub["types"], batch)
    delivered, cursor = 0, sub["cursor"]
    started = datetime.now(UTC)
    for event in wanted:
        if datetime.now(UTC) - started > timedelta(seconds=CLAIM_S / 2):  # within the claim: the rest next round
            return delivered
        body = event_body(event)
        error = send(sub["url"], body, signed_headers(sub["secret"], event["id"], body))
        now = datetime.now(UTC)
        if error is None:
            delivered, cursor = delivered + 1, event["id"]
            with write_transaction(ctx.engine) as connection:
                stored.record_delivered(connection, sub["id"], cursor, 1)
            sub["attempts"], sub["failing_since"] = 0, None
            continue
        attempts = int(sub["attempts"] or 0) + 1
        since = sub["failing_since"] or now
        with write_transaction(ctx.engine) as connection:
            if attempts > len(delays):  # tried for the whole schedule: give up on this one, go on with the next
                stored.record_dead(connection, sub["id"], event["id"], attempts=attempts, failing_since=since,
                                   error=error, now=now)
                cursor, sub["attempts"], sub["failing_since"] = event["id"], 0, None
                continue
            stored.record_failed(connection, sub["id"], cursor=cursor, attempts=attempts, failing_since=since,
                                 next_attempt_at=now + timedelta(seconds=delays[attempts - 1]), error=error)
        return delivered  # in order: nothing after this event goes before it
    if last_seen > cursor:  # events of other types passed over
        with write_transaction(ctx.engine) as connection:
            stored.record_delivered(connection, sub["id"], last_seen, 0)
    return delivered
