"""Accounts, tokens and the audit log in the database. Policy (roles, hashing, masking) is in :mod:`cadastre.core.auth`."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.auth import LOCAL, Failures
from cadastre.core.errors import ConflictError, NotFoundError, shown
from cadastre.store.models import AccessToken, Account, AuditEvent
from cadastre.store.spatial import aware, query_frame, result_frame

__all__ = ["insert_account", "account_row", "update_account", "accounts", "insert_token", "token_principal",
           "revoke_token", "tokens", "append_audit", "record", "audit_rows", "sign_in_failures", "AUDIT_TEXT"]

#: the longest account name or client address an audit row keeps (longer ones are cut)
AUDIT_TEXT = 100


def insert_account(connection: Connection, name: str, role: str, password_hash: str | None, now: datetime) -> int:
    if account_row(connection, name, missing_ok=True) is not None:
        raise ConflictError(f"用户 {name} 已存在", f"account {name} exists")
    return connection.execute(sa.insert(Account).values(name=name, role=role, password_hash=password_hash,
                                                         created_at=now).returning(Account.id)).scalar_one()


def account_row(connection: Connection, name: str, *, missing_ok: bool = False):
    row = connection.execute(sa.select(Account).where(Account.name == name)).mappings().first()
    if row is None and not missing_ok:
        raise NotFoundError(f"没有用户 {shown(name)}", f"no account {shown(name)}")
    return row


def update_account(connection: Connection, name: str, **values) -> None:
    account_row(connection, name)
    connection.execute(sa.update(Account).where(Account.name == name).values(**values))


def accounts(connection: Connection) -> pd.DataFrame:
    return query_frame(connection, "SELECT name, role, password_hash IS NOT NULL AS has_password, created_at, "
                                   "disabled_at, upload_quota_bytes FROM account ORDER BY name")


def insert_token(connection: Connection, account_id: int, *, role: str, kind: str, label: str | None, digest: str,
                 now: datetime, expires_at: datetime | None) -> int:
    return connection.execute(sa.insert(AccessToken).values(
        digest=digest, account_id=account_id, role=role, kind=kind, label=label, created_at=now,
        expires_at=expires_at).returning(AccessToken.id)).scalar_one()


def token_principal(connection: Connection, digest: str, now: datetime):
    """(account name, role, token id, expiry or None) of a live token: known, not revoked, not expired, its account
    enabled."""
    row = connection.execute(sa.text(
        "SELECT a.name, t.role, t.id, t.expires_at, t.revoked_at, a.disabled_at FROM access_token t "
        "JOIN account a ON a.id = t.account_id WHERE t.digest = :d"), {"d": digest}).first()
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        return None
    expires_at = aware(row.expires_at)
    if expires_at is not None and expires_at <= now:
        return None
    return row.name, row.role, row.id, expires_at


def revoke_token(connection: Connection, token_id: int, now: datetime) -> str:
    """Revoke a token; returns its account's name."""
    row = connection.execute(sa.text("SELECT a.name, t.revoked_at FROM access_token t JOIN account a "
                                     "ON a.id = t.account_id WHERE t.id = :i"), {"i": token_id}).first()
    if row is None:
        raise NotFoundError(f"没有令牌 {token_id}", f"no token {token_id}")
    if row.revoked_at is not None:
        raise ConflictError(f"令牌 {token_id} 已于 {row.revoked_at} 吊销", f"token {token_id} already revoked")
    connection.execute(sa.update(AccessToken).where(AccessToken.id == token_id).values(revoked_at=now))
    return row.name


def tokens(connection: Connection, name: str | None = None) -> pd.DataFrame:
    sql = ("SELECT t.id, a.name, t.role, t.kind, t.label, t.created_at, t.expires_at, t.revoked_at "
           "FROM access_token t JOIN account a ON a.id = t.account_id")
    return query_frame(connection, sql + (" WHERE a.name = :n" if name else "") + " ORDER BY t.id", n=name)


def append_audit(connection: Connection, *, actor: str, role: str | None, action: str, target: str | None,
                 source: str | None, detail: dict | None, now: datetime) -> None:
    connection.execute(sa.insert(AuditEvent).values(at=now, actor=actor, role=role, action=action, target=target,
                                                    source=source, detail=detail))


def record(connection: Connection, actor, action: str, target: object = None, detail: dict | None = None,
           now: datetime | None = None) -> None:
    """Append an audit event for ``actor`` (a :class:`cadastre.core.auth.Principal`; None: the library used locally)."""
    actor = actor or LOCAL
    append_audit(connection, actor=actor.name, role=str(actor.role), action=action,
                 target=None if target is None else str(target), source=actor.source, detail=detail,
                 now=now or datetime.now(UTC))


def sign_in_failures(connection: Connection, name: str, source: str | None, since: datetime):
    """Failed sign-ins since ``since`` (:class:`cadastre.core.auth.Failures`): of account ``name`` after its last
    successful sign-in, and from client address ``source``. Counted from the audit log, which records both."""
    name = name[:AUDIT_TEXT]
    last_ok = connection.execute(sa.select(sa.func.max(AuditEvent.at)).where(
        AuditEvent.action == "auth.login", AuditEvent.target == name, AuditEvent.at >= since)).scalar()
    start = max(since, aware(last_ok)) if last_ok is not None else since

    def failures(column, value, after) -> Failures:
        count, last = connection.execute(sa.select(sa.func.count(), sa.func.max(AuditEvent.at)).where(
            AuditEvent.action == "auth.login_failed", column == value, AuditEvent.at > after)).one()
        return Failures(int(count), aware(last))

    return (failures(AuditEvent.target, name, start),
            failures(AuditEvent.source, source, since) if source else Failures(0, None))


def audit_rows(connection: Connection, *, since: datetime | None = None, actor: str | None = None,
               action: str | None = None, limit: int = 1000) -> pd.DataFrame:
    """The latest ``limit`` events (oldest first) since ``since``, of ``actor``, of ``action``."""
    query = sa.select(AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.role, AuditEvent.action,
                      AuditEvent.target, AuditEvent.source, AuditEvent.detail)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    frame = result_frame(connection.execute(query.order_by(AuditEvent.id.desc()).limit(int(limit))))
    return frame.iloc[::-1].reset_index(drop=True)
