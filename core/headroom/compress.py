"""``headroom.compress`` and ``headroom.retrieve``: the two calls most users need."""

from __future__ import annotations

import logging
from typing import Any

from headroom import metrics
from headroom.ccr.store import CCRStore, get_store
from headroom.config import HeadroomConfig, HeadroomMode, parse_mode
from headroom.errors import HeadroomError, InvalidArgumentError
from headroom.pipeline import run_pipeline
from headroom.result import CompressResult

__all__ = ["compress", "retrieve"]

log = logging.getLogger("headroom")
_reported: set[str] = set()


def compress(
    messages: list[dict[str, Any]],
    model: str = "gpt-4o",
    *,
    config: HeadroomConfig | None = None,
    mode: HeadroomMode | str | None = None,
    query: str | None = None,
    session_id: str | None = None,
    **overrides: Any,
) -> CompressResult:
    """Compress a list of OpenAI-format chat messages for ``model``.

    The input list is never mutated. When the CCR store cannot be opened, compression fails
    open: only lossless re-encodings run (nothing is dropped that could not be retrieved), and
    the failure is counted (``errors.store.unavailable``) and logged once. ``mode`` defaults to ``optimize`` here (a caller of
    compress() wants the compressed messages); pass ``"audit"`` to only measure, or
    ``"simulate"`` for the plan without writing to the store. ``query`` overrides the
    question used for relevance (by default each tool output is judged against the user
    message that led to it). Per-request overrides (``headroom_keep_turns=...``,
    ``headroom_tool_profiles=...``, ...) are accepted as keywords.

        >>> import headroom, json
        >>> rows = [{"id": i, "status": "ok" if i != 7 else "failed"} for i in range(200)]
        >>> msgs = [{"role": "user", "content": "which job failed?"},
        ...         {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
        ...          "function": {"name": "jobs", "arguments": "{}"}}]},
        ...         {"role": "tool", "tool_call_id": "c1", "content": json.dumps(rows)}]
        >>> result = headroom.compress(msgs, model="gpt-4o")
        >>> result.tokens_after < result.tokens_before
        True
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidArgumentError(f"model must be a non-empty model name string, got {model!r}")
    if config is not None and not isinstance(config, HeadroomConfig):
        raise InvalidArgumentError(f"config must be a HeadroomConfig, got {type(config).__name__}")
    if query is not None and not isinstance(query, str):
        raise InvalidArgumentError(f"query must be a string, got {type(query).__name__}")
    cfg = (config or HeadroomConfig()).with_overrides(**overrides)
    if "headroom_mode" in overrides or "mode" in overrides:
        chosen = cfg.default_mode
    else:
        chosen = parse_mode(mode) if mode is not None else HeadroomMode.OPTIMIZE
    store = None
    unavailable = None
    if cfg.ccr.enabled:
        store, unavailable = _open_store(cfg)
        if store is None:  # nothing may be dropped that could not be retrieved: lossless only
            cfg = cfg.model_copy(update={"ccr": cfg.ccr.model_copy(update={"enabled": False})})
    return run_pipeline(
        messages,
        model=model,
        config=cfg,
        mode=chosen,
        query=query,
        store=store,
        session_id=session_id,
        store_unavailable=unavailable,
    )


def _open_store(config: HeadroomConfig) -> tuple[CCRStore | None, str | None]:
    """The CCR store of ``config``, or (None, why) when it cannot be opened (counted; logged once per reason)."""
    try:
        return get_store(config), None
    except HeadroomError as exc:
        metrics.increment("errors.store.unavailable")
        message = str(exc)
        if message not in _reported:
            _reported.add(message)
            log.error("%s; compressing without it (lossless only, nothing dropped)", message)
        return None, message


def retrieve(key: str, *, store_url: str | None = None, config: HeadroomConfig | None = None) -> str:
    """The original content stored under a CCR ``key``, byte for byte.

    Raises :class:`headroom.errors.RetrievalError` when the key is unknown or expired, and
    :class:`headroom.errors.StoreError` when the store cannot be opened or read.
    """
    if not isinstance(key, str) or not key.strip():
        got = "an empty string" if isinstance(key, str) else type(key).__name__
        raise InvalidArgumentError(f"key must be a CCR key string such as hr_0123456789abcdef, got {got}")
    return get_store(config, store_url).get(key)
