"""JSON responses and the error shapes the proxy answers with.

Errors of the proxy's own endpoints (``/v1/compress``, ``/v1/retrieve``) use
``{"error": {"type": ..., "message": ...}}``. Errors on a provider's path use that provider's
shape, so its SDK raises its usual exception: OpenAI ``{"error": {"message", "type", "param",
"code"}}``, Anthropic ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

__all__ = ["anthropic_error", "headroom_error", "json_response", "openai_error", "provider_error"]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``data`` as compact UTF-8 JSON."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def headroom_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error of the proxy's own API."""
    return json_response({"error": {"type": kind, "message": message}}, status, headers)


def openai_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in the OpenAI API's shape."""
    return json_response({"error": {"message": message, "type": kind, "param": None, "code": kind}}, status, headers)


def anthropic_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in the Anthropic API's shape."""
    return json_response({"type": "error", "error": {"type": kind, "message": message}}, status, headers)


def provider_error(
    provider: str, status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error in the shape of ``provider`` (``openai`` or ``anthropic``)."""
    make = anthropic_error if provider == "anthropic" else openai_error
    return make(status, kind, message, headers)
