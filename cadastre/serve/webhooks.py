"""Webhooks going out (issue 25): one signed POST of an event's body to a subscriber's URL, with bounded timeouts
and no redirect followed (a 3xx is a failure: a subscriber's system must not send the registry's events on to a
host an administrator never registered)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from cadastre.core.errors import InputError, shown

__all__ = ["check_url", "post", "TIMEOUT"]

#: connect within 5 s, the whole answer within 15 s
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def check_url(url: str) -> str:
    """A subscriber URL as an administrator may register it: http or https, with a host.

    >>> check_url("https://zj.example.gov.cn/hooks/cadastre")
    'https://zj.example.gov.cn/hooks/cadastre'
    >>> check_url("ftp://example.org/x")
    Traceback (most recent call last):
    ...
    cadastre.core.errors.InputError: 订阅地址只能是 http 或 https 地址：ftp://example.org/x (webhook URL must be http(s): ftp://example.org/x)
    """
    url = str(url).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"订阅地址只能是 http 或 https 地址：{shown(url)}", f"webhook URL must be http(s): {shown(url)}")
    return url


def post(url: str, body: str, headers: dict[str, str], *, client: httpx.Client | None = None) -> str | None:
    """POST ``body`` to ``url``; None when the subscriber took it (2xx), else why not (for the delivery state)."""
    try:
        if client is None:
            with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as own:
                response = own.post(url, content=body.encode("utf-8"), headers=headers)
        else:
            response = client.post(url, content=body.encode("utf-8"), headers=headers)
    except httpx.HTTPError as e:
        return f"{type(e).__name__}: {e}"[:500]
    if 200 <= response.status_code < 300:
        return None
    if 300 <= response.status_code < 400:
        return f"HTTP {response.status_code}: 不跟随重定向（{response.headers.get('location', '')}）"[:500]
    return f"HTTP {response.status_code}: {response.text[:200]}"
