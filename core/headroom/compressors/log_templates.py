"""Log template mining: which lines of a log are the same message with different values.

Two passes, both proportional to the input:

1. **Shapes.** Every whitespace-delimited token that contains a digit (numbers, ids, IPs, hex
   addresses, timestamps, paths with numbers) or is a run of 8+ hex characters becomes ``#``
   (the usual pre-processing of template miners). Lines whose masked text is equal have the
   same *shape*: they differ only in numbers, ids and addresses. Lines are first grouped by a
   key made in one C pass (digits written as ``0``), and the masking regex runs once per
   distinct key, not once per line.
2. **Templates.** Shapes (far fewer than lines) are clustered the way Drain does it: by
   token count and leading constant tokens into leaves, then joined to the most similar
   template of their leaf when the share of equal tokens reaches a threshold; positions that
   differ become ``<*>``. Here paths and qualified names (tokens with ``/`` or ``::``) count
   as variables too, so ``copying <path> -> <path>`` or ``<test id> PASSED`` lines join.

Error lines are reported per shape (finer) by the log compressor; everything else per template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

__all__ = [
    "VAR",
    "WILDCARD",
    "LineShape",
    "Template",
    "distinct_values",
    "line_keys",
    "mask_text",
    "merge_shapes",
    "shape_key",
    "shapes_of",
]

VAR = "#"
WILDCARD = "<*>"

# A token (maximal run of non-space) that contains a digit, or is a run of 8+ hex characters
# (hashes, addresses). Starting only at token starts and using classes that cannot overlap
# keeps the pass linear even on a 10 MB line.
try:  # possessive quantifiers (Python 3.11+) spare the engine useless backtracking
    _MASK = re.compile(r"(?<!\S)(?:[^\s\d]*+\d\S*+|(?:0x)?[0-9a-fA-F]{8,}+[,;:.)]?(?!\S))")
except re.error:
    _MASK = re.compile(r"(?<!\S)(?:[^\s\d]*\d\S*|(?:0x)?[0-9a-fA-F]{8,}[,;:.)]?(?!\S))")
_ZERO_DIGITS = str.maketrans("123456789", "000000000")
_MAX_CANDIDATES = 24
"""Templates of a leaf a new shape is compared with (bounds the worst case on unique lines)."""


def mask_text(text: str) -> str:
    """``text`` with every digit-bearing or long hex token replaced by ``#``.

    Line breaks are untouched, so line ``i`` of the result is the masked line ``i`` of ``text``.
    """
    return _MASK.sub(VAR, text)


@dataclass
class LineShape:
    """Lines that are equal once digit-bearing tokens are masked."""

    key: str
    members: list[int]
    """0-based line numbers, ascending."""
    sources: dict[str, int] = field(default_factory=dict)
    """The :func:`line_keys` keys of the members (lines with digits as ``0``) and how many lines each has."""


@dataclass
class Template:
    """Shapes joined because most of their tokens are equal; ``<*>`` marks positions that vary."""

    tokens: list[str]
    shapes: list[LineShape] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(s.members) for s in self.shapes)

    @property
    def first_line(self) -> int:
        return min(s.members[0] for s in self.shapes)

    @property
    def last_line(self) -> int:
        return max(s.members[-1] for s in self.shapes)

    @property
    def pattern(self) -> str:
        return " ".join(self.tokens)

    def members(self) -> list[int]:
        """All line numbers of the template, ascending."""
        if len(self.shapes) == 1:
            return self.shapes[0].members
        return sorted(i for s in self.shapes for i in s.members)


def shape_key(masked_line: str) -> str:
    """The shape of one masked line: whitespace runs as one space, no leading or trailing space."""
    if "  " in masked_line or "\t" in masked_line or masked_line[:1].isspace() or masked_line[-1:].isspace():
        return " ".join(masked_line.split())
    return masked_line


def line_keys(text: str) -> list[str]:
    """One key per line of ``text``: the line with digits 1-9 written as 0.

    Cheap (one C pass) and shape-preserving: masking a key gives the same shape as masking its
    line, since only *whether* a token holds a digit matters. Lines that differ only in digits
    share a key, so :func:`shapes_of` runs the masking regex once per distinct key, not per line.
    """
    return text.translate(_ZERO_DIGITS).splitlines()


def shapes_of(keys: Iterable[str]) -> dict[str, LineShape]:
    """Shapes (masked text, whitespace runs as one space) of lines given by :func:`line_keys`, in order of first occurrence."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        members = groups.get(key)
        if members is None:
            groups[key] = [i]
        else:
            members.append(i)
    shapes: dict[str, LineShape] = {}
    for key, members in groups.items():  # per distinct key, not per line: cheap
        norm = shape_key(mask_text(key))
        shape = shapes.get(norm)
        if shape is None:
            shapes[norm] = LineShape(norm, members, {key: len(members)})
        else:
            shape.members = sorted(shape.members + members)
            shape.sources[key] = len(members)
    return shapes


def _leaf(tokens: Sequence[str]) -> tuple[int, str, str]:
    constants = [t for t in tokens[:6] if t != VAR][:2]
    while len(constants) < 2:
        constants.append(VAR)
    return len(tokens), constants[0], constants[1]


def merge_shapes(shapes: Iterable[LineShape], similarity: float) -> list[Template]:
    """Cluster ``shapes`` into templates (Drain-like); the result is in order of first occurrence."""
    leaves: dict[tuple[int, str, str], list[Template]] = {}
    templates: list[Template] = []
    for shape in shapes:
        # A path or a qualified name (tests/x.py::test_a) names the object of a message, like a
        # number does: for joining into templates it is a variable too.
        tokens = [VAR if "/" in t or "::" in t else t for t in shape.key.split()]
        leaf = leaves.setdefault(_leaf(tokens), [])
        best: Template | None = None
        best_sim = -1.0
        n = len(tokens)
        for candidate in leaf[-_MAX_CANDIDATES:]:
            if n == 0:
                best, best_sim = candidate, 1.0
                break
            # Positions variable on both sides say nothing about the message: only constants count.
            equal = 0
            informative = 0
            for a, b in zip(candidate.tokens, tokens):
                if a == b:
                    if a != VAR:
                        equal += 1
                        informative += 1
                elif not (a == WILDCARD and b == VAR):
                    informative += 1
            sim = equal / informative if informative else 1.0
            if sim > best_sim:
                best, best_sim = candidate, sim
        if best is not None and best_sim >= similarity:
            best.tokens = [a if a == b else WILDCARD for a, b in zip(best.tokens, tokens)]
            best.shapes.append(shape)
            leaf.remove(best)
            leaf.append(best)  # most recently matched last: it is compared first next time
        else:
            template = Template(tokens, [shape])
            leaf.append(template)
            templates.append(template)
    return templates


def distinct_values(
    template: Template, lines: Sequence[str], limit: int, *, first_position: int = 0, scan_cap: int = 20_000
) -> tuple[list[tuple[int, list[str]]], int]:
    """Variable positions of ``template`` with at most ``limit`` distinct values, and the lines scanned.

    Returns ``([(token position, values in order of first occurrence)], scanned)``; positions
    whose values exceed ``limit`` (timestamps, request ids) and positions before
    ``first_position`` are left out. At most ``scan_cap`` member lines are read, so a template
    of a million lines costs a bounded amount.
    """
    positions = [i for i, t in enumerate(template.tokens) if t in (VAR, WILDCARD) and i >= first_position]
    if not positions or limit <= 0:
        return [], 0
    members = template.members()[:scan_cap]
    last = positions[-1]
    # Split only as far as the last variable position; the column loops below run in C.
    rows = [row for row in (lines[i].split(None, last + 1) for i in members) if len(row) > last]
    found = []
    for p in positions:
        values = dict.fromkeys(map(itemgetter(p), rows))
        if 1 < len(values) <= limit:
            found.append((p, list(values)))
    return found, len(members)
