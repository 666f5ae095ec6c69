"""``headroom proxy``: an OpenAI- and Anthropic-compatible HTTP proxy that compresses on the way through.

Point any client that takes a base URL at it (coding agents, the OpenAI and Anthropic SDKs,
TypeScript and Go services, curl)::

    headroom proxy --port 8787
    OPENAI_BASE_URL=http://127.0.0.1:8787/v1 ANTHROPIC_BASE_URL=http://127.0.0.1:8787 your-agent

Requests are compressed by the same pipeline as :func:`headroom.compress`; what lossy
compression leaves out stays in the shared CCR store, and the model's ``headroom_retrieve``
calls are answered by the proxy itself. Needs the ``proxy`` extra (Starlette, uvicorn, httpx).

Modules, one job each: ``settings`` (options and environment), ``app`` (routes),
``compress_api`` (``/v1/compress``, ``/v1/retrieve``), ``security`` (token gate, TLS),
``stats`` / ``prometheus`` (counters in the store, ``/metrics``, ``/stats``), ``tables`` (the
proxy's tables in the store), ``server`` (start-up).
"""

from __future__ import annotations

from headroom.proxy.settings import ProxySettings

__all__ = ["ProxySettings"]
