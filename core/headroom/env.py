"""The ``HEADROOM_*`` environment variables and the filesystem roots they derive.

Variables of the reference that configure the pipeline are mapped to HeadroomConfig fields;
those that only concern the reference's proxy server or its downloads are validated and
documented as having no effect here (this library never binds a port or downloads anything).

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
    "config_from_environment",
    "default_config_dir",
    "default_workspace_dir",
    "env_flag",
    "make_private_dir",
    "private_temp_dir",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Reference variables that belong to its proxy server, telemetry or binary downloads.
# They are checked for well-formedness so a typo is reported, and otherwise ignored.
PROXY_ONLY_VARIABLES = (
    "HEADROOM_HOST",
    "HEADROOM_PORT",
    "HEADROOM_WORKERS",
    "HEADROOM_REQUEST_TIMEOUT",
    "HEADROOM_OUTPUT_SHAPER",
    "HEADROOM_OUTPUT_HOLDOUT",
    "HEADROOM_CONTEXT_TOOL",
    "HEADROOM_RTK_GAIN_SCOPE",
    "HEADROOM_TLS_STRICT",
    "HEADROOM_PROXY_TOKEN",
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


def _int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(name, raw, f"an integer >= {minimum}") from None
    if value < minimum:
        raise ConfigurationError(name, raw, f"an integer >= {minimum}")
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
        raw = env["HEADROOM_BUDGET"]
        try:
            out["budget_usd"] = float(raw)
        except ValueError:
            raise ConfigurationError("HEADROOM_BUDGET", raw, "a positive number of US dollars") from None
    _check_proxy_only(env)
    return out


def _check_proxy_only(env: os._Environ[str] | dict[str, str]) -> None:
    if "HEADROOM_PORT" in env:
        _int("HEADROOM_PORT", env["HEADROOM_PORT"], 1)
    if "HEADROOM_WORKERS" in env:
        _int("HEADROOM_WORKERS", env["HEADROOM_WORKERS"], 1)
    for name in ("HEADROOM_TELEMETRY", "HEADROOM_UPDATE_CHECK", "HEADROOM_BINARIES_OFFLINE", "HEADROOM_TLS_STRICT"):
        if name in env:
            env_flag(name)


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
