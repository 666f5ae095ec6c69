"""The adapter's one road into the core: LangChain messages in, compressed LangChain messages out.

Every LangChain entry point (the chat model wrapper, the agent middleware, the tool wrapper, the
LangGraph step) goes through :func:`compress_messages` or :func:`compress_tool_output`. They
translate, call :func:`headroom.compress`, translate back, and fail open: any internal error
sends the original messages, is logged and counted under ``errors.langchain.compress``, and
never reaches the agent. Only the caller's own invalid settings (an unknown override, a bad
value) raise, as :class:`headroom.errors.ConfigurationError`.

    >>> from langchain_core.messages import HumanMessage
    >>> out = compress_messages([HumanMessage("which job failed?")], model="gpt-4o")
    >>> out.messages[0].content, out.failed_open
    ('which job failed?', None)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import headroom
from headroom import metrics
from headroom.ccr import RETRIEVE_TOOL_NAME
from headroom.config import HeadroomConfig, HeadroomMode, parse_mode
from headroom.result import CompressResult
from headroom.text import TextCompressResult, compress_text
from langchain_core.messages import BaseMessage

from headroom_integrations.langchain.convert import from_openai_messages, to_openai_messages

__all__ = [
    "DEFAULT_MODEL",
    "FAIL_OPEN_COUNTER",
    "HEADROOM_EVENT",
    "OVERRIDE_PREFIX",
    "CompressedMessages",
    "compress_messages",
    "compress_tool_output",
    "effective_mode",
    "model_name_of",
    "overrides_from_config",
    "resolve_config",
    "split_overrides",
]

log = logging.getLogger("headroom.langchain")

DEFAULT_MODEL = "gpt-4o"
"""Model name used for token counting when the wrapped model does not name one."""
OVERRIDE_PREFIX = "headroom_"
FAIL_OPEN_COUNTER = "errors.langchain.compress"
HEADROOM_EVENT = "headroom_compression"
"""Custom callback event with the compression facts of a request made by :class:`HeadroomMiddleware`."""


def model_name_of(model: Any, default: str = DEFAULT_MODEL) -> str:
    """The model name a LangChain chat model (or a binding of one) talks to, for counting and pricing."""
    seen: set[int] = set()
    while model is not None and id(model) not in seen:
        seen.add(id(model))
        for attr in ("model_name", "model", "model_id", "deployment_name"):
            value = getattr(model, attr, None)
            if isinstance(value, str) and value.strip():
                return value
        model = getattr(model, "bound", None) or getattr(model, "wrapped_model", None)
    return default


def split_overrides(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``headroom_*`` per-call overrides, everything else) of a call's keyword arguments."""
    overrides = {k: v for k, v in kwargs.items() if k.startswith(OVERRIDE_PREFIX)}
    rest = {k: v for k, v in kwargs.items() if not k.startswith(OVERRIDE_PREFIX)}
    return overrides, rest


def overrides_from_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``headroom_*`` keys of a RunnableConfig's ``configurable``."""
    configurable = (config or {}).get("configurable") or {}
    return {k: v for k, v in configurable.items() if isinstance(k, str) and k.startswith(OVERRIDE_PREFIX)}


def resolve_config(config: HeadroomConfig | None, overrides: Mapping[str, Any]) -> HeadroomConfig:
    """The configuration of one call; raises ConfigurationError for an invalid override (the caller's error)."""
    core = {k: v for k, v in overrides.items() if k != "headroom_session_id"}
    return (config or HeadroomConfig()).with_overrides(**core)


@dataclass(frozen=True)
class CompressedMessages:
    """What one call into the core produced, in LangChain terms."""

    messages: list[BaseMessage]
    """What to send: compressed, or the originals when the core failed (``failed_open``)."""
    result: CompressResult | None
    """The core's report; None when it failed open."""
    config: HeadroomConfig
    """The configuration the call ran with (per-call overrides applied)."""
    failed_open: str | None = None
    """Why the original messages were sent, when the core raised."""

    @property
    def elided(self) -> bool:
        """True when something was omitted and stored, so the model may need ``headroom_retrieve``."""
        return (
            self.result is not None
            and self.result.mode == HeadroomMode.OPTIMIZE.value
            and bool(self.result.ccr_keys)
            and self.config.ccr.enabled
        )

    @property
    def simulated(self) -> bool:
        """True in simulate mode: the caller must not call a provider."""
        return self.result is not None and self.result.mode == HeadroomMode.SIMULATE.value

    def metadata(self) -> dict[str, Any]:
        """The compression facts as plain data, for ``response_metadata["headroom"]``."""
        if self.result is None:
            return {"failed_open": self.failed_open}
        return {**self.result.to_dict(), "failed_open": None}


def _protect_retrieved(config: HeadroomConfig | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """Results of ``headroom_retrieve`` in the history skip compression: what the model asked to see
    again is not elided again (unless the caller set a profile for that tool)."""
    profiles = dict(overrides.get("headroom_tool_profiles") or {})
    if RETRIEVE_TOOL_NAME in profiles or (config is not None and RETRIEVE_TOOL_NAME in config.tool_profiles):
        return overrides
    profiles[RETRIEVE_TOOL_NAME] = {"skip_compression": True}
    return {**overrides, "headroom_tool_profiles": profiles}


def compress_messages(
    messages: Sequence[BaseMessage],
    *,
    model: str = DEFAULT_MODEL,
    config: HeadroomConfig | None = None,
    mode: HeadroomMode | str | None = None,
    query: str | None = None,
    session_id: str | None = None,
    **overrides: Any,
) -> CompressedMessages:
    """Compress LangChain ``messages`` with the core; the originals come back on any internal error.

    ``overrides`` are the per-request keywords of :meth:`HeadroomConfig.with_overrides`
    (``headroom_mode``, ``headroom_keep_turns``, ``headroom_tool_profiles``, ...); an invalid one
    raises :class:`headroom.errors.ConfigurationError` before anything is sent.
    """
    session_id = overrides.pop("headroom_session_id", None) or session_id
    overrides = _protect_retrieved(config, overrides)
    cfg = resolve_config(config, overrides)
    originals = list(messages)
    try:
        dicts = to_openai_messages(originals)
        result = headroom.compress(
            dicts, model, config=config, mode=mode, query=query, session_id=session_id, **overrides
        )
        out = from_openai_messages(result.messages, originals)
    except Exception as exc:  # fail open: the agent gets its own messages, never our error
        metrics.increment(FAIL_OPEN_COUNTER)
        log.exception("headroom compression failed; the original %d messages are sent", len(originals))
        return CompressedMessages(originals, None, cfg, failed_open=f"{type(exc).__name__}: {exc}")
    return CompressedMessages(out, result, cfg)


def effective_mode(
    mode: HeadroomMode | str | None, overrides: Mapping[str, Any], config: HeadroomConfig
) -> HeadroomMode:
    """The mode of one call, decided the way :func:`headroom.compress` decides it (optimize unless told)."""
    if "headroom_mode" in overrides or "mode" in overrides:
        return config.default_mode
    return parse_mode(mode) if mode is not None else HeadroomMode.OPTIMIZE


def compress_tool_output(
    content: str,
    *,
    tool_name: str,
    model: str = DEFAULT_MODEL,
    config: HeadroomConfig | None = None,
    mode: HeadroomMode | str | None = None,
    query: str | None = None,
    **overrides: Any,
) -> tuple[str, TextCompressResult | None]:
    """(text to use, report) of one tool output, judged against ``query``; the original on any error.

    Uses :func:`headroom.text.compress_text` with ``tool_name``, so the tool's profile in
    ``tool_profiles`` applies. In audit and simulate mode the report is made but the original
    text is returned.
    """
    cfg = resolve_config(config, overrides)
    chosen = effective_mode(mode, overrides, cfg)
    if cfg.skips_tool(tool_name):  # compress_text does not consult the tool's profile for this
        return content, None
    try:
        result = compress_text(content, query=query or "", model=model, config=cfg, tool_name=tool_name)
    except Exception:  # fail open
        metrics.increment(FAIL_OPEN_COUNTER)
        log.exception("headroom failed to compress the output of tool %r; passed through", tool_name)
        return content, None
    return (result.text if chosen is HeadroomMode.OPTIMIZE else content), result
