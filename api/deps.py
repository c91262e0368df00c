"""Dependency adapters: what a route needs from the running service (the registry, the worker, settings)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from cadastre.registry import Registry

__all__ = ["ServiceSettings", "RegistryDep", "SettingsDep", "JSON", "to_json"]


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of the HTTP service (``cadastre serve`` options or ``CADASTRE_*`` variables)."""

    #: XYZ raster tile URL template for the map's basemap (``{z}/{x}/{y}``); None: no basemap (offline)
    basemap_url: str | None = None
    basemap_attribution: str | None = None
    #: uploads larger than this are refused while streaming (413)
    max_upload_bytes: int = 1 << 30


def get_registry(request: Request) -> Registry:
    return request.app.state.registry


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def to_json(value: Any) -> str:
    return json.dumps(_clean(value), ensure_ascii=False, default=str, allow_nan=False)


class JSON(JSONResponse):
    """JSON with Chinese kept as is, datetimes in ISO 8601, NaN as null, numpy scalars as numbers."""

    def render(self, content: Any) -> bytes:
        return to_json(content).encode("utf-8")
