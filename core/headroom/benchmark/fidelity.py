"""Checking what must survive compression: named and rare JSON records, quoted and error log lines.

A :class:`Target` is one thing a user could ask about that a compressor must keep verbatim in
the tool output. JSON targets carry the original record (an object of the main array); they
are kept when an equal JSON object appears anywhere in the JSON values the output contains.
Log targets carry one or more original lines; they are kept when any of those lines appears
verbatim in the output (one example of an error shape is enough).

The checker is deliberately independent of Headroom's compressors: it parses what the model
would read, so it measures any engine (ours, a peer, a lossless re-encoding) the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ASKED_KINDS",
    "FidelityReport",
    "Target",
    "canonical_json",
    "check_fidelity",
    "json_values_in",
]

ASKED_KINDS = frozenset({"named_record", "quoted_line"})
"""Target kinds the question names directly (the rest are what an engineer would look for)."""


@dataclass(frozen=True)
class Target:
    """One thing that must survive: a record or a set of interchangeable log lines."""

    kind: str
    """``named_record``, ``rare_record``, ``quoted_line``, ``error_shape`` or ``alert_shape``."""
    label: str
    """Human-readable identification, shown when the target is missing."""
    record: Any = None
    """For record targets: the original JSON object that must appear unchanged."""
    lines: tuple[str, ...] = ()
    """For line targets: original lines; any one of them present verbatim keeps the target."""

    @property
    def asked(self) -> bool:
        """True when the question itself names this target."""
        return self.kind in ASKED_KINDS


@dataclass(frozen=True)
class FidelityReport:
    """How many targets of one output were kept, and which were not."""

    total: int
    kept: int
    asked_total: int
    asked_kept: int
    missing: tuple[str, ...] = ()

    @property
    def ratio(self) -> float:
        """Fraction of targets kept (1.0 when there was nothing to keep)."""
        return self.kept / self.total if self.total else 1.0

    @property
    def complete(self) -> bool:
        """True when every target was kept."""
        return self.kept == self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "kept": self.kept,
            "asked_total": self.asked_total,
            "asked_kept": self.asked_kept,
            "missing": list(self.missing),
        }


def _same_number_same_type(value: Any) -> Any:
    """``value`` with integral floats as ints: JSON has one number type, so ``1.0`` equals ``1``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _same_number_same_type(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_same_number_same_type(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """A text of a JSON value independent of key order and number spelling (``1.0`` vs ``1``).

    Equal texts mean equal JSON values, however they were re-serialised.
    """
    return json.dumps(_same_number_same_type(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_DECODER = json.JSONDecoder()


def json_values_in(text: str) -> list[Any]:
    """Every JSON object or array found in ``text``, outermost first.

    The whole text is tried first; otherwise each ``{`` or ``[`` that starts a parseable value
    contributes that value and scanning resumes after it. This finds records in outputs that
    wrap JSON in prose, append markers after it, or embed several JSON fragments.
    """
    stripped = text.strip()
    if not stripped:
        return []
    try:
        return [json.loads(stripped)]
    except (ValueError, RecursionError):
        pass
    values: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        brace, bracket = text.find("{", i), text.find("[", i)
        starts = [p for p in (brace, bracket) if p != -1]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            i = start + 1
            continue
        if isinstance(value, (dict, list)):
            values.append(value)
        i = max(end, start + 1)
    return values


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object nested anywhere in ``value`` (iteratively: outputs may nest deeply)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _records_present(targets: Sequence[Target], values: Iterable[Any]) -> set[str]:
    """Canonical texts of the target records that appear among ``values``."""
    wanted = {canonical_json(t.record) for t in targets}
    shapes = {frozenset(t.record) for t in targets if isinstance(t.record, dict)}
    found: set[str] = set()
    for value in values:
        for obj in _objects(value):
            if frozenset(obj) in shapes:
                text = canonical_json(obj)
                if text in wanted:
                    found.add(text)
    return found


def check_fidelity(targets: Sequence[Target], text: str, *, decoded: Sequence[Any] = ()) -> FidelityReport:
    """Which ``targets`` survive in ``text``, the tool output a model would read.

    ``decoded`` adds JSON values obtained another way (for example by decoding a lossless
    re-encoding such as TOON), searched for records besides the JSON found in ``text``.

        >>> t = Target("named_record", "run 7", record={"id": 7, "status": "failed"})
        >>> check_fidelity([t], '[{"status": "failed", "id": 7}]').complete
        True
    """
    record_targets = [t for t in targets if t.record is not None]
    found: set[str] = set()
    if record_targets:
        found = _records_present(record_targets, [*json_values_in(text), *decoded])
    missing: list[str] = []
    kept = asked_total = asked_kept = 0
    for target in targets:
        if target.record is not None:
            ok = canonical_json(target.record) in found
        else:
            ok = any(line and line in text for line in target.lines)
        kept += ok
        asked_total += target.asked
        asked_kept += ok and target.asked
        if not ok:
            missing.append(f"{target.kind}: {target.label}")
    return FidelityReport(
        total=len(targets), kept=kept, asked_total=asked_total, asked_kept=asked_kept, missing=tuple(missing)
    )
