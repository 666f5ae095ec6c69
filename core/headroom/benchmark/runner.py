"""Running ``headroom.compress`` over benchmark cases and measuring what it did.

Per file: tokens before and after (the core's exact counter, the figures ``compress`` itself
reports), the lossless baseline (minified JSON), the latency of the ``compress`` call, input
MB/s on one core (the pipeline is single-threaded), what counting the request's tokens before
and after costs (the report's figures, timed apart with a cold counter), how much of the call
was spent in the tokenizer at all, whether every target survived, and whether the CCR key restores the
original. Records re-encoded losslessly in the core's column-table form (``_headroom_table``)
are expanded back to objects before the fidelity check: every value is still in the prompt.

Every file is timed first and checked afterwards (see :func:`run_bench`). With ``unquoted``
every question is asked a second time with its quotation marks removed (a row per file and
variant; a question without quotation marks is not compressed twice). Each file is
compressed cold: the router's result cache and the token-count cache are emptied
and garbage collected first, so a repeated file is not measured as a cache hit nor charged for
its predecessor. The benchmark's own long-lived objects (every case's text and parsed body) are
frozen out of the collector before the first case (``gc.freeze``): otherwise each collection
walks them all, evicting the CPU caches right before the timed call, a cost of the harness
that no application pays before each request.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from headroom.benchmark.corpus import AS_WRITTEN, UNQUOTED, BenchCase
from headroom.benchmark.fidelity import FidelityReport, check_fidelity
from headroom.benchmark.timing import TokenizerTimer, captured_warnings, forget_counts, report_count_ms
from headroom.config import HeadroomConfig
from headroom.tokens import TokenCounter, get_counter

__all__ = ["CaseResult", "ccr_status", "measure_engine_output", "run_bench", "run_case", "tool_output_text"]

OURS = "headroom"


class Rates:
    """Reduction and throughput of a row with tokens before/after, a baseline, bytes and latency."""

    tokens_before: int
    tokens_after: int
    baseline_tokens: int | None
    size_bytes: int
    latency_ms: float

    @property
    def reduction(self) -> float:
        """Fraction of request tokens removed (0.8 = 80% fewer)."""
        return 1 - self.tokens_after / self.tokens_before if self.tokens_before else 0.0

    @property
    def baseline_reduction(self) -> float | None:
        if self.baseline_tokens is None or not self.tokens_before:
            return None
        return 1 - self.baseline_tokens / self.tokens_before

    @property
    def mb_per_s(self) -> float:
        """Input megabytes (10^6 bytes) compressed per second of latency (totals: large files weigh more)."""
        return self.size_bytes / 1e6 / (self.latency_ms / 1000) if self.latency_ms > 0 else float("inf")

    def _rates_dict(self) -> dict[str, Any]:
        """The size and token figures every benchmark row reports, in report order."""
        return {
            "bytes": self.size_bytes,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "reduction": round(self.reduction, 4),
            "baseline_tokens": self.baseline_tokens,
            "baseline_reduction": None if self.baseline_reduction is None else round(self.baseline_reduction, 4),
        }


@dataclass(frozen=True)
class CaseResult(Rates):
    """What one engine did to one file."""

    name: str
    kind: str
    engine: str
    size_bytes: int
    tokens_before: int
    tokens_after: int
    latency_ms: float
    fidelity: FidelityReport
    baseline_tokens: int | None = None
    """Tokens of the same request with minified JSON as the tool output (JSON files only)."""
    count_ms: float | None = None
    """Time to count the request's tokens before and after with a cold counter, measured apart from
    the call: what the report's two figures cost at the least, wherever the pipeline counts them."""
    tokenize_ms: float | None = None
    """Time inside the call spent in the tokenizer (every uncached count: the report's and the compressors')."""
    ccr: str = "-"
    """``ok``: a CCR key restores the original exactly; ``missing``: keys exist but none does;
    ``-``: no key (nothing was dropped, or the engine has no store we can read)."""
    transforms: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
    variant: str = AS_WRITTEN
    """How the question was asked: ``as written`` or ``unquoted`` (its quotation marks removed)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "engine": self.engine,
            "question": self.variant,
            **self._rates_dict(),
            "latency_ms": round(self.latency_ms, 3),
            "mb_per_s": round(self.mb_per_s, 3),
            "count_ms": None if self.count_ms is None else round(self.count_ms, 3),
            "tokenize_ms": None if self.tokenize_ms is None else round(self.tokenize_ms, 3),
            "fidelity": self.fidelity.to_dict(),
            "ccr": self.ccr,
            "transforms": list(self.transforms),
            "error": self.error,
            "notes": list(self.notes),
        }


def tool_output_text(messages: Sequence[dict[str, Any]]) -> str:
    """The text of the (last) tool message: what the model reads as the tool's result."""
    for message in reversed(messages):
        if message.get("role") == "tool":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(
                    p.get("text", "") if isinstance(p, dict) else str(p) for p in content if isinstance(p, (dict, str))
                )
            return "" if content is None else str(content)
    return ""


def _decoded_tables(output: str) -> list[Any]:
    """JSON values of ``output`` with the core's lossless column tables expanded back to objects."""
    from headroom.compressors.json_lossless import TABLE_KEY, decode_tables

    if TABLE_KEY not in output:
        return []
    from headroom.benchmark.fidelity import json_values_in

    return [decode_tables(v) for v in json_values_in(output)]


def _baseline_tokens(case: BenchCase, counter: TokenCounter) -> int | None:
    return counter.count_messages(case.messages(case.minified)) if case.minified is not None else None


def ccr_status(keys: Sequence[str], original: str, config: HeadroomConfig) -> str:
    """``ok`` when one of ``keys`` retrieves ``original`` exactly, ``missing`` when none does, ``-`` without keys.

    The check reads without recording a retrieval: a recorded one would tell SmartCrusher's
    feedback hints that the model needed the omitted items, and change how later files compress.
    """
    if not keys:
        return "-"
    from headroom.ccr.store import get_store
    from headroom.errors import HeadroomError

    store = get_store(config)
    for key in keys:
        try:
            if store.get(key, record_retrieval=False) == original:
                return "ok"
        except HeadroomError:
            continue
    return "missing"


@dataclass
class _Timed:
    """What the timed part of one case left: the last result, the best run's timings, what was logged."""

    result: Any = None
    latency_ms: float = 0.0
    tokenize_ms: float | None = None
    logged: list[str] = field(default_factory=list)
    error: str | None = None


def _time_case(case: BenchCase, *, model: str, config: HeadroomConfig, repeat: int) -> _Timed:
    """Compress ``case`` cold ``repeat`` times; keep the fastest run's timings (never raises for content)."""
    from headroom.compress import compress
    from headroom.compressors.router import result_cache

    counter = get_counter(model)
    messages = case.messages()
    timed = _Timed()
    best: float | None = None
    for _ in range(max(1, repeat)):
        result_cache.clear()
        forget_counts(counter)
        gc.collect()  # garbage of the previous run is not charged to this one
        with captured_warnings() as logged, TokenizerTimer(counter) as tokenizer:
            started = time.perf_counter()
            try:
                result = compress(messages, model=model, config=config)
            except Exception as exc:  # the benchmark reports a crash instead of stopping
                timed.latency_ms = (time.perf_counter() - started) * 1000
                timed.error = f"compress raised {type(exc).__name__}: {exc}"
                return timed
            elapsed = (time.perf_counter() - started) * 1000
        timed.result, timed.logged = result, logged
        if best is None or elapsed < best:
            best = elapsed
            timed.latency_ms, timed.tokenize_ms = elapsed, tokenizer.ms
    return timed


def _measure(case: BenchCase, timed: _Timed, *, model: str, config: HeadroomConfig) -> CaseResult:
    """The row of a timed case: tokens, fidelity, the CCR round trip (checked outside the timing)."""
    counter = get_counter(model)
    messages = case.messages()
    result = timed.result
    if result is None:
        before = counter.count_messages(messages)
        return CaseResult(
            case.name,
            case.kind,
            OURS,
            case.size_bytes,
            before,
            before,
            timed.latency_ms,
            check_fidelity(case.targets, case.content),
            _baseline_tokens(case, counter),
            error=timed.error,
            variant=case.variant,
        )
    output = tool_output_text(result.messages)
    logged = timed.logged
    return CaseResult(
        name=case.name,
        kind=case.kind,
        engine=OURS,
        size_bytes=case.size_bytes,
        tokens_before=result.tokens_before,
        tokens_after=result.tokens_after,
        latency_ms=timed.latency_ms,
        fidelity=check_fidelity(case.targets, output, decoded=_decoded_tables(output)),
        baseline_tokens=_baseline_tokens(case, counter),
        count_ms=report_count_ms(model, messages, result.messages),
        tokenize_ms=timed.tokenize_ms,
        ccr=ccr_status(result.ccr_keys, case.content, config),
        transforms=tuple(result.transforms_applied),
        error=None if not result.errors else f"{result.errors} internal error(s), failed open: " + "; ".join(logged),
        notes=(*result.passthrough_reasons, *logged),
        variant=case.variant,
    )


def run_case(
    case: BenchCase, *, model: str = "gpt-4o", config: HeadroomConfig | None = None, repeat: int = 1
) -> CaseResult:
    """Compress one case cold with ``headroom.compress`` and measure it (never raises for content).

    With ``repeat > 1`` the case is compressed that many times, each run cold (result cache and
    token-count cache emptied), and the fastest run's timings are reported, as ``timeit``
    advises: slower runs measure other processes competing for the core, not Headroom.
    """
    cfg = config or HeadroomConfig()
    return _measure(case, _time_case(case, model=model, config=cfg, repeat=repeat), model=model, config=cfg)


def measure_engine_output(
    case: BenchCase,
    engine: str,
    output: str,
    latency_ms: float,
    *,
    model: str = "gpt-4o",
    decoded: Sequence[Any] = (),
    error: str | None = None,
    transforms: Sequence[str] = (),
) -> CaseResult:
    """Measure another engine's tool output for ``case`` exactly as ours is measured.

    Tokens are counted by the core's counter over the same request with ``output`` as the tool
    result; fidelity is checked on ``output`` (plus ``decoded`` JSON values, for lossless
    re-encodings that are not JSON).
    """
    counter = get_counter(model)
    return CaseResult(
        name=case.name,
        kind=case.kind,
        engine=engine,
        size_bytes=case.size_bytes,
        tokens_before=counter.count_messages(case.messages()),
        tokens_after=counter.count_messages(case.messages(output)),
        latency_ms=latency_ms,
        fidelity=check_fidelity(case.targets, output, decoded=decoded),
        baseline_tokens=_baseline_tokens(case, counter),
        transforms=tuple(transforms),
        error=error,
    )


def _warm_up(model: str, config: HeadroomConfig) -> None:
    """Import the compressors and load the encoding, so the first file is not charged for it."""
    from headroom.compress import compress

    rows = [{"id": i, "status": "ok" if i % 17 else "failed", "note": f"warm-up row {i}"} for i in range(60)]
    import json

    messages = [
        {"role": "user", "content": "which rows failed?"},
        {"role": "tool", "content": json.dumps(rows)},
        {
            "role": "tool",
            "content": "\n".join(f"2024-01-01 00:00:{i % 60:02d} INFO warm-up line {i}" for i in range(200)),
        },
    ]
    compress(messages, model=model, config=config)


def run_bench(
    cases: Sequence[BenchCase],
    *,
    model: str = "gpt-4o",
    config: HeadroomConfig | None = None,
    on_case: Callable[[int, int, str], None] | None = None,
    repeat: int = 1,
    unquoted: bool = False,
) -> list[CaseResult]:
    """Time every case, then check every case; ``on_case(done, total, name)`` reports progress.

    All cases are compressed first, one after another as an agent's stream of tool outputs
    would be, and only then checked (fidelity, exact token counts, the CCR round trip): that
    work tokenizes whole files and would otherwise run between the timed calls. With
    ``unquoted`` each question is asked again with its quotation marks removed; the results
    come after the as-written ones, one per case (a question with no quotation marks shares
    its as-written result).
    """
    cfg = config or HeadroomConfig()
    plain = [case.unquoted() for case in cases] if unquoted else []
    again = [u for c, u in zip(cases, plain) if u.question != c.question]
    todo = [*cases, *again]
    with captured_warnings():
        _warm_up(model, cfg)
    gc.collect()
    gc.freeze()  # the cases and everything imported so far: see the module documentation
    total = 2 * len(todo)
    try:
        timings = []
        for i, case in enumerate(todo):
            if on_case is not None:
                on_case(i, total, case.name)
            timings.append(_time_case(case, model=model, config=cfg, repeat=repeat))
    finally:
        gc.unfreeze()
    measured: list[CaseResult] = []
    for i, (case, timed) in enumerate(zip(todo, timings)):
        if on_case is not None:
            on_case(len(todo) + i, total, f"checking {case.name}")
        measured.append(_measure(case, timed, model=model, config=cfg))
    if on_case is not None:
        on_case(total, total, "")
    results = measured[: len(cases)]
    asked_again = iter(measured[len(cases) :])
    for case, written, u in zip(cases, measured, plain):
        results.append(
            next(asked_again) if u.question != case.question else dataclasses.replace(written, variant=UNQUOTED)
        )
    return results
