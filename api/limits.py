"""Request body limits enforced while the body streams in (an ASGI middleware), not after it has been stored: the
upload limit for packages, a small one (1 MiB) for every other request body (permits, waivers, sign-in)."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from api.deps import to_json
from api.problems import MEDIA_TYPE, TYPE_BASE

#: any request body other than an upload: a permit.json is a few KB
OTHER_BODY_LIMIT = 1 << 20


def _message(limit: int) -> str:
    return f"请求内容超过上限 {limit} 字节（{limit / 2**20:.0f} MB），已拒收"


class _TooLarge(HTTPException):
    """Raised into the route reading the body; the problem handlers answer it with 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit))


class UploadLimit:
    """Refuse with 413 a request body larger than ``limit`` bytes to ``paths`` (uploads), or than
    ``other`` bytes to any other route: at once when Content-Length says so, else as soon as the streamed body
    passes the limit."""

    def __init__(self, app, *, limit: int, paths: tuple[str, ...] = ("/api/packages",),
                 other: int = OTHER_BODY_LIMIT) -> None:
        self.app, self.upload_limit, self.paths, self.other = app, limit, paths, other

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope["path"].rstrip("/") in self.paths else self.other
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._refuse(scope, send, limit)
        seen = 0
        started = False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
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

    async def _refuse(self, scope, send, limit: int):
        body = to_json({"type": TYPE_BASE + "too-large", "title": "请求内容过大", "status": 413,
                        "detail": _message(limit),
                        "instance": scope["path"]}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
