"""ProxySettings: how ``headroom proxy`` listens, where it forwards, and what it enforces.

Precedence, later wins: built-in defaults -> ``HEADROOM_*`` environment variables -> command-line
options. :meth:`ProxySettings.load` applies it; a bad value is one ConfigurationError naming the
variable or option and what is accepted.

    >>> from headroom.proxy.settings import ProxySettings
    >>> s = ProxySettings.load(port=9000)
    >>> (s.host, s.port, s.mode)
    ('127.0.0.1', 9000, 'token')
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from headroom import env as _env
from headroom.config import HeadroomConfig, HeadroomMode, OptimizationMode, _Model, parse_optimization_mode
from headroom.errors import ConfigurationError

__all__ = ["ProxySettings", "is_loopback_host", "parse_upstream"]

OPENAI_UPSTREAM = "https://api.openai.com"
ANTHROPIC_UPSTREAM = "https://api.anthropic.com"


def parse_upstream(value: object, field: str = "upstream") -> str:
    """An upstream base URL (``http(s)://host[:port][/prefix]``) without a trailing slash.

    The request's own path (``/v1/chat/completions``) is appended to it, so a base that already
    ends in ``/v1`` would double it: that is refused with a message saying so.
    """
    accepted = "an http(s) base URL such as https://api.openai.com or http://127.0.0.1:8080 (no /v1: the request's own path is appended)"
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(field, value, accepted)
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(field, value, accepted)
    if parts.path.rstrip("/").endswith("/v1"):
        raise ConfigurationError(field, value, accepted)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigurationError(field, value, accepted) from None
    return url


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (the hosts only this machine can reach)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ProxySettings(_Model):
    """Everything ``headroom proxy`` needs besides the pipeline's own HeadroomConfig."""

    host: str = Field("127.0.0.1", min_length=1, description="Address to bind (HEADROOM_HOST).")
    port: int = Field(8787, ge=0, le=65535, description="Port to bind (HEADROOM_PORT; 0 picks a free one).")
    mode: OptimizationMode = Field(
        "token", description="The pipeline's optimization_mode: token or cache (HEADROOM_MODE, legacy aliases)."
    )
    workers: int = Field(1, ge=1, description="Worker processes sharing one store (HEADROOM_WORKERS).")
    stateless: bool = Field(
        False, description="Keep the store in memory: nothing written to disk (HEADROOM_STATELESS)."
    )
    budget_usd: float | None = Field(
        None, gt=0, description="Daily spend limit in USD over all workers (HEADROOM_BUDGET)."
    )
    store_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the shared store (HEADROOM_STORE_URL; HeadroomConfig's default when unset).",
    )
    openai_upstream: str = Field(OPENAI_UPSTREAM, description="Base URL OpenAI-style requests go to.")
    anthropic_upstream: str = Field(ANTHROPIC_UPSTREAM, description="Base URL Anthropic-style requests go to.")
    request_timeout: float = Field(
        300.0, gt=0, description="Seconds an upstream may take to connect or between two bytes of its answer."
    )
    compress_timeout: float = Field(
        10.0, gt=0, description="Seconds compression may take before the original request is sent (fail open)."
    )
    proxy_token: str | None = Field(
        None, repr=False, description="Callers not on loopback must send it in x-headroom-proxy-token."
    )
    tls_strict: bool = Field(True, description="VERIFY_X509_STRICT on the upstream TLS context (HEADROOM_TLS_STRICT).")

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> str:
        return parse_optimization_mode(value, "ProxySettings.mode")

    @field_validator("openai_upstream", "anthropic_upstream", mode="before")
    @classmethod
    def _upstream(cls, value: Any) -> str:
        return parse_upstream(value, "ProxySettings upstream")

    @field_validator("proxy_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        return value or None

    @classmethod
    def load(cls, **options: Any) -> ProxySettings:
        """Defaults, then the environment, then ``options`` (command-line values; None means not given)."""
        data = _env.proxy_settings_from_environment()
        data.update({k: v for k, v in options.items() if v is not None})
        return cls(**data)

    @property
    def exposed(self) -> bool:
        """True when the proxy binds an address other machines may reach."""
        return not is_loopback_host(self.host)

    def headroom_config(self) -> HeadroomConfig:
        """The pipeline's configuration: HeadroomConfig from the environment with these settings on top.

        The proxy compresses by default (``default_mode`` optimize) unless HEADROOM_DEFAULT_MODE
        says otherwise; a request may still ask for audit or simulate with ``x-headroom-mode``.
        """
        updates: dict[str, Any] = {"optimization_mode": self.mode, "stateless": self.stateless}
        if self.store_url is not None:
            updates["store_url"] = self.store_url
        if self.budget_usd is not None:
            updates["budget_usd"] = self.budget_usd
        if "HEADROOM_DEFAULT_MODE" not in os.environ:
            updates["default_mode"] = HeadroomMode.OPTIMIZE
        return HeadroomConfig(**updates)
