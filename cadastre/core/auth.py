"""Who may do what: roles, their permissions, passwords, tokens, and masking of owners' names.

Pure policy and primitives; the accounts, tokens and audit log are stored by :mod:`cadastre.store.auth` and used
through :class:`cadastre.registry.Registry` (``add_user``, ``login``, ``issue_token``, ``principal``, ``audit``).

Roles (from the registry's point of view):

============ ==============================================================================================
``surveyor``  uploads packages; sees their own packages, reports and originals; reads the registry
``registrar`` reads everything including owners' names; waives findings; re-processes packages
``planner``   records planning permits; reads the registry and all packages
``analyst``   reads the registry and all packages, owners' names masked; no originals (they carry the names)
``admin``     everything, and accounts and tokens
============ ==============================================================================================

Tokens are random strings shown once; the registry keeps only their SHA-256, so a stolen database does not hold
usable tokens. Passwords are hashed with Argon2id.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

from cadastre.core.errors import AuthenticationError, InputError, PermissionDenied, shown
from cadastre.core.settings import service

__all__ = ["Role", "Permission", "ROLE_PERMISSIONS", "Principal", "AuthenticationError", "PermissionDenied",
           "hash_password", "verify_password", "new_token", "token_digest", "mask_name", "SESSION_LIFETIME",
           "LOCAL", "RecentTokens", "SignInThrottle", "Failures", "check_password"]


class Role(StrEnum):
    SURVEYOR = "surveyor"
    REGISTRAR = "registrar"
    PLANNER = "planner"
    ANALYST = "analyst"
    INTEGRATION = "integration"  # another office's system: reads the registry and the event feed
    ADMIN = "admin"

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            raise InputError(f"没有角色 {shown(text)}：可用 {', '.join(r.value for r in cls)}", f"no role {shown(text)}") from None


class Permission(StrEnum):
    READ_REGISTRY = "read_registry"          # parcels, buildings, units, tables, features, tiles, search
    UPLOAD = "upload"                        # send packages
    READ_OWN_PACKAGES = "read_own_packages"  # packages one sent: status, report, findings, original
    READ_ALL_PACKAGES = "read_all_packages"  # every package's status, report and findings
    READ_ORIGINALS = "read_originals"        # any package's original bytes (they carry owners' names)
    READ_OWNERS = "read_owners"              # owners' names (QLR) unmasked
    WAIVE = "waive"                          # waive findings, re-process a package after waivers
    RECORD_PERMITS = "record_permits"
    READ_EVENTS = "read_events"              # the event feed (what happened to every package, codes, buildings)
    ADMINISTER = "administer"                # accounts, tokens, the audit log, webhook subscriptions


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SURVEYOR: frozenset({Permission.READ_REGISTRY, Permission.UPLOAD, Permission.READ_OWN_PACKAGES}),
    Role.REGISTRAR: frozenset({Permission.READ_REGISTRY, Permission.READ_OWN_PACKAGES, Permission.READ_ALL_PACKAGES,
                               Permission.READ_ORIGINALS, Permission.READ_OWNERS, Permission.WAIVE,
                               Permission.READ_EVENTS}),
    Role.PLANNER: frozenset({Permission.READ_REGISTRY, Permission.READ_OWN_PACKAGES, Permission.READ_ALL_PACKAGES,
                             Permission.RECORD_PERMITS, Permission.READ_EVENTS}),
    Role.ANALYST: frozenset({Permission.READ_REGISTRY, Permission.READ_OWN_PACKAGES, Permission.READ_ALL_PACKAGES,
                             Permission.READ_EVENTS}),
    # events carry no owners' names but name every package received: the feed is for whoever may read every
    # package's status anyway (staff and other offices' systems), not for surveyors
    Role.INTEGRATION: frozenset({Permission.READ_REGISTRY, Permission.READ_OWN_PACKAGES, Permission.READ_ALL_PACKAGES,
                                 Permission.READ_EVENTS}),
    Role.ADMIN: frozenset(Permission),
}

#: how long a token from the password login lives (API tokens for systems live as long as they are given)
SESSION_LIFETIME = timedelta(hours=8)


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account name and the role its credentials carry, and where from."""

    name: str
    role: Role
    source: str | None = None  # the client's address, or "cli"
    token_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission, what: str) -> None:
        """Raise :class:`PermissionDenied` unless this principal holds ``permission`` (``what``: the action, in
        Chinese, for the message)."""
        if not self.can(permission):
            raise PermissionDenied(f"角色 {self.role.value}（{self.name}）无权{what}", f"{self.role} may not {permission}")


#: the library used directly (a notebook, the CLI on the server): trusted like the database file itself
LOCAL = Principal("local", Role.ADMIN, "local")


def hash_password(password: str) -> str:
    """An Argon2id hash (PHC string) of ``password``."""
    from argon2 import PasswordHasher

    if len(password) < 8:
        raise InputError("密码至少 8 个字符", "password shorter than 8 characters")
    return PasswordHasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    if not stored:
        return False
    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash no password matches, for names without one: checking it costs what checking a real one costs."""
    return hash_password(secrets.token_urlsafe(24))


def check_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: no account, a disabled one, or a system without a
    password), taking the same time either way, so that how long a wrong sign-in takes says nothing about
    whether the name exists (118 ms against 3 ms before)."""
    return verify_password(stored or _dummy_hash(), password) and stored is not None


@dataclass(frozen=True)
class Failures:
    """Failed sign-ins counted for one key (an account name, or a client address): how many, and the last."""

    count: int
    last: datetime | None


@dataclass(frozen=True)
class SignInThrottle:
    """How failed sign-ins slow the next ones (``service.toml`` ``[sign_in]``).

    Failures are counted over ``window`` since the last successful sign-in, per account name (known or not: an
    unknown name is throttled like a known one, so throttling says nothing about which names exist) and per client
    address (across names). Past ``free`` failures of a key, the next attempt must wait ``first_delay_s`` after
    the last failure, then twice as long after each further failure, up to ``max_delay_s``: a temporary lock.

    >>> throttle = SignInThrottle(free=3, first_delay_s=1, max_delay_s=900)
    >>> [throttle.delay(n, throttle.free) for n in (2, 3, 4, 5, 20)]
    [0.0, 1.0, 2.0, 4.0, 900.0]
    """

    window: timedelta = timedelta(minutes=15)
    free: int = 3
    address_free: int = 20
    first_delay_s: float = 1.0
    max_delay_s: float = 900.0

    @classmethod
    def from_settings(cls) -> SignInThrottle:
        s = service()["sign_in"]
        return cls(timedelta(minutes=float(s["window_minutes"])), int(s["free_failures"]),
                   int(s["address_free_failures"]), float(s["first_delay_s"]), float(s["max_delay_s"]))

    def delay(self, failures: int, free: int) -> float:
        """Seconds an attempt must wait after the last of ``failures`` failures."""
        if failures < free:
            return 0.0
        return float(min(self.first_delay_s * 2.0 ** min(failures - free, 62), self.max_delay_s))

    def wait(self, account: Failures, address: Failures, now: datetime) -> float:
        """Seconds before the next attempt may be made (0: now)."""
        waits = [0.0]
        for failures, free in ((account, self.free), (address, self.address_free)):
            if failures.last is not None:
                ready = failures.last + timedelta(seconds=self.delay(failures.count, free))
                waits.append((ready - now).total_seconds())
        return max(waits)


TOKEN_PREFIX = "cad_"


def new_token() -> str:
    """A new random bearer token (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the registry keeps of a token: its SHA-256 (tokens are random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RecentTokens:
    """Tokens found live in the last ``seconds``, by digest, so that a client's every request does not cost a
    database round trip (on PostgreSQL that round trip and its thread hand-off were a third of a parcel card's
    time: 750 → about 1 100 requests/s, bench/http.py).

    A revocation, a disabled account or a changed role empties the cache of the process that made the change at
    once; other server processes see it within ``seconds``. An entry never outlives the token's own expiry.

    >>> clock = iter([0.0, 1.0, 6.0]).__next__
    >>> recent = RecentTokens(seconds=5, clock=clock)
    >>> recent.put("d1", ("王工", "surveyor", 7), expires_at=None)  # at 0 s
    >>> recent.get("d1"), recent.get("d1")  # at 1 s, then at 6 s: gone
    (('王工', 'surveyor', 7), None)
    """

    def __init__(self, seconds: float = 5.0, *, capacity: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.capacity, self.clock = seconds, capacity, clock
        self._entries: dict[str, tuple[tuple, float]] = {}

    def get(self, digest: str) -> tuple | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            self._entries.pop(digest, None)
            return None
        return entry[0]

    def put(self, digest: str, found: tuple, *, expires_at: datetime | None) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.capacity:
            self._entries.clear()  # rare (more live tokens than that in a few seconds); the next requests re-check
        left = self.seconds
        if expires_at is not None:
            left = min(left, (expires_at - datetime.now(UTC)).total_seconds())
        if left > 0:
            self._entries[digest] = (found, self.clock() + left)

    def clear(self) -> None:
        self._entries.clear()


def mask_name(name: object) -> object:
    """An owner's name as roles without :attr:`Permission.READ_OWNERS` see it: the first character, the rest as
    ``*`` (one per character, at most 3).

    >>> mask_name("王小明"), mask_name("隰县合成房地产开发有限公司"), mask_name(None)
    ('王**', '隰***', None)
    """
    if name is None or (isinstance(name, float) and name != name):
        return None
    text = str(name)
    return text[:1] + "*" * min(max(len(text) - 1, 1), 3)


def expiry(now: datetime, lifetime: timedelta | None) -> datetime | None:
    return None if lifetime is None else now + lifetime
