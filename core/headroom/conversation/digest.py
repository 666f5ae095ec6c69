"""Digests: what an old tool output held, in a few lines, when even its hardest compression is too big.

Context fitting uses a digest as the last form of a tool output before it is elided (see
:mod:`headroom.conversation.fitting`). A digest keeps what lets a model reason about an earlier
turn without its output: the output's shape and counts, and, for each record or line its own
turn's question named, the identifying field and the fields the question asked about. It always
ends with how to get the original back by CCR key, so nothing it leaves out is lost.

- JSON: the top-level shape (scalar fields, arrays with their length and item fields), value
  counts of status-like fields (``state: open 28, closed 2``), and the records named by the
  question: their id field plus the fields whose names the question uses.
- Text and logs: lines and characters, the number of lines that report a problem with the first
  of them, and the lines that name an identifier of the question.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections import OrderedDict
from typing import Any

from headroom.ccr.store import ccr_key
from headroom.content_config import LogCompressorConfig
from headroom.relevance import query_identifiers, query_terms

__all__ = ["make_digest"]

_MAX_RECORDS = 6
_MAX_FIELDS = 8
_MAX_VALUE = 80
_MAX_LINE = 240
_MAX_LINES = 4
_ID_FIELDS = ("id", "number", "sha", "key", "name", "login", "full_name", "slug", "uuid", "node_id", "url")
_STATUS_WORDS = ("status", "state", "conclusion", "type", "level", "severity", "result", "outcome", "kind", "event")
_DEFAULT_PROBLEMS = LogCompressorConfig().importance_pattern
"""Lines reporting a problem, as the log compressor recognises them by default (any level word)."""


def make_digest(
    original: str, *, what: str, question: str, retrieval: str, tokens: int, problems: str = _DEFAULT_PROBLEMS
) -> str:
    """A digest of ``original`` (see module docs).

    ``what`` names the output ("output of tool 'github_api'"), ``retrieval`` says how to get it
    back (a sentence naming the CCR key), ``tokens`` is the original's size, quoted so the model
    can judge whether fetching it is worth it. ``problems`` is the regular expression (applied to
    lower-cased lines) of lines that report a problem: the log compressor's ``importance_pattern``.
    Digests are remembered by content hash, question and pattern: an agent loop that re-sends a
    digested output pays for it once.
    """
    key = ccr_key(original)
    body = _digest_body(key, question, original, problems)
    return f"[headroom digest of the {what} ({tokens:,} tokens): {body} {retrieval}]"


_bodies: OrderedDict[tuple[str, str, str], str] = OrderedDict()
_bodies_lock = threading.Lock()
_MAX_BODIES = 2048


def _digest_body(key: str, question: str, original: str, problems: str) -> str:
    """The digest's description of ``original`` (whose CCR key is ``key``), remembered per question."""
    memo = (key, question, problems)
    with _bodies_lock:
        body = _bodies.get(memo)
        if body is not None:
            _bodies.move_to_end(memo)
            return body
    body = _json_digest(original, question)
    if body is None:
        body = _text_digest(original, question, _compiled(problems))
    with _bodies_lock:
        _bodies[memo] = body
        while len(_bodies) > _MAX_BODIES:
            _bodies.popitem(last=False)
    return body


# -- JSON ---------------------------------------------------------------------------------


def _json_digest(text: str, question: str) -> str | None:
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith(("{", "[")):
        return None
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    arrays = sorted(_arrays(data), key=lambda pa: -len(pa[1]))[:2]
    parts = [f"JSON {_shape(data)}."]
    for path, items in arrays:
        counts = _status_counts(items)
        if counts:
            parts.append(f"In {path or 'the array'}: {counts}.")
    records = _named_records(arrays, question)
    if records:
        parts.append("Records the question names: " + "; ".join(records) + ".")
    return " ".join(parts)


def _arrays(data: Any, path: str = "", depth: int = 0) -> list[tuple[str, list[Any]]]:
    """Arrays of objects at the top level and inside objects (up to three levels deep)."""
    if isinstance(data, list):
        return [(path, data)] if any(isinstance(x, dict) for x in data[:50]) else []
    if not isinstance(data, dict) or depth >= 3:
        return []
    found: list[tuple[str, list[Any]]] = []
    for key, value in data.items():
        found += _arrays(value, f"{path}.{key}" if path else str(key), depth + 1)
    return found


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _fields(items: list[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items[:20]:
        if isinstance(item, dict):
            for key in item:
                seen.setdefault(str(key), None)
    return list(seen)


def _shape(data: Any, depth: int = 0) -> str:
    if isinstance(data, list):
        objects = sum(1 for x in data if isinstance(x, dict))
        if objects and objects == len(data):
            fields = _fields(data)
            shown = ", ".join(fields[:12]) + (f", … ({len(fields) - 12} more)" if len(fields) > 12 else "")
            return f"array of {len(data):,} objects with fields {shown}"
        return f"array of {len(data):,} values"
    if isinstance(data, dict):
        if depth >= 2:
            return f"object with {len(data)} fields"
        pieces = []
        for key, value in list(data.items())[:12]:
            if isinstance(value, (dict, list)):
                pieces.append(f"{key}: {_shape(value, depth + 1)}")
            else:
                pieces.append(f"{key}={_short(value)}")
        more = f", … ({len(data) - 12} more fields)" if len(data) > 12 else ""
        return "object {" + "; ".join(pieces) + more + "}"
    return f"value {_short(data)}"


def _status_counts(items: list[Any]) -> str:
    out = []
    for key in _fields(items):
        if not any(w in key.lower() for w in _STATUS_WORDS):
            continue
        counts: dict[str, int] = {}
        for item in items:
            value = item.get(key) if isinstance(item, dict) else None
            if isinstance(value, (str, bool, int)) and not isinstance(value, float):
                label = str(value)
                counts[label] = counts.get(label, 0) + 1
        if 1 < len(counts) <= 8 or (len(counts) == 1 and len(items) > 1):
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(f"{key}: " + ", ".join(f"{v} {n}" for v, n in ordered))
    return "; ".join(out[:3])


def _words(question: str) -> set[str]:
    return {t for t in query_terms(question) if len(t) >= 3}


def _named_records(arrays: list[tuple[str, list[Any]]], question: str) -> list[str]:
    identifiers = [i.lower().lstrip("#") for i in query_identifiers(question)]
    if not identifiers:
        return []
    words = _words(question)
    out: list[str] = []
    for _path, items in arrays:
        for item in items:
            if not isinstance(item, dict):
                continue
            matched = _matching_field(item, identifiers)
            if matched is None:
                continue
            out.append(_record(item, matched, words))
            if len(out) >= _MAX_RECORDS:
                return out
    return out


def _scalars(item: dict[str, Any], prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth < 2:
            out += _scalars(value, name + ".", depth + 1)
        elif not isinstance(value, (dict, list)):
            out.append((name, value))
    return out


def _matching_field(item: dict[str, Any], identifiers: list[str]) -> str | None:
    for name, value in _scalars(item):
        if value is None or isinstance(value, bool):
            continue
        text = str(value).lower()
        if text in identifiers or (len(text) <= 200 and any(_contains_word(text, i) for i in identifiers)):
            return name
    return None


def _contains_word(text: str, needle: str) -> bool:
    at = text.find(needle)
    while at >= 0:
        before = text[at - 1] if at else " "
        after = text[at + len(needle)] if at + len(needle) < len(text) else " "
        if not (before.isalnum() or after.isalnum()):
            return True
        at = text.find(needle, at + 1)
    return False


def _record(item: dict[str, Any], matched: str, words: set[str]) -> str:
    scalars = dict(_scalars(item))
    chosen: dict[str, None] = {}
    for key in _ID_FIELDS:
        if key in scalars:
            chosen.setdefault(key, None)
            break
    chosen.setdefault(matched, None)
    for name in scalars:
        tokens = {t for t in re.split(r"[._\-]", name.lower()) if len(t) >= 3}
        if tokens & words:
            chosen.setdefault(name, None)
        if len(chosen) >= _MAX_FIELDS:
            break
    return "{" + ", ".join(f"{name}: {_short(scalars[name])}" for name in chosen) + "}"


# -- text and logs ------------------------------------------------------------------------


def _clip(line: str) -> str:
    line = line.strip()
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…"


@functools.lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _text_digest(text: str, question: str, problems: re.Pattern[str]) -> str:
    lines = text.splitlines()
    parts = [f"{len(lines):,} lines, {len(text):,} characters."]
    if lines:
        parts.append(f"First line: {json.dumps(_clip(lines[0]), ensure_ascii=False)}.")
    reported = [line for line in lines if problems.search(line.lower())]
    if reported:
        first = json.dumps(_clip(reported[0]), ensure_ascii=False)
        parts.append(f"{len(reported):,} lines report a problem; the first: {first}.")
    identifiers = [i.lower() for i in query_identifiers(question)]
    if identifiers:
        named = [line for line in lines if any(i in line.lower() for i in identifiers)]
        if named:
            shown = "; ".join(json.dumps(_clip(line), ensure_ascii=False) for line in named[:_MAX_LINES])
            more = f" (and {len(named) - _MAX_LINES:,} more)" if len(named) > _MAX_LINES else ""
            parts.append(f"Lines the question names: {shown}{more}.")
    return " ".join(parts)
