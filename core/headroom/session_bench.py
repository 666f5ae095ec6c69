"""The session benchmark: a multi-turn agent over the real corpus, compressed request by request.

An agent loop re-sends its whole history every turn. This benchmark builds such a session from
``../shared/corpus`` (GitHub API responses and loghub logs read through tools), compresses the
request of every turn with :func:`headroom.compress`, and reports per turn: tokens before and
after, the expected provider-cached tokens, and the time spent on content, split between tool
outputs seen in an earlier turn (answered from the content-hash result cache) and new ones.

    >>> from pathlib import Path
    >>> report = run_session_bench(Path("../shared/corpus"), turns=20)  # doctest: +SKIP
    >>> print(report.format_table())                                     # doctest: +SKIP

:func:`build_agent_session` is the session itself, reused by the conversation tests.
"""

from __future__ import annotations

import gc
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "SessionBenchReport",
    "SessionTurn",
    "SessionTurnRow",
    "build_agent_session",
    "build_records_session",
    "conversation_until",
    "records_session_files",
    "run_session_bench",
]

SYSTEM_PROMPT = (
    "You are a release engineer's assistant with read access to a GitHub organisation's API and to the "
    "system logs of its clusters. Use the tools to look things up; answer with the exact ids, numbers and "
    "log lines you found. Tools: github_api(resource) returns the JSON the API returned; "
    "get_record(resource, key, value) returns one record of it; read_log(file, start, end) returns log "
    "lines; grep_log(file, pattern) returns the lines that contain the pattern."
)

# Resources an agent lists (large JSON arrays), in the order the session visits them.
_JSON = [
    "PaginatedList.testGetFirstPage.71.json",
    "Repository.testGetCommits.89.json",
    "Github.testGetEvents.41.json",
    "Search.testSearchUsers.120.json",
    "PaginatedList.testGetThirdPage.72.json",
    "Repository.testGetIssuesWithArguments.103.json",
    "Search.testSearchCommits.116.json",
    "NamedUser.testGetPublicEvents.63.json",
    "PaginatedList.testInterruptedIteration.75.json",
    "Github.testGetUsersSince.53.json",
    "NamedUser.testGetReposWithAllArgs.66.json",
    "Repository.testGetCommitsWithSinceUntil.92.json",
    "PaginatedList.testSliceIndexingUntilFourthPage.80.json",
    "AuthenticatedUser.testGetEvents.13.json",
    "Search.testPaginateSearchUsers.113.json",
    "NamedUser.testGetPublicReceivedEvents.64.json",
    "PaginatedList.testReversedIterationWithMultiplePages.78.json",
    "Issue.testGetTimeline.57.json",
]
_LOGS = [
    "HDFS_2k.log",
    "BGL_2k.log",
    "OpenSSH_2k.log",
    "Hadoop_2k.log",
    "Spark_2k.log",
    "Zookeeper_2k.log",
    "Apache_2k.log",
    "Linux_2k.log",
    "OpenStack_2k.log",
    "Thunderbird_2k.log",
]
_CHUNK = 120


@dataclass(frozen=True)
class SessionTurn:
    """One user turn of the agent session."""

    question: str
    needles: tuple[str, ...]
    """What the question names (an id, a sha, a log token), verbatim in the tool output that answers it."""
    messages: tuple[dict[str, Any], ...]
    """The user question, the assistant tool calls and the tool results, in order."""
    answer: dict[str, Any]
    """The assistant's final answer (part of the history of later turns)."""

    @property
    def tool_outputs(self) -> int:
        return sum(1 for m in self.messages if m.get("role") == "tool")


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        body = max((v for v in body.values() if isinstance(v, list)), key=len, default=[])
    return [x for x in body if isinstance(x, dict)] if isinstance(body, list) else []


def _identifier(item: dict[str, Any]) -> tuple[str, str]:
    for key in ("number", "sha", "id"):
        if len(str(item.get(key) or "")) >= 4:  # short numbers (#3) occur everywhere in a listing
            return key, str(item[key])
    return "login", str(item.get("login", ""))


def _log_needle(lines: list[str], log: str) -> str:
    """A token of one line that occurs nowhere else in ``lines`` (an alert line for BGL)."""
    counts = Counter(tok for line in lines for tok in set(line.split()))
    order = list(range(len(lines) * 2 // 3, len(lines))) + list(range(len(lines) * 2 // 3))
    if log.startswith("BGL"):
        alerts = [i for i, line in enumerate(lines) if not line.startswith("- ")]
        order = alerts + order
    for i in order:
        for raw in lines[i].split():
            tok = raw.strip(".,;:()[]<>'\"")
            distinctive = len(tok) >= 6 and any(c.isdigit() for c in tok) and not tok.replace(".", "").isdigit()
            if counts[raw] == 1 and distinctive and sum(tok in line for line in lines) == 1:
                return tok
    line = lines[len(lines) * 2 // 3]
    return line[: max(24, len(line) // 2)]


class _Builder:
    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self.calls = 0
        self.lookups = 0

    def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {
            "id": f"call_{self.calls:03d}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args, sort_keys=True)},
        }

    def json_lookup(self, n: int) -> tuple[str, list[str], dict[str, Any], str]:
        resource = _JSON[self.lookups % len(_JSON)]
        self.lookups += 1
        body = json.loads((self.corpus / "json" / resource).read_text(encoding="utf-8"))["body"]
        items = _items(body)
        item = items[(len(items) * (3 + n % 4)) // 8]
        key, value = _identifier(item)
        label = f"#{value}" if key == "number" else f"{key} {value}"
        return resource, [value], item, label

    def log_chunk(self, n: int) -> tuple[str, int, list[str], str]:
        log = _LOGS[n % len(_LOGS)]
        lines = (self.corpus / "logs" / log).read_text(encoding="utf-8", errors="replace").splitlines()
        start = (n * 397) % (len(lines) - _CHUNK)
        chunk = lines[start : start + _CHUNK]
        return log, start + 1, chunk, _log_needle(chunk, log)

    def turn(self, n: int, targeted: bool) -> SessionTurn:
        calls: list[list[tuple[dict[str, Any], str]]] = []  # one list per assistant tool-call message
        needles: list[str] = []
        if targeted and n % 2 == 0:
            resource, values, item, label = self.json_lookup(n)
            key = label.split()[0].lstrip("#") if not label.startswith("#") else "number"
            question = f"In {resource.split('.')[1]}, show me the record {label} exactly as the API has it."
            calls.append(
                [
                    (
                        self.call("get_record", {"resource": resource, "key": key, "value": values[0]}),
                        json.dumps(item, indent=1),
                    )
                ]
            )
            needles += values
        elif targeted:
            log, _start, _chunk, needle = self.log_chunk(n)
            lines = (self.corpus / "logs" / log).read_text(encoding="utf-8", errors="replace").splitlines()
            hits = [line for line in lines if needle in line][:40]
            question = f"Which lines of {log} mention {needle}?"
            calls.append([(self.call("grep_log", {"file": log, "pattern": needle}), "\n".join(hits))])
            needles.append(needle)
        else:
            kind = n % 4
            parts = []
            if kind in (0, 2, 3):
                resource, values, item, label = self.json_lookup(n)
                raw = (self.corpus / "json" / resource).read_text(encoding="utf-8")
                body = json.dumps(json.loads(raw)["body"], indent=1)
                parts.append(f"the record {label} in {resource.split('.')[1]}")
                calls.append([(self.call("github_api", {"resource": resource}), body)])
                needles += values
            if kind in (1, 2):
                log, start, chunk, needle = self.log_chunk(n)
                parts.append(f"what {log} says at the line with {needle}")
                call = (
                    self.call("read_log", {"file": log, "start": start, "end": start + _CHUNK - 1}),
                    "\n".join(chunk),
                )
                if kind == 2:
                    calls[-1].append(call)  # parallel tool calls in one assistant message
                else:
                    calls.append([call])
                needles.append(needle)
            if kind == 3:
                key = "number" if label.startswith("#") else label.split()[0]
                calls.append(
                    [
                        (
                            self.call("get_record", {"resource": resource, "key": key, "value": values[0]}),
                            json.dumps(item, indent=1),
                        )
                    ]
                )
            question = "Find " + " and ".join(parts) + "."
        messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        for group in calls:
            messages.append({"role": "assistant", "content": None, "tool_calls": [c for c, _ in group]})
            messages += [{"role": "tool", "tool_call_id": c["id"], "content": out} for c, out in group]
        answer = {
            "role": "assistant",
            "content": f"Here is what I found for: {question[:-1]}. See the tool output above.",
        }
        return SessionTurn(question, tuple(needles), tuple(messages), answer)


def build_agent_session(corpus_dir: Path, turns: int = 20, *, targeted_last: int = 2) -> list[SessionTurn]:
    """A deterministic agent session over the corpus: ``turns`` user turns, each with tool calls.

    Earlier turns list whole API resources and read 120-line log chunks (sometimes two tools in
    parallel, sometimes a follow-up call); the last ``targeted_last`` turns ask for one record or
    grep one log, as an agent narrowing down does.
    """
    builder = _Builder(Path(corpus_dir))
    return [builder.turn(n, targeted=n >= turns - targeted_last) for n in range(turns)]


_ASKABLE = ("state", "conclusion", "status", "type", "login", "name", "event", "author_association", "language")


def records_session_files(json_dir: Path, count: int = 24) -> list[Path]:
    """The ``count`` largest API responses of ``json_dir`` that list records (arrays of at least 5 objects)."""
    found = []
    for path in sorted(Path(json_dir).glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))["body"]
        if len(_items(body)) >= 5:
            found.append((-len(json.dumps(body, indent=2)), path.name, path))
    return [p for _, _, p in sorted(found)[:count]]


def _record_identifier(item: dict[str, Any]) -> tuple[str, str]:
    """An identifier of a record: its number, sha or id, else one of a nested object (a contributor's author), else a login."""
    key, value = _identifier(item)
    if value:
        return key, value
    for inner in item.values():
        if isinstance(inner, dict):
            key, value = _identifier(inner)
            if value:
                return key, value
    for name, inner in item.items():
        if name.endswith("login") and isinstance(inner, str) and inner:
            return "login", inner
    return "", ""


def _askable(item: dict[str, Any]) -> list[str]:
    return [k for k in _ASKABLE if isinstance(item.get(k), (str, int, bool)) and len(json.dumps(item[k])) <= 60]


def build_records_session(json_files: list[Path], turns: int = 24) -> list[SessionTurn]:
    """An agent session over real API responses: each turn lists one resource and asks about two of its records.

    Every question names two records by their identifier (a number, a sha or an id) and asks for
    fields they hold; the tool output is the whole response (pretty-printed, as APIs return it);
    the answer is short and repeats no value, so what the model can still see of a record is what
    the prompt keeps of the tool output. ``needles`` are the two identifiers.
    """
    builder = _Builder(Path("."))
    out: list[SessionTurn] = []
    for t in range(turns):
        path = json_files[t % len(json_files)]
        body = json.loads(path.read_text(encoding="utf-8"))["body"]
        items = _items(body)
        n = len(items)
        labels: list[str] = []
        needles: list[str] = []
        asked: list[str] = []
        for start in ((t * 7 + 3 + t // len(json_files)) % n, (t * 11 + n // 2) % n):
            for i in [*range(start, n), *range(start)]:
                key, value = _record_identifier(items[i])
                if value and value not in needles:
                    labels.append(f"#{value}" if key == "number" else f"the {key.replace('_', ' ')} {value}")
                    needles.append(value)
                    asked += [k for k in _askable(items[i]) if k not in asked]
                    break
        resource = path.name.rsplit(".", 2)[0]
        fields = " and ".join(asked[:2]) or "details"
        verb = "is" if len(asked) == 1 else "are"
        question = f"In the {resource} listing, what {verb} the {fields} of {' and '.join(labels)}?"
        call = builder.call("github_api", {"resource": resource})
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(body, indent=2)},
        ]
        answer = {
            "role": "assistant",
            "content": f"Both records are in the {resource} listing; their {fields} are above.",
        }
        out.append(SessionTurn(question, tuple(needles), tuple(messages), answer))
    return out


def conversation_until(session: list[SessionTurn], turn: int, *, system: str = SYSTEM_PROMPT) -> list[dict[str, Any]]:
    """The request of ``turn`` (0-based): the system prompt, earlier turns with answers, this turn's tool results."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for t in session[:turn]:
        messages += [dict(m) for m in t.messages] + [dict(t.answer)]
    messages += [dict(m) for m in session[turn].messages]
    return messages


@dataclass(frozen=True)
class SessionTurnRow:
    """What compressing one turn's request cost and saved."""

    turn: int
    messages: int
    tool_outputs: int
    seen_outputs: int
    """Tool outputs of earlier turns (already compressed once)."""
    cache_hits: int
    tokens_before: int
    tokens_after: int
    cached_tokens: int
    total_ms: float
    seen_ms: float
    """Content-stage time spent on tool outputs of earlier turns."""
    new_ms: float
    cold_ms: float | None = None
    """The same request compressed with an empty result cache (what re-crushing everything costs)."""
    cost_before_usd: float | None = None
    cost_after_usd: float | None = None
    """Input cost of the compressed request, cached tokens at the cached-input price."""

    @property
    def seen_ms_per_output(self) -> float:
        return self.seen_ms / self.seen_outputs if self.seen_outputs else 0.0


@dataclass(frozen=True)
class SessionBenchReport:
    """Per-turn figures of a session benchmark run."""

    model: str
    optimization_mode: str
    rows: tuple[SessionTurnRow, ...] = field(default_factory=tuple)

    @property
    def cumulative_ms(self) -> float:
        return sum(r.total_ms for r in self.rows)

    @property
    def cumulative_cold_ms(self) -> float | None:
        colds = [r.cold_ms for r in self.rows]
        return None if any(c is None for c in colds) else sum(c for c in colds if c is not None)

    @property
    def max_seen_ms_per_output(self) -> float:
        return max((r.seen_ms_per_output for r in self.rows), default=0.0)

    @property
    def tokens_before(self) -> int:
        return sum(r.tokens_before for r in self.rows)

    @property
    def tokens_after(self) -> int:
        return sum(r.tokens_after for r in self.rows)

    def format_table(self) -> str:
        """The per-turn figures and the totals as an aligned text table."""
        head = (
            f"{'turn':>4} {'msgs':>5} {'tools':>5} {'seen':>5} {'hits':>5} {'tokens before':>13} "
            f"{'after':>8} {'cached':>8} {'total ms':>9} {'seen ms':>8} {'ms/seen':>8} {'new ms':>8} {'cold ms':>8}"
        )
        lines = [f"session benchmark: model={self.model} mode={self.optimization_mode}", head, "-" * len(head)]
        for r in self.rows:
            cold = f"{r.cold_ms:8.1f}" if r.cold_ms is not None else f"{'-':>8}"
            lines.append(
                f"{r.turn:>4} {r.messages:>5} {r.tool_outputs:>5} {r.seen_outputs:>5} {r.cache_hits:>5} "
                f"{r.tokens_before:>13,} {r.tokens_after:>8,} {r.cached_tokens:>8,} {r.total_ms:>9.1f} "
                f"{r.seen_ms:>8.2f} {r.seen_ms_per_output:>8.3f} {r.new_ms:>8.1f} {cold}"
            )
        lines.append("-" * len(head))
        saved = 1 - self.tokens_after / self.tokens_before if self.tokens_before else 0.0
        lines.append(
            f"cumulative compression time: {self.cumulative_ms:.1f} ms"
            + (
                f" (without the result cache: {self.cumulative_cold_ms:.1f} ms)"
                if self.cumulative_cold_ms is not None
                else ""
            )
        )
        lines.append(f"time per previously seen tool output: max {self.max_seen_ms_per_output:.3f} ms")
        costs = [(r.cost_before_usd, r.cost_after_usd) for r in self.rows]
        if costs and all(b is not None and a is not None for b, a in costs):
            before = sum(b for b, _ in costs if b is not None)
            after = sum(a for _, a in costs if a is not None)
            cached = sum(r.cached_tokens for r in self.rows)
            lines.append(
                f"input cost over the session: ${before:.2f} -> ${after:.2f} "
                f"({cached:,} of {self.tokens_after:,} sent tokens expected from the provider's prompt cache)"
            )
        lines.append(
            f"tokens sent over the session: {self.tokens_before:,} -> {self.tokens_after:,} ({saved:.0%} fewer)"
        )
        return "\n".join(lines)


def run_session_bench(
    corpus_dir: Path,
    turns: int = 20,
    model: str = "gpt-4o",
    *,
    optimization_mode: str = "token",
    compare_cold: bool = True,
) -> SessionBenchReport:
    """Compress every request of a ``turns``-turn agent session and time it (see module docs).

    Starts from an empty result cache and no remembered conversations, with an in-memory store.
    With ``compare_cold`` each request is compressed a second time, in simulate mode, after
    emptying the result cache: the cost an agent loop would pay without it.
    """
    from headroom.compress import compress
    from headroom.compressors.router import result_cache
    from headroom.config import HeadroomConfig, parse_optimization_mode
    from headroom.conversation import cache_hints, prefix_freeze

    config = HeadroomConfig(
        stateless=True,
        optimization_mode=parse_optimization_mode(optimization_mode),
        discover_pipeline_extensions=False,
    )
    session = build_agent_session(corpus_dir, turns)
    # Load tokenizers and compressors once, outside the measurements (a process pays this once).
    compress(conversation_until(session, 0), model, config=config, mode="simulate", session_id="warm-up")
    result_cache.clear()
    prefix_freeze.forget_sessions()
    cache_hints.forget_sessions()

    def timed(fn: Any) -> tuple[Any, float]:
        # As timeit does: collect first and keep the garbage collector out of the measured call.
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            out = fn()
            return out, (time.perf_counter() - started) * 1000
        finally:
            gc.enable()

    rows: list[SessionTurnRow] = []
    for t in range(turns):
        request = conversation_until(session, t)
        seen_indices = {
            i for i, m in enumerate(request[: len(request) - len(session[t].messages)]) if m.get("role") == "tool"
        }
        result, total_ms = timed(lambda r=request: compress(r, model, config=config, session_id="session-bench"))
        timings = result.extras.get("content_timings", ())
        seen_ms = sum(x.ms for x in timings if x.message_index in seen_indices)
        new_ms = sum(x.ms for x in timings if x.message_index not in seen_indices)
        cold_ms = None
        if compare_cold:
            result_cache.clear()
            _, cold_ms = timed(lambda r=request: compress(r, model, config=config, mode="simulate", session_id="cold"))
        rows.append(
            SessionTurnRow(
                turn=t + 1,
                messages=len(request),
                tool_outputs=sum(1 for m in request if m.get("role") == "tool"),
                seen_outputs=len(seen_indices),
                cache_hits=sum(1 for x in timings if x.cache_hit),
                tokens_before=result.tokens_before,
                tokens_after=result.tokens_after,
                cached_tokens=result.cached_tokens,
                total_ms=total_ms,
                seen_ms=seen_ms,
                new_ms=new_ms,
                cold_ms=cold_ms,
                cost_before_usd=result.cost_before_usd,
                cost_after_usd=result.cost_after_usd,
            )
        )
    return SessionBenchReport(model, optimization_mode, tuple(rows))
