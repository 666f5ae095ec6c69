"""A user's question, parsed once into what can be matched in a tool output.

People type questions in plain words: "When was libc-bin upgraded?", "any errors from gmetad?",
"what happened to node 17?". Nothing there is quoted and only one word holds a digit, yet each
names what the reader needs. A question is read into:

- **terms**: its content words (stop words and question fillers removed), compound tokens and
  their parts, in order, as :func:`headroom.relevance.query_terms` has always returned them;
- **identifiers**: text that names one thing: quoted text, tokens with a digit (ids, IPs,
  versions), compound names joined by ``- _ . / : @`` (``libc-bin``, ``src/github/Issue.py``)
  and words with an inner capital (``AudioManager``);
- **matchers**: one compiled pattern per term, matching the term as a whole word of lower-case
  text in its inflected forms (``upgraded`` finds ``upgrade``, ``errors`` finds ``error``,
  ``failed`` finds ``failure``; the parts of a compound name only as written), plus one per
  *phrase*: two adjacent content words written together in any of the ways tool outputs join
  them (``node 17`` finds ``node-17``, ``node17``, ``node_17``; ``data source`` finds
  ``data source`` and ``data_source``);
- **asks_for_problems**: whether it asks for errors, failures, warnings or alerts.

Parsing is remembered per question text, so every compressor of every tool output one question
led to shares one parse. The patterns start with a literal, so Python's regex engine scans for
them at the speed of a substring search; the whole-word check sits in a look-behind after it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["QUOTED", "STOP_WORDS", "WORD", "Matcher", "Question", "parse_question", "word_forms_pattern"]

WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-./:@#]*[A-Za-z0-9_]|[A-Za-z0-9_]")
"""A token: word characters, possibly joined by ``- . / : @ #`` inside (never at its ends)."""
_COMPOUND_SPLIT = re.compile(r"[-./:@#_]+")
QUOTED = re.compile(r"(?<![A-Za-z0-9])[\"'`]([^\"'`]{3,200})[\"'`](?![A-Za-z0-9])")
"""Quoted text: a quotation mark that no letter or digit touches on its outer side opens and closes it."""
_RAW_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-./:@#]*")
_INNER_CAPITAL = re.compile(r"[a-z][A-Z]")

_STOP_TEXT = """
    a about after again ago all am an and any anything are around as at be been before being both by
    can could did do does doing done during each either else ever every everything explain find first
    for from get give go going had has have having he her here him his how i if in into is it its just
    know last latest let like list look looking may me might more most much must my need neither no nor
    not now of on once only or other our out over please recent recently see seen shall she should show
    since so some something such summarise summarize tell than that the their them then there these they
    thing things this those through to too under until up us very want was way we went were what when
    where whether which while who whom whose why will with would wrong you your
    caused happen happened happening happens
    entries entry line lines log logs output
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
"""Words that name nothing in a tool output: function words, question fillers, and words about the
output itself ("this log line"). Matching them would only add noise."""

_PROBLEM_WORDS = re.compile(
    r"^(?:errors?|fail(?:s|ed|ure|ures|ing)?|warn(?:s|ed|ing|ings)?|alerts?|alarms?|problems?|issues?|"
    r"crash(?:es|ed)?|exceptions?|faults?|broken|trouble)$"
)
_ENDINGS = ("", "s", "es", "e", "ed", "d", "ing", "ings", "er", "ers", "ure", "ures")
_Y_ENDINGS = ("y", "ys", "ies", "ied", "ying", "yed", "yer")
_VOWELS = frozenset("aeiouy")
_NO_DOUBLING = frozenset("lsz")
_MAX_PHRASES = 8


@dataclass(frozen=True)
class Matcher:
    """One term or phrase of a question and the pattern that finds it in lower-case text."""

    text: str
    """The term as asked (``upgraded``, ``libc-bin``) or the phrase (``node 17``)."""
    pattern: re.Pattern[str]
    """Matches whole words of lower-case text (ASCII word boundaries); literal first, so scans are fast."""
    phrase: bool = False

    @property
    def needs_words(self) -> tuple[str, ...]:
        """Terms that occur as whole words wherever this phrase occurs (absent terms rule it out)."""
        if not self.phrase:
            return ()
        first, second = self.text.split(" ")
        return () if second.isdigit() else (first, second)  # "node17" holds neither as a word


@dataclass(frozen=True)
class Question:
    """What a question names, parsed once (see the module documentation)."""

    text: str
    terms: tuple[str, ...]
    identifiers: tuple[str, ...]
    matchers: tuple[Matcher, ...]
    """One per term (same order), then one per phrase."""
    asks_for_problems: bool

    @property
    def phrases(self) -> tuple[Matcher, ...]:
        """The multi-word names: adjacent content words, matched however a tool output joins them."""
        return tuple(m for m in self.matchers if m.phrase)

    @property
    def words(self) -> tuple[Matcher, ...]:
        """The single terms (content words, numbers, compounds)."""
        return tuple(m for m in self.matchers if not m.phrase)

    def __bool__(self) -> bool:
        return bool(self.terms or self.identifiers)


def _stem(word: str) -> tuple[str, tuple[str, ...]]:
    """``word``'s stem and the endings its other forms may add (always including its own)."""
    if not word.isalpha() or len(word) < 4:
        return word, ("", "s") if word.isalpha() else ("",)
    stem = word
    if stem.endswith("ies") or stem.endswith("ied"):
        base = stem[:-3]
        return base, (*_Y_ENDINGS, word[len(base) :])
    if stem.endswith("y") and stem[-2] not in _VOWELS:
        return stem[:-1], _Y_ENDINGS
    if stem.endswith("s") and not stem.endswith(("ss", "us", "is")):
        stem = stem[:-2] if stem.endswith("es") and len(stem) >= 6 else stem[:-1]
    for suffix in ("ing", "ed", "ure", "e"):
        if stem.endswith(suffix) and len(stem) - len(suffix) >= 3 and (suffix != "e" or len(stem) >= 5):
            stem = stem[: -len(suffix)]
            if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS | _NO_DOUBLING:
                stem = stem[:-1]  # stopped -> stop, running -> run
            break
    endings = list(_ENDINGS)
    if stem[-1] not in _VOWELS:
        endings += [stem[-1] + e for e in ("ed", "ing", "er", "ers")]
    own = word[len(stem) :]
    if own not in endings:
        endings.append(own)
    return stem, tuple(endings)


def word_forms_pattern(word: str) -> re.Pattern[str]:
    """A pattern for ``word`` (lower case) as a whole word of lower-case text, in its inflected forms.

    ``upgraded`` matches ``upgrade``, ``upgrades``, ``upgraded``, ``upgrading``; tokens with
    digits or punctuation (``libc-bin``, ``17``) match only as written. A form is whole when no
    ASCII letter, digit or underscore touches it on either side.

        >>> bool(word_forms_pattern("upgraded").search("upgrade libc-bin:amd64"))
        True
        >>> bool(word_forms_pattern("id").search("node_id"))
        False
    """
    return _compiled_forms(word)


@functools.lru_cache(maxsize=2048)
def _compiled_forms(word: str) -> re.Pattern[str]:
    stem, endings = _stem(word)
    lit = re.escape(stem)
    tail = "(?:" + "|".join(re.escape(e) for e in sorted(set(endings), key=len, reverse=True) if e) + ")?"
    if tail == "(?:)?":
        tail = ""
    # Literal first: the engine then finds candidates with a fast substring search; the
    # look-behind (fixed width: the stem and one character before it) checks the left boundary.
    return re.compile(lit + r"(?<![a-z0-9_]" + lit + r")" + tail + r"(?![a-z0-9_])", re.ASCII)


@functools.lru_cache(maxsize=2048)
def _exact_pattern(token: str) -> re.Pattern[str]:
    lit = re.escape(token)
    return re.compile(lit + r"(?<![a-z0-9_]" + lit + r")(?![a-z0-9_])", re.ASCII)


def _phrase_pattern(first: str, second: str) -> re.Pattern[str]:
    """``first`` and ``second`` joined by a space or ``_ . - / :``; directly too when ``second`` is a number."""
    a, b = re.escape(first), re.escape(second)
    joiner = "[ _.\\-/:]" + ("?" if second.isdigit() else "")
    return re.compile(a + r"(?<![a-z0-9_]" + a + r")" + joiner + b + r"(?![a-z0-9_])", re.ASCII)


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Lower-case tokens, each with whether it is a part of a compound token (which yields its parts too)."""
    out: list[tuple[str, bool]] = []
    for m in WORD.finditer(text.lower()):
        tok = m.group(0)
        out.append((tok, False))
        if len(tok) > 2 and any(c in tok for c in "-./:@#_"):
            out.extend((p, True) for p in _COMPOUND_SPLIT.split(tok) if p and p != tok)
    return out


def _is_compound_name(token: str) -> bool:
    parts = [p for p in _COMPOUND_SPLIT.split(token) if p]
    return len(parts) >= 2 and all(len(p) >= 2 for p in parts) and any(c.isalpha() for c in token)


def _identifiers(text: str) -> tuple[str, ...]:
    ids: dict[str, None] = {}
    for quoted in QUOTED.findall(text):
        ids.setdefault(quoted, None)
    for m in _RAW_TOKEN.finditer(text):
        tok = m.group(0).rstrip(".:")
        if len(tok) < 3:
            continue
        if any(c.isdigit() for c in tok) or _is_compound_name(tok) or _INNER_CAPITAL.search(tok):
            ids.setdefault(tok, None)
    return tuple(ids)


def _phrases(text: str) -> list[tuple[str, str]]:
    """Adjacent content words separated only by spaces, in order (at most a few)."""
    pairs: dict[tuple[str, str], None] = {}
    low = text.lower()
    previous: re.Match[str] | None = None
    for m in WORD.finditer(low):
        if previous is not None and previous.end() < m.start() and not low[previous.end() : m.start()].strip():
            a, b = previous.group(0), m.group(0)
            if a not in STOP_WORDS and b not in STOP_WORDS and len(a) > 1 and len(b) > 1:
                pairs.setdefault((a, b), None)
                if len(pairs) >= _MAX_PHRASES:
                    break
        previous = m
    return list(pairs)


@functools.lru_cache(maxsize=256)
def parse_question(text: str) -> Question:
    """The parsed question (remembered per text: one question is read by every compressor it reaches)."""
    seen: dict[str, bool] = {}
    for tok, part in _tokens(text):
        if tok not in STOP_WORDS and len(tok) > 1:
            seen[tok] = seen.get(tok, True) and part
    terms = tuple(seen)
    # A part of a name ("issue" of src/github/Issue.py) is matched as written, a word in its forms.
    matchers = [Matcher(t, _exact_pattern(t) if part else word_forms_pattern(t)) for t, part in seen.items()]
    matchers += [Matcher(f"{a} {b}", _phrase_pattern(a, b), phrase=True) for a, b in _phrases(text)]
    return Question(
        text=text,
        terms=terms,
        identifiers=_identifiers(text),
        matchers=tuple(matchers),
        asks_for_problems=any(_PROBLEM_WORDS.match(t) for t in terms),
    )
