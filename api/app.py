"""The application factory: the registry, the background worker, the routers and the problem handlers."""

from __future__ import annotations

import gc
import os
import re
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import problems
from api.deps import JSON, ServiceSettings
from api.jobs import DeliveryWorker, IngestWorker
from api.limits import UploadLimit
from api.routes import auth, documents, events, lookups, ogc, packages, pages
from api.security import SecurityHeaders
from cadastre import __version__
from cadastre.core.settings import service as service_settings
from cadastre.core.settings import tolerances
from cadastre.registry import Registry, open_registry

__all__ = ["create_app", "settings_from_env"]

DESCRIPTION = """不动产测绘成果服务：上传与检查成果包、查询宗地/自然幢/户、楼盘表、规划许可、OGC API – Features 与矢量瓦片。

错误一律以 RFC 9457 `application/problem+json` 返回（`detail` 为中文说明）。"""


def settings_from_env() -> ServiceSettings:
    """Service settings from ``CADASTRE_BASEMAP_URL``, ``CADASTRE_BASEMAP_ATTRIBUTION``, the rules file's upload
    limit (``[package] max_upload_bytes``) and ``service.toml``'s ``[http]`` body pace."""
    http = service_settings()["http"]
    return ServiceSettings(basemap_url=os.environ.get("CADASTRE_BASEMAP_URL") or None,
                           basemap_attribution=os.environ.get("CADASTRE_BASEMAP_ATTRIBUTION") or None,
                           max_upload_bytes=int(tolerances()["package"]["max_upload_bytes"]),
                           body_timeout_s=float(http["body_timeout_s"]), body_min_rate=float(http["body_min_rate"]),
                           webhook_retry_s=tuple(float(v) for v in os.environ["CADASTRE_WEBHOOK_RETRY_S"].split(","))
                           if os.environ.get("CADASTRE_WEBHOOK_RETRY_S") else None)


def create_app(registry: Registry | str | None = None, settings: ServiceSettings | None = None) -> FastAPI:
    """The HTTP service over ``registry`` (a :class:`Registry`, a database URL, or ``CADASTRE_DB``)."""
    settings = settings or settings_from_env()
    owned = not isinstance(registry, Registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reg = open_registry(registry) if owned else registry
        app.state.registry = reg
        app.state.worker = IngestWorker(reg)
        app.state.worker.start()
        app.state.deliveries = DeliveryWorker(reg, delays=settings.webhook_retry_s)
        app.state.deliveries.start()
        # Everything loaded so far (pandas, shapely, pyproj, the routes) lives as long as the process: keep it out
        # of the cyclic garbage collector's full passes, which otherwise stall a request for 100 ms now and then
        # (tile p95 110 ms → 20 ms, bench/http.py).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            app.state.deliveries.shutdown()
            app.state.worker.shutdown()
            await reg.close_async()
            if owned:
                reg.close()

    app = FastAPI(title="cadastre", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  default_response_class=JSON, docs_url=None, redoc_url=None)
    app.state.settings = settings
    problems.install(app)
    app.add_middleware(UploadLimit, limit=settings.max_upload_bytes, timeout_s=settings.body_timeout_s,
                       min_rate=settings.body_min_rate)
    app.add_middleware(SecurityHeaders, basemap_url=settings.basemap_url)
    # the point lookups first: routes are matched in turn, and a card request walked the others' patterns first
    for module in (lookups, ogc, pages, auth, packages, documents, events):
        app.include_router(module.router)
    _chinese_summaries(app)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app


def _chinese_summaries(app: FastAPI) -> None:
    """Each operation's summary in Swagger UI from the first sentence of its (Chinese) docstring, not FastAPI's
    default made of the function's English name ("Reprocess Package")."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    description = (operation.get("description") or "").strip()
                    if description:
                        first = description.splitlines()[0]
                        operation["summary"] = re.split(r"[：。（]", first, maxsplit=1)[0].strip() or first
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory api.app:app_from_env`` (``cadastre serve`` uses it for several workers)."""
    return create_app(os.environ.get("CADASTRE_DB"))
