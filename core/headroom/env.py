"""The ``HEADROOM_*`` environment variables and the filesystem roots they derive.

Variables that configure the pipeline are mapped to HeadroomConfig fields
(:func:`config_from_environment`). Those of ``headroom proxy`` (:data:`PROXY_VARIABLES`) are read
and validated when the proxy starts (:func:`proxy_settings_from_environment`); a library user's
``HeadroomConfig()`` never reads them, so a proxy setting cannot break a program that only
compresses. The reference's telemetry and download variables have no effect (this library sends
no telemetry and downloads nothing).

The workspace holds users' tool outputs (the CCR store), so what Headroom creates there is the
owner's alone: folders 0700, files 0600 (:func:`make_private_dir`). When the workspace cannot be
written (a read-only HOME), the fallback is a per-user folder in the temp directory that must be
owned by this user and closed to others (:func:`private_temp_dir`), never a shared, predictable one.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from headroom.errors import ConfigurationError

__all__ = [
    "PROXY_VARIABLES",
    "config_from_environment",
    "default_config_dir",
    "default_workspace_dir",
    "env_flag",
    "make_private_dir",
    "private_temp_dir",
    "proxy_settings_from_environment",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

PROXY_VARIABLES: dict[str, str] = {
    "HEADROOM_HOST": "host",
    "HEADROOM_PORT": "port",
    "HEADROOM_WORKERS": "workers",
    "HEADROOM_REQUEST_TIMEOUT": "request_timeout",
    "HEADROOM_COMPRESS_TIMEOUT": "compress_timeout",
    "HEADROOM_OPENAI_UPSTREAM": "openai_upstream",
    "HEADROOM_ANTHROPIC_UPSTREAM": "anthropic_upstream",
    "HEADROOM_PROXY_TOKEN": "proxy_token",
    "HEADROOM_TLS_STRICT": "tls_strict",
}
"""Variables read only by ``headroom proxy``, and the ProxySettings field each one sets.

The proxy also reads the shared ``HEADROOM_MODE``, ``HEADROOM_STATELESS``, ``HEADROOM_BUDGET``
and ``HEADROOM_STORE_URL``, which HeadroomConfig reads too."""

# Reference variables of telemetry, output shaping and binary downloads: checked for
# well-formedness so a typo is reported, and otherwise ignored.
UNUSED_REFERENCE_VARIABLES = (
    "HEADROOM_OUTPUT_SHAPER",
    "HEADROOM_OUTPUT_HOLDOUT",
    "HEADROOM_CONTEXT_TOOL",
    "HEADROOM_RTK_GAIN_SCOPE",
    "HEADROOM_TELEMETRY",
    "HEADROOM_UPDATE_CHECK",
    "HEADROOM_EMBEDDER_RUNTIME",
    "HEADROOM_BINARIES_OFFLINE",
    "HEADROOM_BASE_URL",
    "HEADROOM_API_KEY",
)


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean variable (1/true/yes/on or 0/false/no/off); anything else is a ConfigurationError."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(name, raw, "one of 1/true/yes/on or 0/false/no/off")


def default_workspace_dir() -> str:
    """``HEADROOM_WORKSPACE_DIR`` or ``~/.headroom``."""
    return os.environ.get("HEADROOM_WORKSPACE_DIR") or str(Path.home() / ".headroom")


def default_config_dir() -> str:
    """``HEADROOM_CONFIG_DIR`` or ``~/.headroom/config``."""
    return os.environ.get("HEADROOM_CONFIG_DIR") or str(Path.home() / ".headroom" / "config")


def _int(name: str, raw: str, minimum: int = 0, maximum: int | None = None) -> int:
    accepted = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(name, raw, accepted) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigurationError(name, raw, accepted)
    return value


def _positive(name: str, raw: str, unit: str) -> float:
    """A finite number above zero, or a ConfigurationError naming the variable and the ``unit``."""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ConfigurationError(name, raw, f"a positive number of {unit}")
    return value


def config_from_environment() -> dict[str, Any]:
    """HeadroomConfig fields taken from the environment (only the variables that are set)."""
    env = os.environ
    out: dict[str, Any] = {}
    if "HEADROOM_MODE" in env:
        out["optimization_mode"] = env["HEADROOM_MODE"]  # validated (with aliases) by the model
    if "HEADROOM_DEFAULT_MODE" in env:
        out["default_mode"] = env["HEADROOM_DEFAULT_MODE"]
    if "HEADROOM_STATELESS" in env:
        out["stateless"] = env_flag("HEADROOM_STATELESS")
    if "HEADROOM_STORE_URL" in env:
        out["store_url"] = env["HEADROOM_STORE_URL"]
    if "HEADROOM_OUTPUT_BUFFER_TOKENS" in env:
        out["output_buffer_tokens"] = _int("HEADROOM_OUTPUT_BUFFER_TOKENS", env["HEADROOM_OUTPUT_BUFFER_TOKENS"])
    if "HEADROOM_KEEP_TURNS" in env:
        out["keep_turns"] = _int("HEADROOM_KEEP_TURNS", env["HEADROOM_KEEP_TURNS"])
    if "HEADROOM_PROTECT_TOOL_RESULTS" in env:
        out["protect_tool_results"] = [t.strip() for t in env["HEADROOM_PROTECT_TOOL_RESULTS"].split(",") if t.strip()]
    if "HEADROOM_MODEL_LIMITS" in env:
        out["model_limits_source"] = env["HEADROOM_MODEL_LIMITS"]
    if env.get("HEADROOM_BUDGET", "").strip():
        out["budget_usd"] = _positive("HEADROOM_BUDGET", env["HEADROOM_BUDGET"], "US dollars")
    return out


def proxy_settings_from_environment() -> dict[str, Any]:
    """ProxySettings fields taken from the environment (only the variables that are set).

    Each value is checked here, so a bad one is reported as a ConfigurationError naming the
    variable: ``invalid value 'abc' for HEADROOM_PORT: accepted an integer from 1 to 65535``.
    """
    env = os.environ
    out: dict[str, Any] = {}
    if env.get("HEADROOM_HOST", "").strip():
        out["host"] = env["HEADROOM_HOST"].strip()
    if "HEADROOM_PORT" in env:
        out["port"] = _int("HEADROOM_PORT", env["HEADROOM_PORT"], 1, 65535)
    if "HEADROOM_WORKERS" in env:
        out["workers"] = _int("HEADROOM_WORKERS", env["HEADROOM_WORKERS"], 1)
    for name in ("HEADROOM_REQUEST_TIMEOUT", "HEADROOM_COMPRESS_TIMEOUT"):
        if name in env:
            out[PROXY_VARIABLES[name]] = _positive(name, env[name], "seconds")
    for name in ("HEADROOM_OPENAI_UPSTREAM", "HEADROOM_ANTHROPIC_UPSTREAM"):
        if env.get(name, "").strip():
            from headroom.proxy.settings import parse_upstream

            out[PROXY_VARIABLES[name]] = parse_upstream(env[name], name)
    if env.get("HEADROOM_PROXY_TOKEN"):
        out["proxy_token"] = env["HEADROOM_PROXY_TOKEN"]
    if "HEADROOM_TLS_STRICT" in env:
        out["tls_strict"] = env_flag("HEADROOM_TLS_STRICT", True)
    if "HEADROOM_MODE" in env:
        from headroom.config import parse_optimization_mode

        out["mode"] = parse_optimization_mode(env["HEADROOM_MODE"], "HEADROOM_MODE")
    if "HEADROOM_STATELESS" in env:
        out["stateless"] = env_flag("HEADROOM_STATELESS")
    if env.get("HEADROOM_STORE_URL", "").strip():
        out["store_url"] = env["HEADROOM_STORE_URL"].strip()
    if env.get("HEADROOM_BUDGET", "").strip():
        out["budget_usd"] = _positive("HEADROOM_BUDGET", env["HEADROOM_BUDGET"], "US dollars")
    return out


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with owner-only permissions (0700); return it.

    Folders that already exist keep their permissions: a workspace the user chose may be shared
    on purpose. Raises OSError when it cannot be created.
    """
    missing = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # created meanwhile by another process
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory")
    return path


def _is_private_dir(path: Path, uid: int) -> bool:
    """True when ``path`` is a real folder (not a symlink) owned by ``uid`` that no one else may enter."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & 0o077


def private_temp_dir() -> Path:
    """The per-user fallback workspace: ``<tmp>/headroom-<uid>``, created 0700 and checked to be this user's own.

    If that name is taken by anything else (another user's folder, a symlink, a folder others can
    enter), a new folder with an unpredictable name is made instead (``mkdtemp``, also 0700).
    """
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: the temp directory is already per user
        return make_private_dir(Path(tempfile.gettempdir()) / "headroom")
    uid = getuid()
    candidate = Path(tempfile.gettempdir()) / f"headroom-{uid}"
    try:
        candidate.mkdir(mode=0o700)
        os.chmod(candidate, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"headroom-{uid}-"))
    if _is_private_dir(candidate, uid):
        return candidate
    return Path(tempfile.mkdtemp(prefix=f"headroom-{uid}-"))
