"""Benchmark tables, summaries against the targets, JSON output and the progress bar."""

from __future__ import annotations

import io
import json

from headroom.benchmark.corpus import BenchCase
from headroom.benchmark.fidelity import FidelityReport
from headroom.benchmark.report import KindSummary, ProgressBar, format_cases, format_summary, summarize, to_json
from headroom.benchmark.runner import CaseResult, measure_engine_output


def _summary(**changes: object) -> KindSummary:
    base: dict[str, object] = dict(
        engine="headroom",
        kind="json",
        files=2,
        size_bytes=10_000_000,
        tokens_before=1000,
        tokens_after=200,
        baseline_tokens=900,
        kept=5,
        total=5,
        asked_kept=2,
        asked_total=2,
        latency_ms=100.0,
        count_ms=10.0,
        tokenize_ms=20.0,
        errors=0,
        ccr_ok=2,
        ccr_keys=2,
    )
    base.update(changes)
    return KindSummary(**base)  # type: ignore[arg-type]


def test_summary_adds_up_tokens_and_targets_per_kind(workflow_runs: BenchCase, bgl: BenchCase) -> None:
    rows = [measure_engine_output(c, "identity", c.content, 5.0) for c in (workflow_runs, bgl)]

    by_kind = {s.kind: s for s in summarize(rows)}

    assert by_kind["json"].tokens_before == rows[0].tokens_before
    assert (by_kind["log"].kept, by_kind["log"].total) == (len(bgl.targets), len(bgl.targets))


def test_goals_met_at_70_percent_and_40_mb_per_s() -> None:
    assert _summary(tokens_after=300, latency_ms=250.0).unmet() == []


def test_each_missed_goal_is_named() -> None:
    missed = _summary(tokens_after=400, kept=4, latency_ms=1000.0).unmet()

    assert missed == ["reduction 60.0% < 70%", "kept 4/5", "10.0 MB/s < 40"]


def test_markdown_tables_have_a_separator_row(workflow_runs: BenchCase) -> None:
    rows = [measure_engine_output(workflow_runs, "identity", workflow_runs.content, 5.0)]

    lines = format_cases(rows, markdown=True).splitlines()

    assert lines[1].startswith("|---|") and len(lines) == 3
    assert "| identity | json | as written | 1 |" in format_summary(summarize(rows), markdown=True)


def test_json_output_carries_files_and_summary(workflow_runs: BenchCase) -> None:
    row = CaseResult("a.json", "json", "headroom", 10, 100, 20, 1.0, FidelityReport(2, 1, 1, 1, ("rare_record: x",)))

    data = json.loads(json.dumps(to_json([row])))

    assert data["files"][0]["fidelity"]["missing"] == ["rare_record: x"]
    assert data["summary"][0]["unmet_targets"] == ["kept 1/2", "0.0 MB/s < 40"]


def test_progress_bar_draws_then_erases_itself() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, enabled=True, width=10)

    bar(1, 4, "logs/BGL_2k.log")
    drawn = stream.getvalue()
    bar(4, 4, "")

    assert "[##........] 1/4 logs/BGL_2k.log" in drawn
    assert stream.getvalue()[len(drawn) :].strip() == ""


def test_progress_bar_stays_silent_off_a_terminal() -> None:
    stream = io.StringIO()

    ProgressBar(stream)(1, 4, "x")

    assert stream.getvalue() == ""
