"""Measuring compress() and other engines on benchmark cases."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from headroom.benchmark.corpus import BenchCase
from headroom.benchmark.runner import ccr_status, measure_engine_output, run_case, tool_output_text
from headroom.benchmark.timing import TokenizerTimer, forget_counts
from headroom.ccr.store import get_store
from headroom.config import HeadroomConfig
from headroom.tokens import TokenCounter, count_message_tokens


def test_run_case_reports_the_core_token_counts(workflow_runs: BenchCase, tmp_path: Path) -> None:
    result = run_case(workflow_runs, config=HeadroomConfig(workspace_dir=str(tmp_path)))

    assert result.tokens_before == count_message_tokens(workflow_runs.messages())
    assert result.baseline_tokens == count_message_tokens(workflow_runs.messages(workflow_runs.minified))


def test_run_case_checks_every_target_and_times_the_call(workflow_runs: BenchCase, tmp_path: Path) -> None:
    result = run_case(workflow_runs, config=HeadroomConfig(workspace_dir=str(tmp_path)))

    assert result.fidelity.total == len(workflow_runs.targets) == 3
    assert result.latency_ms > 0 and result.count_ms is not None and result.count_ms > 0


def test_unchanged_output_saves_nothing_and_keeps_everything(workflow_runs: BenchCase) -> None:
    result = measure_engine_output(workflow_runs, "identity", workflow_runs.content, 1.0)

    assert (result.reduction, result.fidelity.complete) == (0.0, True)


def test_dropping_the_failed_run_shows_in_tokens_and_fidelity(workflow_runs: BenchCase) -> None:
    body = copy.deepcopy(workflow_runs.body)
    body["workflow_runs"] = [run for run in body["workflow_runs"] if run["conclusion"] != "failure"]

    result = measure_engine_output(workflow_runs, "lossy", json.dumps(body), 1.0)

    assert result.tokens_after < result.tokens_before
    assert result.fidelity.kept == result.fidelity.total - 1


def test_ccr_status_is_ok_only_for_the_exact_original(workflow_runs: BenchCase, tmp_path: Path) -> None:
    config = HeadroomConfig(workspace_dir=str(tmp_path))
    key = get_store(config).put(workflow_runs.content, kind="json")

    assert ccr_status([key], workflow_runs.content, config) == "ok"
    assert ccr_status([key], workflow_runs.content + " ", config) == "missing"
    assert ccr_status([], workflow_runs.content, config) == "-"


def test_tool_output_text_joins_text_parts() -> None:
    messages = [{"role": "tool", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]

    assert tool_output_text(messages) == "a\nb"


def test_tokenizer_timer_times_counts_and_leaves_the_counter_as_it_was(workflow_runs: BenchCase) -> None:
    counter = TokenCounter("gpt-4o")

    with TokenizerTimer(counter) as timer:
        counter.count(workflow_runs.content)

    assert timer.ms is not None and timer.ms > 0
    assert "_count_uncached" not in vars(counter)


def test_forgotten_counts_are_tokenized_again(workflow_runs: BenchCase) -> None:
    counter = TokenCounter("gpt-4o")
    counter.count(workflow_runs.content)
    forget_counts(counter)

    with TokenizerTimer(counter) as timer:
        counter.count(workflow_runs.content)

    assert timer.ms is not None and timer.ms > 0


def test_repeated_runs_report_the_same_figures(workflow_runs: BenchCase, tmp_path: Path) -> None:
    config = HeadroomConfig(workspace_dir=str(tmp_path))

    once, best_of_two = run_case(workflow_runs, config=config), run_case(workflow_runs, config=config, repeat=2)

    assert (once.tokens_after, once.fidelity) == (best_of_two.tokens_after, best_of_two.fidelity)


def test_ccr_check_does_not_count_as_a_retrieval(workflow_runs: BenchCase, tmp_path: Path) -> None:
    # A recorded retrieval feeds SmartCrusher's feedback hints and would change how later files compress.
    config = HeadroomConfig(workspace_dir=str(tmp_path))
    store = get_store(config)
    key = store.put(workflow_runs.content, kind="json", tool_name="github_api")

    ccr_status([key], workflow_runs.content, config)

    assert store.get_entry(key).retrievals == 0
    assert store.tool_feedback("github_api")[1] == 0
