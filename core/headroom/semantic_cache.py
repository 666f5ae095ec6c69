"""A response cache for HeadroomClient, keyed by the normalised request, in the Headroom store.

Two requests share a cached response only when they agree on everything that shapes the answer:
provider, model, tool definitions and generation parameters (the *scope*), and the conversation.
The conversation must match exactly after normalisation (JSON key order, surrounding whitespace,
a lone text part written as a plain string). Near-duplicate matching is off unless a
``similarity_threshold`` is given: then a request whose scope matches exactly, whose roles are
the same, and whose conversation text is at least that similar (see :func:`text_similarity`: a
lexical measure, no embedding model is involved) is answered from the cache too. Entries expire after
``ttl_seconds``. The table lives in the same database as the CCR store (same SQLAlchemy engine).

    >>> from headroom.ccr.store import CCRStore
    >>> cache = SemanticCache(CCRStore("sqlite://").engine)
    >>> key = cache.key_for("openai", "gpt-4o", [{"role": "user", "content": "hi"}], [], {})
    >>> cache.get(key) is None
    True
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from headroom.errors import InvalidArgumentError, StoreError

__all__ = ["CacheHit", "CacheKey", "SemanticCache", "normalise_messages", "text_similarity"]

log = logging.getLogger("headroom.semantic_cache")

_metadata = MetaData()

cache_table = Table(
    "headroom_semantic_cache",
    _metadata,
    Column("key", String(64), primary_key=True),
    Column("scope", String(64), nullable=False, index=True),
    Column("provider", String(32), nullable=False),
    Column("model", String(256), nullable=False),
    Column("roles", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("hits", Integer, nullable=False, default=0),
)

# Request keys that do not change the answer (transport, accounting, streaming).
NON_SEMANTIC_PARAMS = frozenset(
    {
        "messages", "system", "model", "tools", "stream", "stream_options", "extra_headers", "extra_query",
        "extra_body", "timeout", "user", "metadata", "store", "service_tier", "prompt_cache_key",
        "safety_identifier", "betas",
    }
)  # fmt: skip


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


def _normalise_content(content: Any) -> Any:
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        parts = [_normalise_part(p) for p in content]
        if (
            len(parts) == 1
            and isinstance(parts[0], dict)
            and set(parts[0]) == {"type", "text"}
            and parts[0]["type"] == "text"
        ):
            return parts[0]["text"]
        return parts
    return content


def _normalise_part(part: Any) -> Any:
    if not isinstance(part, dict):
        return part
    out = {k: v for k, v in part.items() if k != "cache_control"}  # a cache hint does not change the answer
    if isinstance(out.get("text"), str):
        out["text"] = out["text"].strip()
    if "content" in out:
        out["content"] = _normalise_content(out["content"])
    return out


def normalise_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-format messages in a canonical form: whitespace-trimmed text, no cache hints."""
    out = []
    for m in messages:
        n = {k: v for k, v in m.items() if k != "cache_control"}
        if "content" in n:
            n["content"] = _normalise_content(n["content"])
        out.append(n)
    return out


_SHORT_TEXT = 4000
_WORD = re.compile(r"\w+|[^\w\s]")


def _shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return {tuple(words)}
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def text_similarity(a: str, b: str, *, floor: float = 0.0) -> float:
    """Lexical similarity in [0, 1]: 1.0 for equal texts.

    Short texts (both up to 4,000 characters) use ``difflib``'s ratio, which sees single-character
    edits; longer ones (tool outputs) the Jaccard index of their word-trigram sets, linear in the
    length. Pairs whose lengths alone rule out reaching ``floor`` return 0.0 without comparing.
    """
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    if min(len(a), len(b)) / max(len(a), len(b)) < floor:
        return 0.0
    if len(a) <= _SHORT_TEXT and len(b) <= _SHORT_TEXT:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
            return 0.0
        return matcher.ratio()
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb)


def _conversation_text(messages: list[dict[str, Any]]) -> str:
    lines = []
    for m in messages:
        content = m.get("content")
        text = content if isinstance(content, str) else _canonical(content)
        lines.append(f"{m.get('role')}: {text}")
        if m.get("tool_calls"):
            lines.append(_canonical(m["tool_calls"]))
    return "\n".join(lines)


@dataclass(frozen=True)
class CacheKey:
    """Where a request's response is (or would be) cached."""

    key: str
    """Exact key: scope plus the normalised conversation."""
    scope: str
    """Provider, model, tools and generation parameters: never crossed, not even by near-duplicates."""
    provider: str
    model: str
    roles: str
    text: str


@dataclass(frozen=True)
class CacheHit:
    """A cached response (provider JSON) and how it matched."""

    response: dict[str, Any]
    key: str
    similarity: float
    """1.0 for an exact match; the lexical similarity for a near-duplicate."""


class SemanticCache:
    """Responses by normalised request, with TTL, in the store's database (table ``headroom_semantic_cache``)."""

    def __init__(
        self,
        engine: Engine,
        *,
        ttl_seconds: float = 3600.0,
        similarity_threshold: float | None = None,
        max_candidates: int = 200,
        max_entries: int = 10_000,
    ) -> None:
        if ttl_seconds <= 0:
            raise InvalidArgumentError(f"semantic cache ttl_seconds must be > 0, got {ttl_seconds!r}")
        if similarity_threshold is not None and not 0.0 < similarity_threshold <= 1.0:
            raise InvalidArgumentError(
                f"similarity_threshold must be in (0, 1] or None for exact matches only, got {similarity_threshold!r}"
            )
        self.engine = engine
        self.ttl_seconds = float(ttl_seconds)
        self.similarity_threshold = similarity_threshold
        self.max_candidates = max_candidates
        if max_entries < 1:
            raise InvalidArgumentError(f"semantic cache max_entries must be >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        try:
            _metadata.create_all(engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot create the semantic cache table: {exc}") from exc

    def key_for(
        self,
        provider: str,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[Any],
        params: dict[str, Any],
    ) -> CacheKey:
        """The cache key of a request (``messages`` in OpenAI format, system included)."""
        semantic_params = {
            k: v for k, v in params.items() if k not in NON_SEMANTIC_PARAMS and not k.startswith("headroom")
        }
        scope = _digest({"provider": provider, "model": model, "tools": tools, "params": semantic_params})
        normal = normalise_messages(messages)
        return CacheKey(
            key=_digest({"scope": scope, "messages": normal}),
            scope=scope,
            provider=provider,
            model=model,
            roles=",".join(str(m.get("role")) for m in normal),
            text=_conversation_text(normal),
        )

    def get(self, key: CacheKey, *, count_hit: bool = True) -> CacheHit | None:
        """The cached response of ``key`` (exact, else a near-duplicate when a threshold is set).

        ``count_hit=False`` only looks (simulate mode): the entry's hit counter is not bumped.
        """
        now = time.time()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(cache_table.c.response).where(cache_table.c.key == key.key, cache_table.c.expires_at >= now)
            ).first()
            if row is not None:
                if count_hit:
                    self._touch(key.key)
                return CacheHit(json.loads(row.response), key.key, 1.0)
            if self.similarity_threshold is None:
                return None
            candidates = conn.execute(
                select(cache_table.c.key, cache_table.c.text, cache_table.c.response)
                .where(cache_table.c.scope == key.scope, cache_table.c.roles == key.roles,
                       cache_table.c.expires_at >= now)
                .order_by(cache_table.c.created_at.desc())
                .limit(self.max_candidates)
            ).all()  # fmt: skip
        best: tuple[float, Any] | None = None
        for cand in candidates:
            ratio = text_similarity(key.text, cand.text, floor=self.similarity_threshold)
            if ratio >= self.similarity_threshold and (best is None or ratio > best[0]):
                best = (ratio, cand)
        if best is None:
            return None
        if count_hit:
            self._touch(best[1].key)
        return CacheHit(json.loads(best[1].response), best[1].key, best[0])

    def put(self, key: CacheKey, response: dict[str, Any]) -> None:
        """Store ``response`` under ``key`` (replacing an older entry); drop expired entries and the
        oldest beyond ``max_entries``."""
        now = time.time()
        row = {
            "key": key.key, "scope": key.scope, "provider": key.provider, "model": key.model, "roles": key.roles,
            "text": key.text, "response": _canonical(response), "created_at": now,
            "expires_at": now + self.ttl_seconds, "hits": 0,
        }  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(delete(cache_table).where(cache_table.c.expires_at < now))
            try:
                with conn.begin_nested():
                    conn.execute(cache_table.insert().values(**row))
            except IntegrityError:
                conn.execute(update(cache_table).where(cache_table.c.key == key.key).values(**row))
            count = conn.execute(select(func.count()).select_from(cache_table)).scalar_one()
            if count > self.max_entries:
                oldest = (
                    select(cache_table.c.key).order_by(cache_table.c.created_at.asc()).limit(count - self.max_entries)
                )
                conn.execute(delete(cache_table).where(cache_table.c.key.in_(oldest.scalar_subquery())))

    def _touch(self, key: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(update(cache_table).where(cache_table.c.key == key).values(hits=cache_table.c.hits + 1))
        except SQLAlchemyError as exc:  # bookkeeping only
            log.warning("could not count a semantic cache hit: %s", exc)

    def stats(self) -> dict[str, Any]:
        """Live entries and the hits they served."""
        with self.engine.connect() as conn:
            count, hits = conn.execute(
                select(func.count(), func.coalesce(func.sum(cache_table.c.hits), 0)).where(
                    cache_table.c.expires_at >= time.time()
                )
            ).one()
        return {"entries": int(count), "hits": int(hits), "ttl_seconds": self.ttl_seconds,
                "similarity_threshold": self.similarity_threshold}  # fmt: skip

    def clear(self) -> int:
        """Delete every entry; returns how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(cache_table)).rowcount or 0)
