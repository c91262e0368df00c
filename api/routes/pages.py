"""The pages: the staff map (``/``), the surveyors' upload page (``/upload``) and the API docs (``/docs``), all
served from ``api/static`` with pinned, vendored browser libraries, so they work with no internet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBasicCredentials

from api.deps import JSON, RegistryDep, basic, bearer, get_principal
from api.routes.ogc import landing

STATIC = Path(__file__).resolve().parent.parent / "static"
MAPLIBRE = "vendor/maplibre-gl-5.24.1"
SWAGGER = "vendor/swagger-ui-5.32.0"
TURF = "vendor/turf-7.4.0"

router = APIRouter(include_in_schema=False)


def _page(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8").replace("{{MAPLIBRE}}", f"/static/{MAPLIBRE}").replace(
        "{{TURF}}", f"/static/{TURF}")


def _wants_json(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        return f == "json"
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


@router.get("/")
async def index(request: Request, registry: RegistryDep, token: Annotated[str | None, Depends(bearer)],
                credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]):
    """Browsers: the map (it signs in itself). JSON clients: the OGC API landing page, behind a token or Basic
    credentials like every OGC endpoint (QGIS asks for it first)."""
    if _wants_json(request):
        await get_principal(request, registry, token, credentials)
        return JSON(landing(request))
    return HTMLResponse(_page("map.html"))


@router.get("/upload")
def upload_page():
    return HTMLResponse(_page("upload.html"))


@router.get("/docs")
def docs():
    # no inline script: the pages' Content-Security-Policy allows this service's own files only (api.security)
    return HTMLResponse(f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>cadastre API 文档</title><link rel="stylesheet" href="/static/{SWAGGER}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="/static/{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script></body></html>""")
