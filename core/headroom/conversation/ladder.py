"""The forms of one tool output, from as sent down to a marker: the rungs context fitting steps down.

A tool output (an OpenAI ``tool`` message, or a user message carrying Anthropic ``tool_result``
parts) can be sent in ever smaller forms:

- ``RAW`` (-1): the original, when the content stage left it so (a turn kept by ``keep_turns``);
- ``0``: its normal compressed form (what the content stage gives);
- ``1`` and ``2``: compressed harder by its compressor (``CompressionContext.level``): about half
  the items; then only what its question names, errors and rare values;
- ``DIGEST`` (3): a few lines of shape, counts and named records (:mod:`headroom.conversation.digest`);
- ``ELIDED`` (4): a marker naming the key.

Each rung is computed when fitting first asks for it and kept only when it is smaller than the
rung above, so stepping down always saves tokens. Every rung below the original keeps the
original retrievable: levels 0-2 through the compressor's own CCR entry, digest and marker through
the originals this module hands to fitting to store (:attr:`Rung.originals`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headroom.conversation.digest import make_digest
from headroom.conversation.fit_markers import chunk_for_store, elision_marker, keys_for, retrieval_sentence
from headroom.messages import tool_name_of
from headroom.tokens import REPLY_PRIMING, TokenCounter

__all__ = ["DIGEST", "ELIDED", "RAW", "OutputLadder", "Reshape", "Rung", "message_tokens"]

RAW = -1
DIGEST = 3
ELIDED = 4

Reshape = Callable[[str, "str | None", str, int], "tuple[str, str | None] | None"]
"""``reshape(original, tool_name, question, level)``: the content compressed at ``level`` and the CCR key
its marker names (None when nothing was dropped), or None when the compressor has no such form."""


def message_tokens(counter: TokenCounter, message: dict[str, Any]) -> int:
    """What one message adds to ``counter.count_messages`` of a request."""
    return counter.count_messages([message]) - REPLY_PRIMING


@dataclass(frozen=True)
class _Part:
    path: tuple[Any, ...]
    given: str
    original: str
    tool_name: str | None


@dataclass(frozen=True)
class Rung:
    """One form of a tool output."""

    level: int
    message: dict[str, Any]
    tokens: int
    originals: tuple[tuple[str, str | None], ...] = ()
    """(original text, tool name) this form names by key and that must be stored if it is sent."""
    keys: tuple[str, ...] = ()
    """Every CCR key this form names (the compressor's, or those of the stored originals)."""


def _get(message: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        message = message[step]
    return message


def _with(message: dict[str, Any], replacements: dict[tuple[Any, ...], str]) -> dict[str, Any]:
    """A copy of ``message`` with the strings at the given paths replaced (containers on the paths copied)."""
    out: Any = dict(message)
    for path, value in replacements.items():
        target = out
        for step in path[:-1]:
            child = target[step]
            child = list(child) if isinstance(child, list) else dict(child)
            target[step] = child
            target = child
        target[path[-1]] = value
    return dict(out)


def _parts(given: dict[str, Any], original: dict[str, Any] | None, names: dict[str, str]) -> list[_Part]:
    """The tool-result strings of a message, with their originals at the same place when they correspond."""
    parts: list[_Part] = []

    def add(path: tuple[Any, ...], tool: str | None) -> None:
        text = _get(given, path)
        base = text
        if original is not None:
            try:
                candidate = _get(original, path)
            except (KeyError, IndexError, TypeError):
                candidate = None
            if isinstance(candidate, str):
                base = candidate
        parts.append(_Part(path, text, base, tool))

    content = given.get("content")
    if given.get("role") in ("tool", "function"):
        tool = tool_name_of(given, names)
        if isinstance(content, str):
            add(("content",), tool)
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    add(("content", j, "text"), tool)
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "tool_result":
                continue
            tool = names.get(str(part.get("tool_use_id", "")))
            inner = part.get("content")
            if isinstance(inner, str):
                add(("content", j, "content"), tool)
            elif isinstance(inner, list):
                for k, sub in enumerate(inner):
                    if isinstance(sub, dict) and isinstance(sub.get("text"), str):
                        add(("content", j, "content", k, "text"), tool)
    return parts


class OutputLadder:
    """The rungs of one tool-output message; ``current`` is the form fitting has chosen so far."""

    def __init__(
        self,
        given: dict[str, Any],
        original: dict[str, Any] | None,
        *,
        question: str,
        names: dict[str, str],
        counter: TokenCounter,
        reshape: Reshape | None,
        retrievable: bool,
        max_entry_bytes: int | None,
        tokens: int | None = None,
        problems: str | None = None,
    ) -> None:
        self._parts = _parts(given, original, names)
        self._question = question
        self._counter = counter
        self._reshape = reshape
        self._retrievable = retrievable
        self._max_entry_bytes = max_entry_bytes
        self._problems = problems
        raw = all(p.given == p.original for p in self._parts)
        start = RAW if raw else 0
        self.rungs = [Rung(start, given, tokens if tokens is not None else message_tokens(counter, given))]
        self._next = start + 1
        self._floor: int | None = None

    @property
    def current(self) -> Rung:
        return self.rungs[-1]

    @property
    def level(self) -> int:
        return self.current.level

    @property
    def exhausted(self) -> bool:
        return self._next > ELIDED

    def step_down(self) -> bool:
        """Move to the next form smaller than the current one; False when there is none."""
        while self._next <= ELIDED:
            level = self._next
            self._next += 1
            rung = self._form(level)
            if rung is not None and rung.tokens < self.current.tokens:
                self.rungs.append(rung)
                return True
        return False

    def step_to(self, level: int) -> bool:
        """Step down until the form is at ``level`` or below it in size; False when no step was possible."""
        moved = False
        while self.current.level < level and self.step_down():
            moved = True
        return moved

    def floor_tokens(self) -> int:
        """Tokens of the smallest form short of eliding it (its digest), without stepping down to it."""
        if self._floor is None:
            if self.current.level >= DIGEST:
                self._floor = self.current.tokens
            else:
                digest = self._form(DIGEST)
                self._floor = min(self.current.tokens, digest.tokens) if digest is not None else self.current.tokens
        return self._floor

    def _keys(self, text: str) -> list[str]:
        return keys_for(text, self._max_entry_bytes) if self._retrievable else []

    def _form(self, level: int) -> Rung | None:
        if not self._parts:
            return None
        base = self.current.message  # parts without a form at this level keep the one they have
        replacements: dict[tuple[Any, ...], str] = {}
        originals: list[tuple[str, str | None]] = []
        keys: dict[str, None] = dict.fromkeys(self.current.keys)
        for part in self._parts:
            form = self._part_form(part, level)
            if form is None:
                continue
            text, named = form
            if len(text) >= len(_get(base, part.path)):
                continue  # not shorter: never worth counting (token counts follow length closely)
            replacements[part.path] = text
            keys.update(dict.fromkeys(named))
            if level >= DIGEST and named:
                originals.append((part.original, part.tool_name))
        if not replacements:
            return None
        message = _with(base, replacements)
        return Rung(level, message, message_tokens(self._counter, message), tuple(originals), tuple(keys))

    def _part_form(self, part: _Part, level: int) -> tuple[str, list[str]] | None:
        if level <= 2:
            if self._reshape is None or len(chunk_for_store(part.original, self._max_entry_bytes)) > 1:
                return None  # too large to store in one entry: only digest and marker can name its parts
            got = self._reshape(part.original, part.tool_name, self._question, level)
            if got is None:
                return None
            text, key = got
            return text, [key] if key else []
        what = f"output of tool {part.tool_name!r}" if part.tool_name else "tool output"
        keys = self._keys(part.original)
        tokens = self._counter.count(part.original)
        if level == DIGEST:
            retrieval = _capital(retrieval_sentence(keys))
            return make_digest(
                part.original, what=what, question=self._question, retrieval=retrieval, tokens=tokens
            ), keys
        return elision_marker(what, tokens, keys), keys


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]
