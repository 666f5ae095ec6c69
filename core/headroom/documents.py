"""Fit a set of retrieved documents (RAG chunks) to a prompt: compress, de-duplicate, select.

:func:`compress_documents` is the decision a retrieval postprocessor needs, kept in the core so
every integration makes it the same way:

1. each text is compressed on its own with :func:`headroom.text.compress_text` (query-aware);
2. near-duplicates (same words in the same order, up to ``duplicate_threshold``) collapse into
   the most valuable copy;
3. when a ``token_budget`` is given and the set is larger, documents are kept by value (the
   retriever's score and the relevance of the text to the query), the last one that only
   partly fits is trimmed, and the rest are left out.

Whatever is left out is stored in CCR, so nothing is lost: each outcome names its keys, and
``omission_note`` says in words a model understands what was left out and how to get it back.

    >>> from headroom.documents import compress_documents
    >>> result = compress_documents(["alpha beta gamma", "alpha beta gamma"], query="beta")
    >>> [o.action for o in result.outcomes]
    ['unchanged', 'duplicate']
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from headroom import metrics
from headroom.ccr.store import CCRStore
from headroom.config import HeadroomConfig
from headroom.errors import HeadroomError, InvalidArgumentError
from headroom.relevance import BM25, query_identifiers
from headroom.text import compress_text, fit_text, open_store
from headroom.tokens import TokenCounter, get_counter

__all__ = ["DocumentOutcome", "DocumentsResult", "compress_documents"]

log = logging.getLogger("headroom.documents")

_WORD = re.compile(r"\w+")
_SAMPLE_MOD = 4  # keep 1 shingle hash in 4: an unbiased Jaccard estimate at a quarter of the cost


@dataclass(frozen=True)
class DocumentOutcome:
    """What happened to one document of the set."""

    index: int
    action: str
    """``unchanged``, ``compressed``, ``trimmed``, ``duplicate`` (of ``duplicate_of``), ``dropped``
    (left out for the budget) or ``no_text`` (nothing to compress, always kept)."""
    text: str | None
    """The text to send; None when the document is left out or had no text."""
    tokens_before: int
    tokens_after: int
    """Tokens of ``text`` (0 when left out)."""
    value: float
    """0..1: how much the document is worth keeping (retrieval score and query relevance)."""
    transforms: tuple[str, ...] = ()
    ccr_keys: tuple[str, ...] = ()
    """Keys of the originals: of what compression omitted, or of the whole document when left out."""
    duplicate_of: int | None = None

    @property
    def kept(self) -> bool:
        return self.action not in ("duplicate", "dropped")

    @property
    def changed(self) -> bool:
        return self.action in ("compressed", "trimmed")


@dataclass(frozen=True)
class DocumentsResult:
    """The outcome of :func:`compress_documents`, one entry per input document, in input order."""

    outcomes: tuple[DocumentOutcome, ...]
    tokens_before: int
    """Tokens of the whole set as given (texts plus ``overhead_tokens``)."""
    tokens_after: int
    """Tokens of what is kept (texts plus overhead), not counting ``omission_note``."""
    token_budget: int | None = None
    omission_note: str | None = None
    """A short text naming the documents left out and their keys; None when nothing was."""
    note_tokens: int = 0
    errors: int = 0
    passthrough_reasons: tuple[str, ...] = ()

    @property
    def budget_met(self) -> bool:
        return self.token_budget is None or self.tokens_after + self.note_tokens <= self.token_budget

    @property
    def left_out(self) -> tuple[DocumentOutcome, ...]:
        """Documents not sent (duplicates and those dropped for the budget); each has its CCR key."""
        return tuple(o for o in self.outcomes if not o.kept)

    @property
    def changed(self) -> bool:
        return any(o.action not in ("unchanged", "no_text") for o in self.outcomes)

    @property
    def ccr_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for o in self.outcomes for k in o.ccr_keys))


@dataclass
class _Doc:
    index: int
    original: str | None
    text: str | None
    tokens_before: int
    tokens: int
    overhead: int
    value: float
    transforms: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    action: str = "unchanged"
    duplicate_of: int | None = None


def compress_documents(
    texts: Sequence[str | None],
    *,
    query: str = "",
    scores: Sequence[float | None] | None = None,
    ids: Sequence[str] | None = None,
    overhead_tokens: Sequence[int] | None = None,
    token_budget: int | None = None,
    model: str = "gpt-4o",
    config: HeadroomConfig | None = None,
    compress: bool = True,
    deduplicate: bool = True,
    duplicate_threshold: float = 0.9,
    relevance_weight: float = 0.5,
    min_trim_tokens: int = 128,
) -> DocumentsResult:
    """Compress, de-duplicate and fit ``texts`` to ``token_budget`` (see the module docs).

    ``texts`` holds None (or "") for documents without text, e.g. images: those are kept as
    they are. ``scores`` are the retriever's (higher is better, any scale); ``ids`` name the
    documents in CCR metadata and in the omission note; ``overhead_tokens`` is what each
    document costs in the prompt besides its text (metadata, separators) and counts against the
    budget. Never raises for content; raises :class:`InvalidArgumentError` for bad arguments.
    """
    n = len(texts)
    _check(n, query, scores, ids, overhead_tokens, token_budget, duplicate_threshold, relevance_weight)
    cfg = config or HeadroomConfig()
    counter = get_counter(model)
    store = open_store(cfg)
    names = [str(i) for i in ids] if ids is not None else [f"#{i}" for i in range(n)]
    overhead = list(overhead_tokens) if overhead_tokens is not None else [0] * n
    values = _values(texts, query, scores, relevance_weight)
    docs = []
    for i, t in enumerate(texts):
        has_text = isinstance(t, str) and bool(t.strip())
        count = counter.count(t) if has_text and t is not None else 0
        docs.append(
            _Doc(
                i,
                t if has_text else None,
                t if has_text else None,
                count,
                count,
                overhead[i],
                values[i],
                action="unchanged" if has_text else "no_text",
            )
        )
    tokens_before = sum(d.tokens_before + d.overhead for d in docs)
    errors = 0
    reasons: list[str] = []

    if compress:
        for d in docs:
            if d.text is None:
                continue
            res = compress_text(d.text, query=query, model=model, config=cfg)
            errors += res.errors
            if res.changed:
                d.text, d.tokens, d.transforms, d.keys, d.action = (
                    res.text,
                    res.tokens_after,
                    res.transforms,
                    res.ccr_keys,
                    "compressed",
                )

    if deduplicate and store is not None:
        errors += _mark_duplicates(docs, duplicate_threshold, store, names, reasons)

    note: str | None = None
    note_tokens = 0
    if token_budget is not None:
        live = [d for d in docs if d.action != "duplicate"]
        if sum(d.tokens + d.overhead for d in live) > token_budget:
            if store is None:
                reasons.append("cannot fit the token budget: CCR is disabled, so no document may be left out")
            else:
                note, note_tokens, errs = _fit_budget(
                    live,
                    token_budget,
                    query=query,
                    model=model,
                    counter=counter,
                    cfg=cfg,
                    store=store,
                    names=names,
                    min_trim_tokens=min_trim_tokens,
                )
                errors += errs

    kept_tokens = sum(d.tokens + d.overhead for d in docs if d.action not in ("duplicate", "dropped"))
    dropped = sum(1 for d in docs if d.action in ("duplicate", "dropped"))
    metrics.increment("documents.calls")
    metrics.increment("documents.left_out", dropped)
    metrics.increment("documents.tokens_saved", max(0, tokens_before - kept_tokens))
    return DocumentsResult(
        outcomes=tuple(
            DocumentOutcome(
                index=d.index,
                action=d.action,
                text=None if d.action in ("duplicate", "dropped") else d.text,
                tokens_before=d.tokens_before,
                tokens_after=0 if d.action in ("duplicate", "dropped") else d.tokens,
                value=d.value,
                transforms=d.transforms,
                ccr_keys=d.keys,
                duplicate_of=d.duplicate_of,
            )
            for d in docs
        ),
        tokens_before=tokens_before,
        tokens_after=kept_tokens,
        token_budget=token_budget,
        omission_note=note,
        note_tokens=note_tokens,
        errors=errors,
        passthrough_reasons=tuple(reasons),
    )


def _check(
    n: int,
    query: object,
    scores: Sequence[float | None] | None,
    ids: Sequence[str] | None,
    overhead: Sequence[int] | None,
    budget: object,
    threshold: float,
    weight: float,
) -> None:
    if not isinstance(query, str):
        raise InvalidArgumentError(f"query must be a string, got {type(query).__name__}")
    for name, seq in (("scores", scores), ("ids", ids), ("overhead_tokens", overhead)):
        if seq is not None and len(seq) != n:
            raise InvalidArgumentError(f"{name} must have one entry per text ({n}), got {len(seq)}")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
        raise InvalidArgumentError(f"token_budget must be a non-negative int or None, got {budget!r}")
    if not 0.0 < threshold <= 1.0:
        raise InvalidArgumentError(f"duplicate_threshold must be in (0, 1], got {threshold!r}")
    if not 0.0 <= weight <= 1.0:
        raise InvalidArgumentError(f"relevance_weight must be in [0, 1], got {weight!r}")


def _normalise(raw: list[float]) -> list[float]:
    lo, hi = min(raw), max(raw)
    if hi <= lo:
        return [1.0] * len(raw)
    return [(x - lo) / (hi - lo) for x in raw]


def _values(
    texts: Sequence[str | None], query: str, scores: Sequence[float | None] | None, weight: float
) -> list[float]:
    """0..1 worth of each document: ``weight`` x query relevance + (1 - weight) x retrieval score."""
    n = len(texts)
    if n == 0:
        return []
    given = [s for s in (scores or []) if isinstance(s, (int, float))]
    if given:
        floor = min(given)
        score_part = _normalise([float(s) if isinstance(s, (int, float)) else floor for s in scores or []])
    else:
        score_part = [1.0 - i / n for i in range(n)]  # no scores: the retriever's order is the ranking
    plain = [t if isinstance(t, str) else "" for t in texts]
    relevance = BM25(plain).scores(query) if query.strip() else [0.0] * n
    idents = query_identifiers(query)
    if idents:
        top = max([*relevance, 1.0])
        relevance = [r + top * sum(1 for ident in idents if ident in t) for r, t in zip(relevance, plain, strict=True)]
    if max(relevance) <= 0:
        return score_part
    rel_part = [r / max(relevance) for r in relevance]
    return [weight * r + (1 - weight) * s for r, s in zip(rel_part, score_part, strict=True)]


def _shingles(text: str) -> set[int]:
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return {zlib.crc32(w.encode()) for w in words}
    out = set()
    for i in range(len(words) - 2):
        h = zlib.crc32(" ".join(words[i : i + 3]).encode("utf-8", "surrogatepass"))
        if h % _SAMPLE_MOD == 0:
            out.add(h)
    return out or {zlib.crc32(" ".join(words).encode("utf-8", "surrogatepass"))}


def _mark_duplicates(docs: list[_Doc], threshold: float, store: CCRStore, names: list[str], reasons: list[str]) -> int:
    """Mark each near-duplicate of a more valuable document as ``duplicate`` (its original goes to CCR)."""
    ranked = sorted((d for d in docs if d.original is not None), key=lambda d: (-d.value, d.index))
    sigs = {d.index: _shingles(d.original or "") for d in ranked}
    exact: dict[int, int] = {}
    survivors: list[_Doc] = []
    errors = 0
    for d in ranked:
        original = d.original or ""
        digest = zlib.crc32(original.encode("utf-8", "surrogatepass"))
        twin = next((s for s in survivors if exact.get(s.index) == digest and s.original == original), None)
        if twin is None:
            mine = sigs[d.index]
            for s in survivors:
                theirs = sigs[s.index]
                small, large = sorted((len(mine), len(theirs)))
                if not large or small / large < threshold:
                    continue
                if len(mine & theirs) / len(mine | theirs) >= threshold:
                    twin = s
                    break
        if twin is None:
            survivors.append(d)
            exact[d.index] = digest
            continue
        try:
            key = store.put(original, kind="document", meta={"id": names[d.index], "duplicate_of": names[twin.index]})
        except HeadroomError as exc:
            errors += 1
            metrics.increment("errors.documents.store")
            reasons.append(f"{names[d.index]}: kept although a near-duplicate ({exc})")
            survivors.append(d)
            continue
        d.action, d.duplicate_of, d.keys = "duplicate", twin.index, (str(key),)
    return errors


def _note(left_out: list[_Doc], budget: int, names: list[str], with_keys: bool) -> str:
    n = len(left_out)
    head = f"[headroom: {n} more retrieved {'chunk was' if n == 1 else 'chunks were'} left out to fit the {budget}-token budget"
    if not with_keys:
        return head + "; each is stored and can be read back by its key]"
    parts = ", ".join(f"{names[d.index][:36]} (key {d.keys[-1]})" for d in left_out)
    return f"{head}: {parts}. Call headroom_retrieve with a key to read one]"


def _fit_budget(
    live: list[_Doc],
    budget: int,
    *,
    query: str,
    model: str,
    counter: TokenCounter,
    cfg: HeadroomConfig,
    store: CCRStore,
    names: list[str],
    min_trim_tokens: int,
) -> tuple[str | None, int, int]:
    """Keep documents by value within ``budget`` (trimming the last that partly fits); returns the note."""
    errors = 0
    reserve = 0
    fixed = sum(d.tokens + d.overhead for d in live if d.action == "no_text")
    candidates = sorted((d for d in live if d.action != "no_text"), key=lambda d: (-d.value, d.index))
    saved = {d.index: (d.text, d.tokens, d.transforms, d.keys, d.action) for d in candidates}
    note: str | None = None
    for _attempt in range(4):
        for d in candidates:  # start over from the compressed texts
            d.text, d.tokens, d.transforms, d.keys, d.action = saved[d.index]
        room = budget - fixed - reserve
        left_out: list[_Doc] = []
        for d in candidates:
            cost = d.tokens + d.overhead
            if cost <= room:
                room -= cost
                continue
            space = room - d.overhead
            if space >= min_trim_tokens and d.text is not None:
                fitted = fit_text(d.text, space, query=query, model=model, config=cfg, original=d.original)
                errors += fitted.errors
                if fitted.changed and fitted.tokens_after <= space:
                    d.text, d.tokens = fitted.text, fitted.tokens_after
                    d.transforms += fitted.transforms
                    d.keys += tuple(k for k in fitted.ccr_keys if k not in d.keys)
                    d.action = "trimmed"
                    room -= d.tokens + d.overhead
                    continue
            left_out.append(d)
        for d in left_out:
            try:
                key = store.put(
                    d.original or "", kind="document", meta={"id": names[d.index], "reason": "token_budget"}
                )
            except HeadroomError as exc:  # cannot make it retrievable: keep it, the budget is then missed
                errors += 1
                metrics.increment("errors.documents.store")
                log.warning("kept %s over the token budget: its original could not be stored (%s)", names[d.index], exc)
                continue
            d.action, d.keys = "dropped", (*(k for k in d.keys if k != str(key)), str(key))
        dropped = [d for d in left_out if d.action == "dropped"]
        if not dropped:
            return None, 0, errors
        dropped.sort(key=lambda d: d.index)
        note = _note(dropped, budget, names, with_keys=True)
        note_tokens = counter.count(note)
        if note_tokens > max(32, budget // 4):
            note = _note(dropped, budget, names, with_keys=False)
            note_tokens = counter.count(note)
        used = fixed + sum(d.tokens + d.overhead for d in candidates if d.action != "dropped")
        if used + note_tokens <= budget or reserve >= note_tokens:
            return note, note_tokens, errors
        reserve = note_tokens
    return note, counter.count(note or ""), errors
