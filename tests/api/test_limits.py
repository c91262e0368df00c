"""Request bodies: a body that trickles in is cut off (issue 18), in a real server over a real socket."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from api import create_app
from api.deps import ServiceSettings
from cadastre.testing import role_tokens


@pytest.fixture
def slow_server(registry):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(registry, ServiceSettings(max_upload_bytes=5 << 20, body_timeout_s=1.0, body_min_rate=1000))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield port, role_tokens(registry)["surveyor"]
    server.should_exit = True
    thread.join(10)


def test_a_body_trickling_in_is_cut_off_with_408(slow_server):
    port, token = slow_server
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"POST /api/packages HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                       + f"Authorization: Bearer {token}\r\nContent-Length: 1000000\r\n\r\n".encode()
                       + b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n'
                       b"Content-Type: application/zip\r\n\r\n")
        started = time.monotonic()
        client.settimeout(0.5)
        answer = b""
        while time.monotonic() - started < 20 and not answer:
            try:
                client.sendall(b"x")  # a byte every half second: far below 1000 bytes/s
                answer = client.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert "超时".encode() in answer
    assert time.monotonic() - started < 10  # 1 s allowed plus a byte's worth, not for ever


def test_a_body_at_a_steady_pace_gets_through(slow_server):
    body = b"x" * 3000
    with socket.create_connection(("127.0.0.1", slow_server[0])) as client:
        client.sendall(b"POST /api/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                       + f"Content-Length: {len(body)}\r\n\r\n".encode())
        for i in range(0, len(body), 1000):  # 1000 bytes every 0.5 s: 2000 bytes/s, above the minimum
            client.sendall(body[i:i + 1000])
            time.sleep(0.5)
        answer = client.recv(65536)
    assert not answer.startswith(b"HTTP/1.1 408"), answer[:200]
