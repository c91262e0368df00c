"""Fixtures of the HTTP tests: the service served for real clients (a browser, GDAL)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from api import create_app
from api.deps import ServiceSettings


@pytest.fixture(scope="module")
def server(loaded_registry):
    """The service over ``loaded_registry`` on a free loopback port, in a thread of this process; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(create_app(loaded_registry, ServiceSettings()), host="127.0.0.1",
                                             port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)
