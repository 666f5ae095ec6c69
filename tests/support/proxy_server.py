"""Run the real Headroom proxy (uvicorn, a free loopback port) for tests and benchmarks.

    with running_proxy(ProxySettings(openai_upstream=srv.anthropic_base_url, ...)) as proxy:
        openai.OpenAI(base_url=proxy.openai_base_url, api_key="k").chat.completions.create(...)

:func:`running_proxy` serves in a thread of this process (the app object is at hand as
``proxy.app``); :func:`proxy_process` starts ``headroom proxy`` in a subprocess, as a user does,
and reads the port from the banner it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from headroom.proxy.app import create_app
from headroom.proxy.server import bind
from headroom.proxy.settings import ProxySettings

__all__ = ["RunningProxy", "proxy_process", "running_proxy"]


@dataclass(frozen=True)
class RunningProxy:
    """Where a started proxy listens."""

    port: int
    app: Any = None
    process: subprocess.Popen[str] | None = None
    banner: str = ""
    """What ``headroom proxy`` printed up to the line naming its port."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url


@contextmanager
def running_proxy(settings: ProxySettings) -> Iterator[RunningProxy]:
    """The proxy for ``settings`` served by uvicorn in a daemon thread on a free loopback port."""
    app = create_app(settings)
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="headroom-proxy", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the proxy did not start")
        time.sleep(0.01)
    try:
        yield RunningProxy(port=sock.getsockname()[1], app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def proxy_process(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Iterator[RunningProxy]:
    """``headroom proxy --port 0 ARGS`` in a subprocess; yields once its banner names the port."""
    command = [sys.executable, "-m", "headroom.cli", "proxy", "--port", "0", *args]
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=full_env)
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + timeout
            port = None
            printed = ""
            while port is None:
                line = proc.stdout.readline()
                printed += line
                if not line:
                    proc.wait(timeout=10)
                    errors.seek(0)
                    raise RuntimeError(f"headroom proxy exited before listening: {errors.read()}")
                found = re.search(r"listening on http://[^:]+:(\d+)", line)
                if found:
                    port = int(found.group(1))
                if time.monotonic() > deadline:
                    raise RuntimeError("headroom proxy printed no banner in time")
            _wait_until_live(port, deadline)
            yield RunningProxy(port=port, process=proc, banner=printed)
        finally:
            if proc.poll() is None:
                proc.send_signal(2)  # SIGINT, as Ctrl-C does
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_until_live(port: int, deadline: float) -> None:
    """Workers start listening a moment after the banner: wait for /livez to answer."""
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("headroom proxy did not answer /livez in time")
        time.sleep(0.05)
