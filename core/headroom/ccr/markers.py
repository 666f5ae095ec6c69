"""CCR keys named in text: which omissions a request still refers to.

Content compressed in an earlier step (a tool result crushed when it arrived, a turn compressed
by a previous request) carries its marker into later requests. A later compression of that
request finds nothing new to omit, yet the model may still need ``headroom_retrieve`` for it.
Integrations ask :func:`referenced_keys` which stored originals a request refers to.

    >>> from headroom.ccr.markers import keys_in_text
    >>> keys_in_text('... Call headroom_retrieve with key=hr_e50b47f2c84f8c66 (optionally a query)')
    ('hr_e50b47f2c84f8c66',)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from headroom.ccr.store import KEY_PREFIX, CCRStore
from headroom.messages import iter_text_slots

__all__ = ["keys_in_text", "referenced_keys"]

# ccr_key() is KEY_PREFIX + 16 hex digits (an 8-byte blake2b digest).
_KEY = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(KEY_PREFIX) + r"[0-9a-f]{16}(?![0-9a-f])")
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def keys_in_text(text: str) -> tuple[str, ...]:
    """The CCR keys named in ``text``, in order of first appearance, without duplicates."""
    return tuple(dict.fromkeys(_KEY.findall(text)))


def referenced_keys(messages: Iterable[dict[str, Any]], store: CCRStore | None = None) -> tuple[str, ...]:
    """CCR keys named in OpenAI-format ``messages``; with ``store``, only those it still holds."""
    found: dict[str, None] = {}
    listed = list(messages)
    for slot in iter_text_slots(listed, _ROLES):
        for key in keys_in_text(slot.text):
            found.setdefault(key, None)
    keys = tuple(found)
    if store is None:
        return keys
    return tuple(k for k in keys if k in store)
