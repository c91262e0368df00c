"""Dependency adapters: what a route needs from the running service (the registry, the worker, settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer

from cadastre.core import jsontext
from cadastre.core.auth import Permission, Principal
from cadastre.registry import Registry

__all__ = ["ServiceSettings", "RegistryDep", "SettingsDep", "PrincipalDep", "allowed", "READ", "quick",
           "point_lookup", "client_address", "JSON"]


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of the HTTP service (``cadastre serve`` options or ``CADASTRE_*`` variables)."""

    #: XYZ raster tile URL template for the map's basemap (``{z}/{x}/{y}``); None: no basemap (offline)
    basemap_url: str | None = None
    basemap_attribution: str | None = None
    #: uploads larger than this are refused while streaming (413)
    max_upload_bytes: int = 1 << 30
    #: a request body must arrive within this many seconds plus one per ``body_min_rate`` bytes (else 408)
    body_timeout_s: float = 20.0
    body_min_rate: float = 1000.0
    #: seconds between a webhook's tries (``CADASTRE_WEBHOOK_RETRY_S=5,300,…``); None: the Standard Webhooks
    #: schedule of ``cadastre.core.events.RETRY_DELAYS_S`` (27 h)
    webhook_retry_s: tuple[float, ...] | None = None


async def get_registry(request: Request) -> Registry:  # async: no thread hop for an attribute
    return request.app.state.registry


async def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]

#: the OAuth2 password flow, for the OpenAPI document (Swagger UI's 'Authorize' button); API tokens are sent the
#: same way, as ``Authorization: Bearer``
bearer = OAuth2PasswordBearer(tokenUrl="/api/token", auto_error=False,
                              description="POST /api/token（用户名、密码）取得令牌；系统用 `cadastre token create` 生成的令牌")


#: HTTP Basic, for desktop GIS (QGIS offers Basic, EsriToken and PKI, never a custom header): user name and password,
#: or user name and an API token as the password
basic = HTTPBasic(auto_error=False, realm="cadastre",
                  description="桌面 GIS（QGIS 等）：用户名 + 密码，或用户名 + API 令牌（作为密码）")


async def quick(registry: Registry, function, *args, writes: bool = False, **kwargs):
    """Run a quick registry call (a point lookup): on the event loop with the embedded database, where it is
    in-process work shorter than the hand-off to a thread (and threads would contend for the GIL: p99 75 ms
    against 7 ms with eight clients, bench/http.py); in the thread pool with PostgreSQL, where the call mostly
    waits on the network and the loop must stay free for other requests meanwhile (lookups the registry also has
    as coroutines wait on the loop instead: :func:`point_lookup`). A call that ``writes`` (an
    audited read of owners' names) goes to the pool on both: on SQLite it may wait for the write lock an ingest
    holds, and the loop must not wait with it."""
    if registry.info.dialect == "sqlite" and not writes:
        return function(*args, **kwargs)
    return await run_in_threadpool(function, *args, **kwargs)


async def point_lookup(registry: Registry, blocking, awaited, *args, writes: bool = False, **kwargs):
    """A point lookup the registry has in both forms (``Registry.parcel`` / ``Registry.parcel_async``): awaited
    on the loop with PostgreSQL, where its queries wait for the database through the async driver without a
    thread's hand-off (a quarter of a card's throughput, bench/http.py); with SQLite as :func:`quick` runs it."""
    if registry.info.dialect == "sqlite":
        return await quick(registry, blocking, *args, writes=writes, **kwargs)
    return await awaited(*args, **kwargs)


def client_address(request: Request) -> str | None:
    """Where a request comes from, for the audit log."""
    return request.client.host if request.client else None


async def get_principal(request: Request, registry: RegistryDep,
                        token: Annotated[str | None, Depends(bearer)],
                        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]) -> Principal:
    """Who is asking, from the bearer token or HTTP Basic credentials (401 when missing, unknown, expired or
    revoked). A token checked in the last seconds is known without the database, here on the event loop (see
    Registry.principal)."""
    source = client_address(request)
    if token is None and credentials is not None:
        return await run_in_threadpool(registry.basic_principal, credentials.username, credentials.password,
                                       source=source)
    return (registry.cached_principal(token, source=source)
            or await quick(registry, registry.principal, token, source=source))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def allowed(permission: Permission, what: str):
    """A dependency admitting principals holding ``permission`` (403 for the others); ``what`` is the action in
    Chinese, for the message."""
    async def check(principal: PrincipalDep) -> Principal:
        principal.require(permission, what)
        return principal

    return Depends(check)


#: any signed-in role may read the registry (parcels, units, tables, features, tiles)
READ = allowed(Permission.READ_REGISTRY, "查询登记库")


class JSON(JSONResponse):
    """JSON with Chinese kept as is, datetimes in ISO 8601, NaN as null, numpy scalars as numbers.

    A route that returns its value wrapped in this response skips FastAPI's ``jsonable_encoder`` pass over it (a
    parcel card: 0.6 of the request's 3 ms in process), which ``render`` makes redundant for plain dicts and lists;
    the point lookups do so."""

    def render(self, content: Any) -> bytes:
        return jsontext.dumps_bytes(content)
