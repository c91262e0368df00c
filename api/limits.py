"""Request body limits enforced while the body streams in (an ASGI middleware), not after it has been stored: the
upload limit for packages, a small one (1 MiB) for every other request body (permits, waivers, sign-in), and a
pace: a body that trickles in is cut off (408) instead of holding a connection forever."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException

from api.problems import MEDIA_TYPE, TYPE_BASE
from cadastre.core import jsontext

#: any request body other than an upload: a permit.json is a few KB
OTHER_BODY_LIMIT = 1 << 20


def _message(limit: int) -> str:
    return f"请求内容超过上限 {limit} 字节（{limit / 2**20:.0f} MB），已拒收"


class _TooLarge(HTTPException):
    """Raised into the route reading the body; the problem handlers answer it with 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit))


class _TooSlow(HTTPException):
    def __init__(self) -> None:
        super().__init__(408, "请求内容传输过慢或中断，已超时；请检查网络后重新上传")


class UploadLimit:
    """Refuse with 413 a request body larger than ``limit`` bytes to ``paths`` (uploads), or than
    ``other`` bytes to any other route: at once when Content-Length says so, else as soon as the streamed body
    passes the limit. Cut off with 408 a body that does not arrive within ``timeout_s`` plus one second per
    ``min_rate`` bytes received (Apache mod_reqtimeout's rule): a client sending a byte a second cannot hold a
    connection and an upload slot for ever, one on a slow line still gets through."""

    def __init__(self, app, *, limit: int, paths: tuple[str, ...] = ("/api/packages",),
                 other: int = OTHER_BODY_LIMIT, timeout_s: float = 20.0, min_rate: float = 1000.0) -> None:
        self.app, self.upload_limit, self.paths, self.other = app, limit, paths, other
        self.timeout_s, self.min_rate = timeout_s, min_rate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope["path"].rstrip("/") in self.paths else self.other
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._refuse(scope, send, limit)
        seen = 0
        started = False
        complete = False
        loop = asyncio.get_running_loop()
        begun = loop.time()

        async def counted():
            nonlocal seen, complete
            if complete:  # the body is in: what the app waits for now is the client going away
                return await receive()
            left = begun + self.timeout_s + seen / self.min_rate - loop.time()
            try:
                message = await asyncio.wait_for(receive(), max(left, 0.0))
            except TimeoutError:
                raise _TooSlow() from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send, limit)
        except _TooSlow as slow:
            if not started:
                await self._refuse(scope, send, limit, status=408, title="请求超时", kind="body-timeout",
                                   detail=slow.detail)

    async def _refuse(self, scope, send, limit: int, *, status: int = 413, title: str = "请求内容过大",
                      kind: str = "too-large", detail: str | None = None):
        body = jsontext.dumps_bytes({"type": TYPE_BASE + kind, "title": title, "status": status,
                                     "detail": detail or _message(limit), "instance": scope["path"]})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
