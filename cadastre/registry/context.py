"""What every topic of the registry works over: the database engines, what the database is the registry of, and the
caches one process keeps (tokens found live, the map's extent). Also the small values the topics share."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from cadastre.core import settings
from cadastre.core.auth import Permission, Principal, RecentTokens, SignInThrottle
from cadastre.core.errors import InputError, shown
from cadastre.core.settings import County
from cadastre.store.engine import async_lookup_engine, lookup_engine
from cadastre.store.schema import RegistryInfo

__all__ = ["Context", "Received", "IssuedToken", "OriginalFile", "Summary", "moment", "frame_time", "own_only",
           "byte_size"]


@dataclass
class Context:
    """One registry database as this process works on it."""

    engine: Engine
    info: RegistryInfo
    #: point lookups (a parcel card, a token's check, a tile, a feature page): autocommit on PostgreSQL
    lookups: Engine = field(init=False)
    #: tokens found live in the last seconds (access.principal)
    recent_tokens: RecentTokens = field(default_factory=RecentTokens)
    #: how failed sign-ins slow the next ones (access.login)
    sign_in_throttle: SignInThrottle = field(default_factory=SignInThrottle.from_settings)
    #: per collection, (data version, bounds) of its extent (lookups.extent; parcels: the map's)
    extent: dict[str, tuple[tuple, list[float] | None]] | None = None

    #: per running event loop, its engine of point lookups served on the loop (PostgreSQL only; see
    #: :meth:`async_lookups`)
    _async_lookups: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary, init=False,
                                                      repr=False)

    def __post_init__(self) -> None:
        self.lookups = lookup_engine(self.engine)

    def async_lookups(self) -> AsyncEngine | None:
        """The running event loop's engine of point lookups (:func:`~cadastre.store.engine.async_lookup_engine`),
        opened on first use: its pooled connections belong to that loop, so each loop has its own (the service
        has one per process; a test client one per client). None for SQLite."""
        if self.info.dialect == "sqlite":
            return None
        loop = asyncio.get_running_loop()
        lookups = self._async_lookups.get(loop)
        if lookups is None:
            lookups = self._async_lookups[loop] = async_lookup_engine(self.engine)
        return lookups

    async def dispose_async_lookups(self) -> None:
        """Close the running loop's lookup connections (before the loop ends: they cannot be closed after)."""
        lookups = self._async_lookups.pop(asyncio.get_running_loop(), None)
        if lookups is not None:
            await lookups.dispose()

    @property
    def srid(self) -> int:
        return self.info.storage_srid

    @property
    def counties(self) -> list[County]:
        return [settings.county(code) for code in self.info.counties]

    @property
    def county(self) -> str | None:
        """The registry's county when it has exactly one (a package that names none is meant for it)."""
        return self.info.counties[0] if len(self.info.counties) == 1 else None


@dataclass(frozen=True)
class Received:
    """A package the service has taken in: its id, checksum, and whether the same bytes had come before."""

    package_id: int
    sha256: str
    duplicate: bool


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token as issued: the token itself is shown this once (the registry keeps its SHA-256)."""

    id: int
    token: str
    name: str
    role: str
    kind: str  # session | api
    expires_at: datetime | None

    def to_dict(self) -> dict:
        return {"id": self.id, "access_token": self.token, "token_type": "bearer", "name": self.name,
                "role": self.role, "kind": self.kind,
                "expires_at": None if self.expires_at is None else self.expires_at.isoformat()}


@dataclass(frozen=True)
class OriginalFile:
    path: Path
    filename: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Summary:
    """Counts of what the registry holds now."""

    counties: tuple[str, ...]
    storage_srid: int
    dialect: str
    districts: int
    subdistricts: int
    zoned_area_km2: float
    parcels: int
    buildings: int
    units: int
    packages: int
    issued_codes: int

    def to_dict(self) -> dict:
        return asdict(self)


def moment(value: datetime | str | None) -> datetime | None:
    """A time given by a user: a datetime or an ISO 8601 text (a date alone is its midnight); naive means UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"时间 {shown(value)} 应为 ISO 8601，如 2026-11-01", f"bad time {shown(value)}") from None
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def frame_time(value) -> datetime | None:
    """A timestamp from a frame (NaT → None)."""
    return None if value is None or value is pd.NaT or (isinstance(value, float) and value != value) else value


def own_only(viewer: Principal | None) -> str | None:
    """The account whose packages alone ``viewer`` may see (a surveyor: their own), None for every package."""
    return None if viewer is None or viewer.can(Permission.READ_ALL_PACKAGES) else viewer.name


def byte_size(n: int) -> str:
    """A byte count as people read it: 4.8 GB, 320 MB."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} 字节"
