"""Find the values in a text that change from request to request (dates, ids, tokens, ...).

Tiers, as in the configuration reference:

- ``regex`` (built in, microseconds): dates, times, Unix timestamps, UUIDs, request/trace ids,
  long numeric ids (9+ digits), JWTs, hex and base64 tokens, values of ``KEY: value`` lines whose key names something
  dynamic (built-in names plus ``extra_dynamic_labels``), and high-entropy strings.
- ``ner`` (optional): DATE and TIME entities from spaCy's ``en_core_web_sm`` when both are
  installed locally.
- ``semantic``: needs an embedding model; Headroom never downloads models, so this tier is
  reported as unavailable.

A tier that is requested but unavailable is logged once and the regex tier is used alone.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DynamicContentDetector", "DynamicSpan", "normalized_entropy"]

log = logging.getLogger("headroom.cache_aligner")

_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,?\s"

# (kind, pattern); earlier kinds win when matches overlap at the same start.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}")),
    ("uuid", re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")),
    (
        "datetime",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?Z\b|\s?[+-]\d{2}:?\d{2}\b|\s?(?:UTC|GMT)\b)?"
        ),
    ),
    (
        "date",
        re.compile(
            rf"(?:{_WEEKDAY})?\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{4}}/\d{{2}}/\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}"
            rf"|\d{{1,2}}\s{_MONTH}\.?,?\s\d{{4}}|{_MONTH}\.?\s\d{{1,2}}(?:st|nd|rd|th)?,?\s\d{{4}})\b"
        ),
    ),
    (
        "time",
        re.compile(
            r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:\s?(?:[AaPp]\.[Mm]\.|[AaPp][Mm]\b))?(?:\s?(?:UTC|GMT|Z|[A-Z]{2}T))?(?![\d:])"
        ),
    ),
    ("unix_timestamp", re.compile(r"\b1[5-9]\d{8}(?:\d{3})?\b")),
    (
        "request_id",
        re.compile(
            r"\b(?:req|request|trace|span|sess|session|txn|msg|chatcmpl|run|corr|correlation|conv|evt)[-_][A-Za-z0-9][A-Za-z0-9_-]{5,}\b",
            re.IGNORECASE,
        ),
    ),
    ("hex", re.compile(r"\b(?:0x)?[0-9a-fA-F]{16,}\b")),
    ("numeric_id", re.compile(r"(?<![\d.,])\d{9,}(?![\d.,]\d)")),
    ("base64", re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=_-])")),
]

_BUILTIN_LABELS = (
    "current date",
    "current time",
    "current datetime",
    "date",
    "time",
    "today",
    "now",
    "timestamp",
    "session",
    "session id",
    "request id",
    "trace id",
    "correlation id",
    "conversation id",
    "last updated",
    "generated at",
    "nonce",
)

_ENTROPY_TOKEN = re.compile(r"(?<![A-Za-z0-9_+-])[A-Za-z0-9_+-]{16,}={0,2}(?![A-Za-z0-9_+=-])")


@dataclass(frozen=True)
class DynamicSpan:
    """One dynamic value found in a text."""

    start: int
    end: int
    kind: str
    """What it is: ``date``, ``uuid``, ``label:session``, ``entropy``, ``ner:DATE``, ..."""
    value: str
    label: str = ""
    """The key of a ``KEY: value`` line, when the value was found that way."""


def normalized_entropy(token: str) -> float:
    """Shannon entropy of the characters of ``token`` divided by the most its length allows (0..1)."""
    n = len(token)
    if n < 2:
        return 0.0
    counts = Counter(token)
    h = -sum((c / n) * math.log2(c / n) for c in counts.values())
    return h / math.log2(n)


def _class_switches(token: str) -> int:
    def cls(ch: str) -> int:
        return 0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3

    return sum(1 for a, b in itertools.pairwise(token) if cls(a) != cls(b) and cls(a) != 3 and cls(b) != 3)


def _looks_random(token: str) -> bool:
    """Random identifiers mix letters and digits all through; words and names do not."""
    digits = sum(c.isdigit() for c in token)
    letters = sum(c.isalpha() for c in token)
    return digits >= 2 and letters >= 2 and _class_switches(token) >= max(3, len(token) // 6)


_warned: set[str] = set()
_warn_lock = threading.Lock()


def _warn_once(tier: str, why: str) -> None:
    with _warn_lock:
        if tier in _warned:
            return
        _warned.add(tier)
    log.warning("cache_aligner detection tier %r unavailable (%s); using the regex tier", tier, why)


class DynamicContentDetector:
    """Finds dynamic values in text; see the module docs for the tiers.

    >>> d = DynamicContentDetector()
    >>> [s.kind for s in d.find("Today is 2024-06-03, request req_8f2a91c0d3.")]
    ['date', 'request_id']
    """

    def __init__(
        self,
        *,
        tiers: Sequence[str] = ("regex",),
        extra_labels: Iterable[str] = (),
        entropy_threshold: float = 0.7,
        patterns: Sequence[str] | None = None,
    ) -> None:
        """``patterns`` replaces the whole regex tier by these expressions (the legacy date mode)."""
        self.entropy_threshold = entropy_threshold
        self._legacy = [re.compile(p) for p in patterns] if patterns is not None else None
        labels = sorted(
            {*_BUILTIN_LABELS, *(lab.strip().lower() for lab in extra_labels if lab.strip())}, key=len, reverse=True
        )
        alternatives = "|".join(re.escape(lab).replace(r"\ ", r"[ _-]?") for lab in labels)
        self._label_line = re.compile(
            rf"(?im)^(?P<prefix>[ \t>*#-]*)(?P<label>{alternatives})(?P<sep>[ \t]*[:=][ \t]*)(?P<value>\S[^\n]*?)[ \t]*$"
        )
        self._nlp: Any = None
        self.active_tiers: tuple[str, ...] = ("regex",)
        for tier in tiers:
            if tier == "ner":
                self._nlp = _load_spacy()
                if self._nlp is not None:
                    self.active_tiers += ("ner",)
            elif tier == "semantic":
                _warn_once("semantic", "it needs a local embedding model and Headroom never downloads models")

    def find(self, text: str) -> list[DynamicSpan]:
        """Non-overlapping dynamic values of ``text``, in order."""
        found: list[DynamicSpan] = []
        if self._legacy is not None:
            for pattern in self._legacy:
                found += [DynamicSpan(m.start(), m.end(), "date", m.group(0)) for m in pattern.finditer(text)]
            return _non_overlapping(found)
        for m in self._label_line.finditer(text):
            found.append(
                DynamicSpan(
                    m.start("value"),
                    m.end("value"),
                    "label:" + m.group("label").lower(),
                    m.group("value"),
                    m.group("label"),
                )
            )
        for kind, pattern in _PATTERNS:
            for m in pattern.finditer(text):
                value = m.group(0)
                if kind in ("hex", "base64") and not _looks_random(value):
                    continue
                found.append(DynamicSpan(m.start(), m.end(), kind, value))
        for m in _ENTROPY_TOKEN.finditer(text):
            token = m.group(0)
            if _looks_random(token) and normalized_entropy(token) > self.entropy_threshold:
                found.append(DynamicSpan(m.start(), m.end(), "entropy", token))
        if self._nlp is not None:
            found += self._ner(text)
        return _non_overlapping(found)

    def _ner(self, text: str) -> list[DynamicSpan]:
        try:
            doc = self._nlp(text)
        except Exception as exc:  # an optional tier must not break alignment
            _warn_once("ner", f"spaCy failed: {exc}")
            return []
        return [
            DynamicSpan(e.start_char, e.end_char, "ner:" + e.label_, e.text)
            for e in doc.ents
            if e.label_ in ("DATE", "TIME")
        ]


def _non_overlapping(spans: list[DynamicSpan]) -> list[DynamicSpan]:
    """Earliest first; at the same start the longest; labelled values win over what they contain."""
    ordered = sorted(spans, key=lambda s: (s.start, not s.kind.startswith("label:"), -(s.end - s.start)))
    out: list[DynamicSpan] = []
    for span in ordered:
        if out and span.start < out[-1].end:
            continue
        out.append(span)
    return out


_spacy_model: Any = None
_spacy_lock = threading.Lock()


def _load_spacy() -> Any:
    global _spacy_model
    with _spacy_lock:
        if _spacy_model is not None:
            return _spacy_model
        try:
            import spacy

            _spacy_model = spacy.load("en_core_web_sm", disable=["parser", "lemmatizer"])
        except Exception as exc:  # ImportError, or OSError when the model package is absent
            _warn_once("ner", f"needs spaCy and its en_core_web_sm model installed ({type(exc).__name__})")
            return None
        return _spacy_model
