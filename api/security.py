"""Security headers on every response (an ASGI middleware).

- Pages of the application (the map, the upload page, the API docs) say where their scripts, styles, images and
  connections may come from: this service only (and the configured basemap's host for tiles), no inline script,
  no framing (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``).
- Other HTML (a report, a printable 楼盘表) is a document: no script at all, inline styles and data: images only.
- Every response: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.
- Data answers (``/api``, the OGC API) may carry owners' names (权利人): ``Cache-Control: no-store`` unless the route
  set its own (vector tiles carry no names and may be cached privately).
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: HTML produced from data (reports, printable tables): nothing runs, nothing is fetched
DOCUMENT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
                   "base-uri 'none'; form-action 'none'")

#: paths whose answers are data (may carry owners' names): not to be kept by browsers or shared caches
DATA_PREFIXES = ("/api/", "/collections", "/conformance", "/tiles/")


def page_policy(basemap_url: str | None = None) -> str:
    """The Content-Security-Policy of the application's own pages (MapLibre needs blob: workers and images)."""
    extra = ""
    if basemap_url:
        parts = urlsplit(basemap_url.replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
        if parts.scheme in ("http", "https") and parts.netloc:
            extra = f" {parts.scheme}://{parts.netloc}"
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; worker-src 'self' blob:; "
            "child-src 'self' blob:; font-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    def __init__(self, app, *, page_paths: tuple[str, ...] = ("/", "/upload", "/docs"),
                 basemap_url: str | None = None) -> None:
        self.app, self.page_paths, self.page_csp = app, page_paths, page_policy(basemap_url).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]

        async def sending(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if kind.startswith(b"text/html") and b"content-security-policy" not in names:
                    policy = self.page_csp if path in self.page_paths else DOCUMENT_POLICY.encode()
                    headers += [(b"content-security-policy", policy), (b"x-frame-options", b"DENY")]
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
                if path.startswith(DATA_PREFIXES) and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
