"""The session benchmark: a multi-turn agent session over the corpus, compressed turn by turn."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
from headroom.conversation.validity import anthropic_problems, openai_problems
from headroom.session_bench import SessionBenchReport, build_agent_session, conversation_until, run_session_bench


@pytest.mark.corpus
def test_session_is_a_valid_growing_agent_conversation(corpus_dir: Path) -> None:
    session = build_agent_session(corpus_dir, 20)
    requests = [conversation_until(session, t) for t in range(20)]
    assert all(openai_problems(r) == [] and anthropic_problems(r) == [] for r in requests)
    assert all(
        len(a) < len(b) and b[: len(a) - len(session[t].messages)] == a[: len(a) - len(session[t].messages)]
        for t, (a, b) in enumerate(itertools.pairwise(requests))
    )
    assert sum(t.tool_outputs for t in session) >= 28


@pytest.mark.corpus
def test_each_question_names_something_its_tool_output_contains(corpus_dir: Path) -> None:
    for turn in build_agent_session(corpus_dir, 20):
        outputs = "\n".join(m["content"] for m in turn.messages if m["role"] == "tool")
        assert turn.needles and all(n in outputs and n in turn.question for n in turn.needles)


@pytest.mark.corpus
def test_bench_reports_every_turn_and_answers_seen_outputs_from_the_cache(corpus_dir: Path) -> None:
    report = run_session_bench(corpus_dir, turns=5, compare_cold=False)
    assert [r.turn for r in report.rows] == [1, 2, 3, 4, 5]
    session = build_agent_session(corpus_dir, 5)
    assert [r.seen_outputs for r in report.rows] == [sum(t.tool_outputs for t in session[:k]) for k in range(5)]
    assert all(r.cache_hits >= r.seen_outputs for r in report.rows)
    assert all(r.tokens_after < r.tokens_before for r in report.rows)


@pytest.mark.corpus
def test_bench_table_lists_turns_and_totals(corpus_dir: Path) -> None:
    report = run_session_bench(corpus_dir, turns=3)
    table = report.format_table()
    assert len([line for line in table.splitlines() if line[:4].strip().isdigit()]) == 3
    assert "cumulative compression time" in table and "without the result cache" in table
    assert "time per previously seen tool output" in table
    assert report.cumulative_cold_ms is not None


def test_report_is_frozen() -> None:
    report = SessionBenchReport("gpt-4o", "token")
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.model = "other"  # type: ignore[misc]
    assert report.cumulative_ms == 0 and report.max_seen_ms_per_output == 0
