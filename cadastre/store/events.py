"""The outbox, the webhook subscriptions and their delivery state, and the dead letters (issue 25)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.errors import NotFoundError
from cadastre.core.events import Event
from cadastre.store.engine import serialise
from cadastre.store.models import DeadLetter, OutboxEvent, Subscription

__all__ = ["append_events", "event_rows", "last_event_id", "insert_subscription", "subscription_rows",
           "subscription_row", "update_subscription", "delete_subscription", "due_subscriptions", "claim_due", "next_events",
           "record_delivered", "record_failed", "record_dead", "release", "dead_letter_rows", "mark_replayed"]

_EVENT_COLUMNS = (OutboxEvent.id, OutboxEvent.type, OutboxEvent.at, OutboxEvent.version, OutboxEvent.data)


def append_events(connection: Connection, events: list[Event]) -> None:
    """Write ``events`` in the caller's write transaction. Writers of events take one lock until they commit, so
    ids are handed out in commit order and a reader that has seen id N never later finds a smaller one appear (on
    SQLite every writer is serialised already)."""
    if not events:
        return
    serialise(connection, "events")
    connection.execute(sa.insert(OutboxEvent), [{"type": e.type, "at": e.time, "version": e.version, "data": e.data}
                                                for e in events])


def _event(row) -> dict:
    at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(str(row.at))
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite hands times back naive (stored as UTC)
    return Event(row.type, row.data, at, row.id, row.version).to_dict()


def event_rows(connection: Connection, after: int = 0, types: list[str] | None = None, limit: int = 100) -> list[dict]:
    """Events after id ``after`` in commit order, of ``types`` (None: all), at most ``limit``."""
    query = sa.select(*_EVENT_COLUMNS).where(OutboxEvent.id > after).order_by(OutboxEvent.id).limit(limit)
    if types:
        query = query.where(OutboxEvent.type.in_(types))
    return [_event(row) for row in connection.execute(query)]


def last_event_id(connection: Connection) -> int:
    return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(OutboxEvent.id), 0))).scalar_one())


def insert_subscription(connection: Connection, *, url: str, types: list[str] | None, secret: str,
                        description: str | None, created_by: str | None, now: datetime) -> int:
    """A new subscription, starting after the last event now stored (it hears what happens from now on)."""
    return int(connection.execute(sa.insert(Subscription).values(
        url=url, types=types, secret=secret, description=description, created_at=now, created_by=created_by,
        cursor=last_event_id(connection), attempts=0, delivered=0).returning(Subscription.id)).scalar_one())


_PUBLIC = (Subscription.id, Subscription.url, Subscription.types, Subscription.description, Subscription.created_at,
           Subscription.created_by, Subscription.disabled_at, Subscription.cursor, Subscription.attempts,
           Subscription.failing_since, Subscription.next_attempt_at, Subscription.last_error, Subscription.delivered)


def subscription_rows(connection: Connection) -> list[dict]:
    """Every subscription without its secret, with how many dead letters wait for a replay."""
    dead = (sa.select(sa.func.count()).where(DeadLetter.subscription_id == Subscription.id,
                                             DeadLetter.replayed_at.is_(None)).scalar_subquery().label("dead"))
    return [dict(r._mapping) for r in connection.execute(sa.select(*_PUBLIC, dead).order_by(Subscription.id))]


def subscription_row(connection: Connection, subscription_id: int, *, with_secret: bool = False) -> dict:
    columns = (*_PUBLIC, Subscription.secret) if with_secret else _PUBLIC
    row = connection.execute(sa.select(*columns).where(Subscription.id == subscription_id)).first()
    if row is None:
        raise NotFoundError(f"没有订阅 {subscription_id}", f"no subscription {subscription_id}")
    return dict(row._mapping)


def update_subscription(connection: Connection, subscription_id: int, **values) -> None:
    subscription_row(connection, subscription_id)
    connection.execute(sa.update(Subscription).where(Subscription.id == subscription_id).values(**values))


def delete_subscription(connection: Connection, subscription_id: int) -> None:
    subscription_row(connection, subscription_id)
    connection.execute(sa.delete(DeadLetter).where(DeadLetter.subscription_id == subscription_id))
    connection.execute(sa.delete(Subscription).where(Subscription.id == subscription_id))


def due_subscriptions(connection: Connection, now: datetime, limit: int = 10) -> list[int]:
    """Enabled subscriptions with events after their cursor, whose next try is due and which no live worker
    holds (a read: the delivery thread asks every second, and takes the write lock only when one is due)."""
    newest = last_event_id(connection)
    due = (sa.select(Subscription.id).where(
        Subscription.disabled_at.is_(None), Subscription.cursor < newest,
        sa.or_(Subscription.next_attempt_at.is_(None), Subscription.next_attempt_at <= now),
        sa.or_(Subscription.claimed_until.is_(None), Subscription.claimed_until < now))
        .order_by(Subscription.id).limit(limit))
    return [r[0] for r in connection.execute(due)]


def claim_due(connection: Connection, worker: str, now: datetime, until: datetime, limit: int = 10) -> list[dict]:
    """Claim the subscriptions due (:func:`due_subscriptions`, asked again under the write lock); returns them
    with their secrets. One worker delivers a subscription at a time: in order."""
    ids = due_subscriptions(connection, now, limit)
    if not ids:
        return []
    # the same conditions again in the UPDATE: of two workers, the second finds the rows claimed and takes none
    connection.execute(sa.update(Subscription).where(
        Subscription.id.in_(ids), sa.or_(Subscription.claimed_until.is_(None), Subscription.claimed_until < now))
        .values(claimed_by=worker, claimed_until=until))
    rows = connection.execute(sa.select(*_PUBLIC, Subscription.secret).where(
        Subscription.id.in_(ids), Subscription.claimed_by == worker, Subscription.claimed_until == until))
    return [dict(r._mapping) for r in rows]


def next_events(connection: Connection, cursor: int, types: list[str] | None, limit: int = 50) -> tuple[list[dict], int]:
    """The next events after ``cursor`` a subscription of ``types`` wants, and the last id looked at (events of
    other types are passed over: the cursor may move past them)."""
    rows = list(connection.execute(sa.select(*_EVENT_COLUMNS).where(OutboxEvent.id > cursor)
                                   .order_by(OutboxEvent.id).limit(limit)))
    wanted = [_event(r) for r in rows if types is None or r.type in types]
    return wanted, (rows[-1].id if rows else cursor)


def record_delivered(connection: Connection, subscription_id: int, cursor: int, delivered: int) -> None:
    connection.execute(sa.update(Subscription).where(Subscription.id == subscription_id).values(
        cursor=cursor, attempts=0, failing_since=None, next_attempt_at=None, last_error=None,
        delivered=Subscription.delivered + delivered))


def record_failed(connection: Connection, subscription_id: int, *, cursor: int, attempts: int,
                  failing_since: datetime, next_attempt_at: datetime, error: str) -> None:
    connection.execute(sa.update(Subscription).where(Subscription.id == subscription_id).values(
        cursor=cursor, attempts=attempts, failing_since=failing_since, next_attempt_at=next_attempt_at,
        last_error=error[:2000]))


def record_dead(connection: Connection, subscription_id: int, event_id: int, *, attempts: int,
                failing_since: datetime | None, error: str, now: datetime) -> None:
    """Give up on ``event_id`` for the subscription: a dead letter, and the cursor past it (the next events go on)."""
    connection.execute(sa.insert(DeadLetter).values(subscription_id=subscription_id, event_id=event_id,
                                                    attempts=attempts, failing_since=failing_since, dead_at=now,
                                                    last_error=error[:2000]))
    connection.execute(sa.update(Subscription).where(Subscription.id == subscription_id).values(
        cursor=event_id, attempts=0, failing_since=None, next_attempt_at=None, last_error=error[:2000]))


def release(connection: Connection, subscription_id: int, worker: str) -> None:
    connection.execute(sa.update(Subscription).where(Subscription.id == subscription_id,
                                                     Subscription.claimed_by == worker)
                       .values(claimed_by=None, claimed_until=None))


def dead_letter_rows(connection: Connection, subscription_id: int | None = None, *,
                     include_replayed: bool = False) -> list[dict]:
    query = (sa.select(DeadLetter.id, DeadLetter.subscription_id, DeadLetter.event_id, OutboxEvent.type,
                       DeadLetter.attempts, DeadLetter.failing_since, DeadLetter.dead_at, DeadLetter.last_error,
                       DeadLetter.replayed_at)
             .join(OutboxEvent, OutboxEvent.id == DeadLetter.event_id).order_by(DeadLetter.id))
    if subscription_id is not None:
        query = query.where(DeadLetter.subscription_id == subscription_id)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return [dict(r._mapping) for r in connection.execute(query)]


def dead_letter(connection: Connection, dead_id: int) -> tuple[dict, dict]:
    """A dead letter with its event (as delivered) ."""
    row = connection.execute(sa.select(DeadLetter.id, DeadLetter.subscription_id, DeadLetter.event_id,
                                       DeadLetter.replayed_at).where(DeadLetter.id == dead_id)).first()
    if row is None:
        raise NotFoundError(f"没有投递失败记录 {dead_id}", f"no dead letter {dead_id}")
    event = connection.execute(sa.select(*_EVENT_COLUMNS).where(OutboxEvent.id == row.event_id)).one()
    return dict(row._mapping), _event(event)


def mark_replayed(connection: Connection, dead_id: int, now: datetime) -> None:
    connection.execute(sa.update(DeadLetter).where(DeadLetter.id == dead_id).values(replayed_at=now))
