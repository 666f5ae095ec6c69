"""What must survive in a log tool output, and the question that quotes a line.

- The question quotes one line from the middle of the log; that line must stay verbatim. The
  same question is also asked without its quotation marks (the line pasted as plain text).
- Every distinct *shape* of error, fatal, severe or exception line must keep at least one
  verbatim example. Two lines have the same shape when they differ only in numbers, ids,
  addresses or hex strings: each whitespace-separated token holding a digit, or a run of 8+
  hex characters, becomes ``<*>`` (the usual pre-processing of template miners such as Drain).
- So must every shape of a line that reports a problem in other words: failed, unable,
  cannot, refused, denied, timed out, warning, panic, killed, ... (``problem_shape``; lines
  already counted as errors are not counted again).
- In labelled logs (BGL: the first column is ``-`` for a normal line, anything else marks an
  alert) every shape of alert line must keep at least one verbatim example too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from headroom.benchmark.fidelity import Target

__all__ = ["LogTargets", "is_error_line", "is_problem_line", "line_shape", "log_targets"]

# Applied to lower-cased lines: a case-insensitive pattern would make the engine scan slowly.
_ERROR = re.compile(r"error|fatal|severe|exception")
_PROBLEM = re.compile(
    r"fail|unable|cannot|can't|could not|couldn't|refus|denied|timeout|timed out|warn|traceback|panic|abort|"
    r"critical|segfault|killed|unreachable|rejected|not permitted|out of memory"
)
_DIGIT = re.compile(r"\d")
_HEX = re.compile(r"^(0x)?[0-9a-fA-F]{8,}[,;:.)]?$")
_MIN_QUOTED = 20


@dataclass(frozen=True)
class LogTargets:
    """The question for one log and the lines that must survive."""

    question: str
    targets: tuple[Target, ...]
    lines: int
    error_lines: int
    alert_lines: int
    plain_question: str = ""
    """The question with its quotation marks removed (the line pasted as plain text)."""
    problem_lines: int = 0


def is_error_line(line: str) -> bool:
    """True for a line mentioning an error, fatal, severe or exception (any case, any word form)."""
    return _ERROR.search(line.lower()) is not None


def is_problem_line(line: str) -> bool:
    """True for a line reporting a problem in other words: failed, unable, denied, timed out, warning, ..."""
    return _PROBLEM.search(line.lower()) is not None


def line_shape(line: str) -> str:
    """The line with variable tokens (numbers, ids, addresses, hex) replaced by ``<*>``."""
    return " ".join("<*>" if _DIGIT.search(tok) or _HEX.match(tok) else tok for tok in line.split())


def _is_labelled(lines: list[str]) -> bool:
    """True for BGL-style logs whose first column is ``-`` on most (normal) lines."""
    return bool(lines) and sum(1 for line in lines if line.startswith("- ")) >= 0.5 * len(lines)


def _quoted_line(lines: list[str]) -> int | None:
    """Index of a substantive line nearest the middle (looking forward first)."""
    n = len(lines)
    for offset in range(n):
        for i in (n // 2 + offset, n // 2 - offset):
            if 0 <= i < n and len(lines[i]) >= _MIN_QUOTED:
                return i
    return None


def _shape_targets(kind: str, lines: list[str]) -> list[Target]:
    groups: dict[str, list[str]] = {}
    for line in lines:
        groups.setdefault(line_shape(line), []).append(line)
    return [
        Target(kind, f"{shape[:160]} ({len(examples)} lines)", lines=tuple(dict.fromkeys(examples)))
        for shape, examples in groups.items()
    ]


def log_targets(text: str) -> LogTargets:
    """The question and must-keep lines of one log (see module docs)."""
    lines = [line.strip() for line in text.splitlines()]
    targets: list[Target] = []
    q = _quoted_line(lines)
    if q is None:
        question = plain = "What went wrong in this log?"
    else:
        asked = "What caused this log line, and what happened around it?"
        question, plain = f'{asked} "{lines[q]}"', f"{asked} {lines[q]}"
        targets.append(Target("quoted_line", f"line {q + 1}: {lines[q][:160]}", lines=(lines[q],)))
    lines = [line for line in lines if line]
    low = [line.lower() for line in lines]
    error_flags = [_ERROR.search(line) is not None for line in low]
    errors = [line for line, flag in zip(lines, error_flags) if flag]
    targets.extend(_shape_targets("error_shape", errors))
    problems = [line for line, lowered, flag in zip(lines, low, error_flags) if not flag and _PROBLEM.search(lowered)]
    targets.extend(_shape_targets("problem_shape", problems))
    alerts = [line for line in lines if not line.startswith("- ")] if _is_labelled(lines) else []
    targets.extend(_shape_targets("alert_shape", alerts))
    return LogTargets(question, tuple(targets), len(lines), len(errors), len(alerts), plain, len(problems))
