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

from cadastre.errors import AuthenticationError, InputError, PermissionDenied

__all__ = ["Role", "Permission", "ROLE_PERMISSIONS", "Principal", "AuthenticationError", "PermissionDenied",
           "hash_password", "verify_password", "new_token", "token_digest", "mask_name", "SESSION_LIFETIME",
           "LOCAL", "RecentTokens"]


class Role(StrEnum):
    SURVEYOR = "surveyor"
    REGISTRAR = "registrar"
    PLANNER = "planner"
    ANALYST = "analyst"
    ADMIN = "admin"

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            raise InputError(f"没有角色 {text}：可用 {', '.join(r.value for r in cls)}", f"no role {text}") from None


class Permission(StrEnum):
    READ_REGISTRY = "read_registry"          # parcels, buildings, units, tables, features, tiles, search
    UPLOAD = "upload"                        # send packages
    READ_OWN_PACKAGES = "read_own_packages"  # packages one sent: status, report, findings, original
    READ_ALL_PACKAGES = "read_all_packages"  # every package's status, report and findings
    READ_ORIGINALS = "read_originals"        # any package's original bytes (they carry owners' names)
    READ_OWNERS = "read_owners"              # owners' names (QLR) unmasked
    WAIVE = "waive"                          # waive findings, re-process a package after waivers
    RECORD_PERMITS = "record_permits"
    ADMINISTER = "administer"                # accounts, tokens, the audit log


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SURVEYOR: frozenset({Permission.READ_REGISTRY, Permission.UPLOAD, Permission.READ_OWN_PACKAGES}),
    Role.REGISTRAR: frozenset({Permission.READ_REGISTRY, Permission.READ_OWN_PACKAGES, Permission.READ_ALL_PACKAGES,
                               Permission.READ_ORIGINALS, Permission.READ_OWNERS, Permission.WAIVE}),
    Role.PLANNER: frozenset({Permission.READ_REGISTRY, Permission.READ_OWN_PACKAGES, Permission.READ_ALL_PACKAGES,
                             Permission.RECORD_PERMITS}),
    Role.ANALYST: frozenset({Permission.READ_REGISTRY, Permission.READ_OWN_PACKAGES, Permission.READ_ALL_PACKAGES}),
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
