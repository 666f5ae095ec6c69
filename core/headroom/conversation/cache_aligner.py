"""CacheAligner: keep system prompts byte-identical across requests so provider prefix caches hit.

System prompts often embed values that change every request (today's date, a session id, a
request id). One changed byte near the top invalidates every cached token after it. The aligner
replaces each dynamic value in place by the stable placeholder ``[dynamic]`` and lists the values,
with the words that introduced them, in a tail after ``dynamic_tail_separator`` at the end of the
message. Only the values move; the static text stays where it was. Whitespace is normalised as
configured. Only system (and developer) messages are touched; user, assistant and tool content
never is.

Aligning an aligned prompt changes nothing (the placeholder is not dynamic, the tail is kept).
"""

from __future__ import annotations

import re
from typing import Any

from headroom.config import CacheAlignerConfig
from headroom.conversation.dynamic_detector import DynamicContentDetector, DynamicSpan

__all__ = ["PLACEHOLDER", "align_system_messages", "align_text", "detector_for"]

PLACEHOLDER = "[dynamic]"
_SYSTEM_ROLES = ("system", "developer")
_RUNS = re.compile(r"(?<=\S)[ \t]{2,}")
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n){2,}")

_detectors: dict[str, DynamicContentDetector] = {}


def detector_for(config: CacheAlignerConfig) -> DynamicContentDetector:
    """The detector these settings describe (built once per distinct settings)."""
    key = config.model_dump_json()
    detector = _detectors.get(key)
    if detector is None:
        detector = DynamicContentDetector(
            tiers=config.detection_tiers,
            extra_labels=config.extra_dynamic_labels,
            entropy_threshold=config.entropy_threshold,
            patterns=None if config.use_dynamic_detector else config.date_patterns,
        )
        _detectors[key] = detector
    return detector


def _normalize(text: str, config: CacheAlignerConfig) -> str:
    if config.normalize_whitespace:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = "\n".join(_RUNS.sub(" ", line.rstrip()) for line in text.split("\n")).strip("\n")
    if config.collapse_blank_lines:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text


def _label_for(text: str, span: DynamicSpan) -> str:
    """The words that introduce a value: its KEY, or up to four words before it on its line."""
    if span.label:
        return span.label
    line_start = text.rfind("\n", 0, span.start) + 1
    before = text[line_start : span.start].rstrip(" \t:=(\"'[").split()
    return " ".join(before[-4:]) or span.kind


def align_text(text: str, config: CacheAlignerConfig) -> tuple[str, int]:
    """``text`` with its dynamic values moved to the tail; also how many values moved."""
    separator = config.dynamic_tail_separator
    head, _, old_tail = text.partition(separator)
    spans = [s for s in detector_for(config).find(head) if s.value.replace(PLACEHOLDER, "").strip()]
    pieces: list[str] = []
    entries: list[str] = []
    pos = 0
    for span in spans:
        pieces += [head[pos : span.start], PLACEHOLDER]
        entries.append(f"- {_label_for(head, span)}: {span.value}")
        pos = span.end
    pieces.append(head[pos:])
    new_head = _normalize("".join(pieces), config)
    tail_lines = [line for line in old_tail.split("\n") if line.strip()] + entries
    if not tail_lines:
        return new_head, 0
    return new_head + separator + "\n".join(tail_lines), len(entries)


def align_system_messages(
    messages: list[dict[str, Any]], config: CacheAlignerConfig, *, frozen_count: int = 0
) -> tuple[list[dict[str, Any]], list[str]]:
    """Align every system message at or after ``frozen_count``; return the messages and transform names.

    ``messages`` is modified in place (the pipeline hands each stage its own copy) and returned.
    """
    moved = 0
    reshaped = 0
    for i, message in enumerate(messages):
        if i < frozen_count or message.get("role") not in _SYSTEM_ROLES:
            continue
        content = message.get("content")
        if isinstance(content, str):
            new, n = align_text(content, config)
            if new != content:
                message["content"] = new
                moved += n
                reshaped += n == 0
        elif isinstance(content, list):
            moved_here, changed = _align_parts(content, config)
            moved += moved_here
            reshaped += changed and moved_here == 0
    applied = []
    if moved:
        applied.append(f"cache_aligner:moved_dynamic:{moved}")
    if reshaped:
        applied.append("cache_aligner:whitespace")
    return messages, applied


def _align_parts(parts: list[Any], config: CacheAlignerConfig) -> tuple[int, bool]:
    """Align text parts in place; the values of all parts go to one tail in the last text part."""
    text_parts = [
        p for p in parts if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
    ]
    if not text_parts:
        return 0, False
    moved = 0
    changed = False
    collected: list[str] = []
    separator = config.dynamic_tail_separator
    for part in text_parts:
        new, n = align_text(part["text"], config)
        head, _, tail = new.partition(separator)
        if part is not text_parts[-1]:
            collected += [line for line in tail.split("\n") if line.strip()]
            new = head
        elif collected:
            lines = collected + [line for line in tail.split("\n") if line.strip()]
            new = head + separator + "\n".join(lines)
        if new != part["text"]:
            part["text"] = new
            changed = True
        moved += n
    return moved, changed


def system_head(message: dict[str, Any], config: CacheAlignerConfig) -> dict[str, Any]:
    """A system message as the aligner leaves it, without its dynamic tail: what stays the same across requests.

    Used to recognise a conversation (and its frozen prefix) when only the system prompt's
    timestamp or request id changed.
    """
    content = message.get("content")
    if not config.enabled or not isinstance(content, str):
        return message
    aligned, _ = align_text(content, config)
    return {**message, "content": aligned.partition(config.dynamic_tail_separator)[0]}
