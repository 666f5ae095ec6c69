"""Start ``headroom proxy``: bind, say where it listens and how to point clients at it, serve until Ctrl-C.

One worker serves in this process. ``--workers N`` starts N uvicorn worker processes on one
socket; they get the resolved settings through ``HEADROOM_PROXY_SETTINGS_JSON`` and share the
CCR store, the budget and the counters through the store (SQLite in WAL mode on one machine,
PostgreSQL across machines).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import TextIO

from headroom.about import install_hint
from headroom.errors import HeadroomError
from headroom.proxy.settings import ProxySettings

__all__ = ["bind", "serve"]

log = logging.getLogger("headroom.proxy")


def _require_extra() -> None:
    missing = []
    for module in ("starlette", "uvicorn", "httpx"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise HeadroomError(f"headroom proxy needs {', '.join(missing)}: {install_hint('proxy')}")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0 picks a free one); HeadroomError when it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # Nagle's algorithm holds a response's body until the client's delayed ACK (40 ms) on keep-alive.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise HeadroomError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _banner(settings: ProxySettings, port: int, store_url: str) -> str:
    base = _url(settings.host, port)
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    budget = f", budget ${settings.budget_usd:g}/day" if settings.budget_usd else ""
    return (
        f"Headroom proxy listening on {base} (mode {settings.mode}, {workers}{budget}; store {store_url})\n"
        f"  OpenAI clients:    OPENAI_BASE_URL={base}/v1\n"
        f"  Anthropic clients: ANTHROPIC_BASE_URL={base}\n"
        f"  upstreams: {settings.openai_upstream} (OpenAI), {settings.anthropic_upstream} (Anthropic)\n"
        "Press Ctrl-C to stop.\n"
    )


def _warnings(settings: ProxySettings) -> list[str]:
    out = []
    if settings.exposed and not settings.proxy_token:
        out.append(
            f"headroom proxy: warning: listening on {settings.host}, reachable from other machines, without "
            "HEADROOM_PROXY_TOKEN: anyone who can reach it can use your provider keys' budget through it"
        )
    if settings.stateless and settings.workers > 1:
        out.append(
            "headroom proxy: warning: --stateless keeps each worker's store in its own memory; with several "
            "workers a retrieval may reach a worker that does not hold the key (use a shared --store-url)"
        )
    return out


def serve(settings: ProxySettings, *, out: TextIO | None = None) -> int:
    """Serve until interrupted; returns the exit status. Raises HeadroomError when it cannot start."""
    _require_extra()
    import uvicorn
    from sqlalchemy.engine import make_url
    from uvicorn.supervisors import Multiprocess

    from headroom.ccr.store import resolve_store_url
    from headroom.proxy.app import SETTINGS_ENV, create_app

    out = out or sys.stdout
    if not logging.getLogger().handlers:  # warnings of the proxy (failed-open compressions, ...) to stderr
        logging.basicConfig(level=logging.WARNING, format="headroom proxy: %(levelname)s: %(message)s")
    config = settings.headroom_config()
    store_url = make_url(resolve_store_url(config)).render_as_string(hide_password=True)
    for line in _warnings(settings):
        log.warning(line)
        print(line, file=sys.stderr)
    common = {"log_level": "warning", "access_log": False, "timeout_graceful_shutdown": 5, "lifespan": "on"}
    if settings.workers == 1:
        app = create_app(settings)  # opens the store now: a bad store URL fails before the banner
        uv_config = uvicorn.Config(app, host=settings.host, port=settings.port, **common)  # type: ignore[arg-type]
    else:
        from headroom.ccr.store import get_store
        from headroom.proxy.tables import create_tables

        create_tables(get_store(config).engine)  # a bad store URL fails here, before any worker starts
        os.environ[SETTINGS_ENV] = settings.model_dump_json()
        uv_config = uvicorn.Config(
            "headroom.proxy.app:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            **common,  # type: ignore[arg-type]
        )
    sock = bind(settings.host, settings.port)
    out.write(_banner(settings, sock.getsockname()[1], store_url))
    out.flush()
    try:
        if settings.workers == 1:
            uvicorn.Server(uv_config).run(sockets=[sock])
        else:
            Multiprocess(uv_config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    out.write("Headroom proxy stopped.\n")
    out.flush()
    return 0
