"""Who may use the registry: accounts, bearer tokens, signing in (throttled), who holds a token, and the audit log.

Policy — roles, permissions, hashing, throttling — is :mod:`cadastre.core.auth`; the rows are
:mod:`cadastre.store.auth`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from cadastre.core.auth import (
    SESSION_LIFETIME,
    Failures,
    Principal,
    Role,
    check_password,
    hash_password,
    new_token,
    token_digest,
)
from cadastre.core.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    PermissionDenied,
    TooManyAttempts,
)
from cadastre.registry.context import Context, IssuedToken
from cadastre.store import auth as stored
from cadastre.store.engine import write_transaction

__all__ = ["add_user", "update_user", "users", "issue_token", "login", "revoke_token", "tokens", "principal",
           "cached_principal", "audit", "audit_log", "submitter"]


def add_user(ctx: Context, name: str, role: str, *, password: str | None = None, actor: Principal | None = None) -> None:
    """An account for a person (with a password, for the login) or a system (tokens only)."""
    name = _account_name(name)
    role = Role.parse(role)
    hashed = hash_password(password) if password is not None else None
    with write_transaction(ctx.engine) as connection:
        stored.insert_account(connection, name, role.value, hashed, datetime.now(UTC))
        stored.record(connection, actor, "user.add", name, {"role": role.value, "password": hashed is not None})


def update_user(ctx: Context, name: str, *, role: str | None = None, password: str | None = None,
                disabled: bool | None = None, upload_quota: int | str | None = None,
                actor: Principal | None = None) -> None:
    """Change an account's role or password, disable it (its tokens stop working) or enable it again, or set
    its upload quota: bytes per 24 hours (0: none), or ``"default"`` for the service's."""
    values: dict = {}
    if role is not None:
        values["role"] = Role.parse(role).value
    if password is not None:
        values["password_hash"] = hash_password(password)
    if disabled is not None:
        values["disabled_at"] = datetime.now(UTC) if disabled else None
    if upload_quota is not None:
        if upload_quota != "default" and not (isinstance(upload_quota, int) and upload_quota >= 0):
            raise InputError("上传配额应为字节数（0 为不限）或 default", f"bad upload quota {upload_quota!r}")
        values["upload_quota_bytes"] = None if upload_quota == "default" else upload_quota
    if not values:
        raise InputError("没有要修改的内容", "nothing to change")
    with write_transaction(ctx.engine) as connection:
        stored.update_account(connection, name, **values)
        stored.record(connection, actor, "user.update", name,
               {k: (v if k in ("role", "upload_quota_bytes") else True) for k, v in values.items()
                if k != "disabled_at"} | ({"disabled": disabled} if disabled is not None else {}))
    ctx.recent_tokens.clear()


def users(ctx: Context):
    """The accounts: name, role, whether they sign in with a password, when created or disabled, upload quota."""
    with ctx.engine.connect() as connection:
        return stored.accounts(connection)


def issue_token(ctx: Context, name: str, *, role: str | None = None, label: str | None = None,
                lifetime: timedelta | None = None, kind: str = "api",
                actor: Principal | None = None) -> IssuedToken:
    """A bearer token for account ``name``, carrying its role (an admin's account may carry any role, for a
    system that needs less); ``lifetime`` None: until revoked."""
    now = datetime.now(UTC)
    with write_transaction(ctx.engine) as connection:
        account = stored.account_row(connection, name)
        if account["disabled_at"] is not None:
            raise ConflictError(f"用户 {name} 已停用", f"account {name} is disabled")
        granted = Role.parse(role) if role else Role(account["role"])
        if granted.value != account["role"] and account["role"] != Role.ADMIN:
            raise PermissionDenied(f"用户 {name} 的角色是 {account['role']}，不能领取 {granted.value} 令牌",
                                   f"{name} is {account['role']}, not {granted}")
        token = new_token()
        expires = now + lifetime if lifetime is not None else None
        token_id = stored.insert_token(connection, account["id"], role=granted.value, kind=kind, label=label,
                                digest=token_digest(token), now=now, expires_at=expires)
        stored.record(connection, actor, "token.create" if kind == "api" else "auth.login", name,
               {"token": token_id, "role": granted.value, "kind": kind,
                "expires_at": None if expires is None else expires.isoformat()})
    return IssuedToken(token_id, token, name, granted.value, kind, expires)


def login(ctx: Context, name: str, password: str, *, source: str | None = None) -> IssuedToken:
    """The OAuth2 password flow: a session token (:data:`cadastre.core.auth.SESSION_LIFETIME`) for a right name
    and password. A wrong one is recorded in the audit log and answered with the same message, in the same
    time, whether the name exists or not. Repeated failures of a name or from an address slow the next
    attempts (``Context.sign_in_throttle``): one made too early raises :class:`TooManyAttempts` without looking
    at the password."""
    account = _verified_account(ctx, name, password, source)
    return issue_token(ctx, account["name"], kind="session", lifetime=SESSION_LIFETIME,
                       actor=Principal(account["name"], Role(account["role"]), source))


def _verified_account(ctx: Context, name: str, password: str, source: str | None):
    """The enabled account ``name`` whose password is ``password``: a wrong one is audited and slows the next tries
    (:func:`login`'s rules, for every way a password is given)."""
    name, now = str(name), datetime.now(UTC)
    throttle = ctx.sign_in_throttle
    with ctx.engine.connect() as connection:
        account_failures, address_failures = stored.sign_in_failures(connection, name, source, now - throttle.window)
        wait = throttle.wait(account_failures, address_failures, now)
        if wait > 0:
            raise TooManyAttempts(f"登录失败次数过多，请 {math.ceil(wait)} 秒后再试",
                                  f"too many failed sign-ins: wait {wait:.0f} s", retry_after_s=wait)
        account = stored.account_row(connection, name, missing_ok=True)
    usable = account is not None and account["disabled_at"] is None
    if not check_password(account["password_hash"] if usable else None, password):
        after = Failures(account_failures.count + 1, now), Failures(address_failures.count + 1, now)
        locked = throttle.wait(*after, now)
        with write_transaction(ctx.engine) as connection:  # who tried is not known: no role
            stored.append_audit(connection, actor=name[:stored.AUDIT_TEXT], role=None, action="auth.login_failed",
                         target=name[:stored.AUDIT_TEXT], source=source, now=now,
                         detail={"wait_s": math.ceil(locked)} if locked > 0 else None)
        raise AuthenticationError("用户名或密码错误", "wrong name or password")
    return account


def basic_principal(ctx: Context, name: str, secret: str, *, source: str | None = None) -> Principal:
    """Who is asking with HTTP Basic authentication — the only scheme desktop GIS offers besides PKI (QGIS 3.22:
    Basic, EsriToken, PKI): a user name with its password, or with one of its API tokens as the password. The same
    roles, audit and sign-in throttling as :func:`login` and :func:`principal`; a pair found right is trusted for
    the same few seconds as a token (a map's tiles come dozens a second; a password hash costs tens of ms)."""
    key = token_digest(f"basic\0{name}\0{secret}")
    known = _recent_principal(ctx, key, source)
    if known is not None:
        return known
    try:
        found = principal(ctx, secret, source=source)
        if found.name != name:
            raise AuthenticationError("用户名或密码错误", "the token belongs to another account")
    except AuthenticationError:
        account = _verified_account(ctx, name, secret, source)
        found = Principal(account["name"], Role(account["role"]), source)
    ctx.recent_tokens.put(key, (found.name, Role(found.role).value, found.token_id), expires_at=None)
    return found


def revoke_token(ctx: Context, token_id: int, *, actor: Principal | None = None) -> None:
    """Revoke a token: it stops working at once in this process, within seconds in the others."""
    with write_transaction(ctx.engine) as connection:
        name = stored.revoke_token(connection, int(token_id), datetime.now(UTC))
        stored.record(connection, actor, "token.revoke", name, {"token": int(token_id)})
    ctx.recent_tokens.clear()


def tokens(ctx: Context, name: str | None = None):
    """The tokens (never the tokens themselves: their ids, holders, roles, kinds, labels and times)."""
    with ctx.engine.connect() as connection:
        return stored.tokens(connection, name)


def principal(ctx: Context, token: str | None, *, source: str | None = None) -> Principal:
    """Who holds ``token``: :class:`AuthenticationError` unless it is known, live and its account enabled.

    A token found live is trusted for :attr:`recent_tokens` ``.seconds`` (5) without asking the database again:
    a revocation, a disabled account or a new role takes effect at once in this process and within those
    seconds in the service's other worker processes."""
    if not token:
        raise AuthenticationError("请先登录（需要 Authorization: Bearer 令牌）", "no bearer token")
    digest = token_digest(token)
    known = _recent_principal(ctx, digest, source)
    if known is not None:
        return known
    with ctx.lookups.connect() as connection:
        found = stored.token_principal(connection, digest, datetime.now(UTC))
    if found is None:
        raise AuthenticationError("令牌无效、已过期或已吊销，请重新登录", "invalid, expired or revoked token")
    name, role, token_id, expires_at = found
    ctx.recent_tokens.put(digest, (name, role, token_id), expires_at=expires_at)
    return Principal(name, Role(role), source, token_id)


def cached_principal(ctx: Context, token: str | None, *, source: str | None = None) -> Principal | None:
    """The holder of ``token`` if it was found live in the last few seconds, without touching the database
    (the service checks this on its event loop); None: ask :func:`principal`."""
    return _recent_principal(ctx, token_digest(token), source) if token else None


def _recent_principal(ctx: Context, digest: str, source: str | None) -> Principal | None:
    found = ctx.recent_tokens.get(digest)
    return None if found is None else Principal(found[0], Role(found[1]), source, found[2])


def audit(ctx: Context, action: str, target: object = None, *, actor: Principal | None = None,
          detail: dict | None = None) -> None:
    """Append an event to the audit log (used for reads of owners' names; writes record themselves)."""
    with write_transaction(ctx.engine) as connection:
        stored.record(connection, actor, action, target, detail)


def audit_log(ctx: Context, *, since: datetime | None = None, user: str | None = None, action: str | None = None,
              limit: int = 1000):
    """The audit log, oldest first: the latest ``limit`` events since ``since`` by ``user``."""
    with ctx.engine.connect() as connection:
        return stored.audit_rows(connection, since=since, actor=user, action=action, limit=limit)


def submitter(ctx: Context, name: str | None) -> Principal:
    """The uploader of a package, as the actor of its processing (the service worker acts for them)."""
    with ctx.engine.connect() as connection:
        account = stored.account_row(connection, name, missing_ok=True) if name else None
    return Principal(name or "local", Role(account["role"]) if account else Role.ADMIN, "worker")


def _account_name(name: str) -> str:
    name = str(name).strip()
    if not name or len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise InputError("用户名应为 1–64 个可见字符，不含空格", f"bad account name {name!r}")
    return name
