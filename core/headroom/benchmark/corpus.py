"""Benchmark cases: each file of a corpus directory becomes a realistic tool call.

A case is three OpenAI-format messages: the user's question, the assistant's tool call and
the tool message carrying the file's content. For a corpus JSON file (``{"source": ..,
"body": ..}``, a recorded GitHub API response) the content is ``json.dumps(body)``, the bytes
an API returns, not the wrapper; any other JSON file is used whole. ``.log`` files are used as
text. The question and what must survive come from :mod:`json_targets` / :mod:`log_targets`.
Every case can also be asked as typed without quotation marks (:meth:`BenchCase.unquoted`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headroom.benchmark.fidelity import Target
from headroom.benchmark.json_targets import json_targets
from headroom.benchmark.log_targets import log_targets

__all__ = [
    "AS_WRITTEN",
    "KINDS",
    "UNQUOTED",
    "BenchCase",
    "case_from_json",
    "case_from_log",
    "default_samples_dir",
    "load_cases",
]

KINDS = ("json", "log")
AS_WRITTEN = "as written"
UNQUOTED = "unquoted"
"""The two ways each question is asked: as written (names quoted) and with its quotation marks removed."""
_CALL_ID = "call_bench_1"
_REQUEST = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/\S*)")


@dataclass(frozen=True)
class BenchCase:
    """One file turned into a tool call, with the question and the targets that must survive."""

    name: str
    """Path relative to the corpus directory, e.g. ``json/Search.testSearchRepos.118.json``."""
    kind: str
    """``json`` or ``log``."""
    content: str
    """The tool message content (what the tool returned)."""
    question: str
    targets: tuple[Target, ...]
    tool_name: str
    tool_arguments: str
    minified: str | None = None
    """For JSON: ``json.dumps(body, separators=(",", ":"))``, the lossless baseline."""
    body: Any = None
    """For JSON: the parsed body (for encoders of other formats, such as TOON)."""
    plain_question: str = ""
    """The question with its quotation marks removed (empty: the same as ``question``)."""
    variant: str = AS_WRITTEN
    """Which way the question is asked: :data:`AS_WRITTEN` or :data:`UNQUOTED`."""

    def unquoted(self) -> BenchCase:
        """This case asked with the question's quotation marks removed (same file, same targets)."""
        return dataclasses.replace(self, question=self.plain_question or self.question, variant=UNQUOTED)

    @property
    def size_bytes(self) -> int:
        """UTF-8 size of the tool content (the input a compressor reads)."""
        return len(self.content.encode("utf-8", "surrogatepass"))

    def messages(self, content: str | None = None) -> list[dict[str, Any]]:
        """The tool-call conversation, with ``content`` (default: the original) as the tool result."""
        return [
            {"role": "user", "content": self.question},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": _CALL_ID,
                        "type": "function",
                        "function": {"name": self.tool_name, "arguments": self.tool_arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": _CALL_ID, "content": self.content if content is None else content},
        ]


def case_from_json(name: str, raw: str) -> BenchCase:
    """A case from the text of a JSON file (a corpus wrapper ``{"source", "body"}`` or plain JSON)."""
    data = json.loads(raw)
    source = ""
    if isinstance(data, dict) and "body" in data and "source" in data:
        source, body = str(data["source"]), data["body"]
    else:
        body = data
    found = _REQUEST.search(source)
    if found:
        tool, args = "github_api", {"method": found.group(1), "path": found.group(2)}
    else:
        tool, args = "read_json", {"path": name}
    targets = json_targets(body)
    return BenchCase(
        name=name,
        kind="json",
        content=json.dumps(body),
        question=targets.question,
        targets=targets.targets,
        tool_name=tool,
        tool_arguments=json.dumps(args),
        minified=json.dumps(body, separators=(",", ":")),
        body=body,
        plain_question=targets.plain_question,
    )


def case_from_log(name: str, text: str) -> BenchCase:
    """A case from the text of a log file."""
    targets = log_targets(text)
    return BenchCase(
        name=name,
        kind="log",
        content=text,
        question=targets.question,
        targets=targets.targets,
        tool_name="fetch_logs",
        tool_arguments=json.dumps({"path": name}),
        plain_question=targets.plain_question,
    )


def default_samples_dir() -> Path:
    """The real sample files bundled with Headroom (``headroom/samples``)."""
    return Path(__file__).resolve().parent.parent / "samples"


def load_cases(directory: Path, *, kinds: tuple[str, ...] = KINDS) -> tuple[list[BenchCase], list[str]]:
    """Cases for every ``*.json`` and ``*.log`` file under ``directory`` (sorted by path).

    Returns the cases and, for files that could not be used (unparseable JSON, unreadable
    file), one line saying which and why; a bad file never stops the benchmark.
    """
    cases: list[BenchCase] = []
    skipped: list[str] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        kind = {".json": "json", ".log": "log"}.get(suffix)
        if kind is None or kind not in kinds:
            continue
        name = path.relative_to(directory).as_posix()
        try:
            text = path.read_bytes().decode("utf-8", "replace")
            cases.append(case_from_json(name, text) if kind == "json" else case_from_log(name, text))
        except (OSError, ValueError, RecursionError) as exc:
            skipped.append(f"{name}: {type(exc).__name__}: {exc}")
    return cases, skipped
