"""The fidelity checker on real data: it must notice a lost record, a lost error shape, an altered line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import toon_format
from headroom.benchmark.corpus import BenchCase, load_cases
from headroom.benchmark.fidelity import check_fidelity, json_values_in


def _target(case: BenchCase, kind: str, contains: str = "") -> int:
    return next(i for i, t in enumerate(case.targets) if t.kind == kind and contains in t.label)


def _without_lines(text: str, lines: tuple[str, ...]) -> str:
    drop = set(lines)
    return "\n".join(line for line in text.splitlines() if line.strip() not in drop)


def test_unchanged_samples_keep_every_target(samples_dir: Path) -> None:
    cases, _ = load_cases(samples_dir)
    incomplete = [c.name for c in cases if not check_fidelity(c.targets, c.content).complete]
    assert incomplete == []


def test_detects_the_missing_failed_workflow_run(workflow_runs: BenchCase) -> None:
    failed = workflow_runs.targets[_target(workflow_runs, "rare_record", "conclusion=failure")]
    body = copy.deepcopy(workflow_runs.body)
    body["workflow_runs"].remove(failed.record)

    report = check_fidelity(workflow_runs.targets, json.dumps(body))

    assert report.missing == (f"rare_record: {failed.label}",)


def test_named_record_with_one_changed_field_is_not_kept(workflow_runs: BenchCase) -> None:
    named = workflow_runs.targets[_target(workflow_runs, "named_record")]
    body = copy.deepcopy(workflow_runs.body)
    altered = next(run for run in body["workflow_runs"] if run == named.record)
    altered["display_title"] = altered["display_title"][:20] + "…"

    report = check_fidelity(workflow_runs.targets, json.dumps(body))

    assert (report.asked_total, report.asked_kept) == (1, 0)


def test_records_are_found_in_truncated_json_followed_by_a_marker(workflow_runs: BenchCase) -> None:
    # An engine that cuts the array short and appends prose still shows the complete records before the cut.
    named = workflow_runs.targets[_target(workflow_runs, "named_record")]
    cut = workflow_runs.content.index(json.dumps(named.record)) + len(json.dumps(named.record)) + 500
    text = workflow_runs.content[:cut] + "\n[12 more runs omitted; retrieve with key hr_0123]"

    assert check_fidelity([named], text).complete


def test_key_order_and_whitespace_do_not_matter(workflow_runs: BenchCase) -> None:
    text = json.dumps(workflow_runs.body, sort_keys=True, indent=2)

    assert check_fidelity(workflow_runs.targets, text).complete


def test_toon_output_counts_only_when_decoded(workflow_runs: BenchCase) -> None:
    text = toon_format.encode(workflow_runs.body)

    assert check_fidelity(workflow_runs.targets, text).kept == 0
    assert check_fidelity(workflow_runs.targets, text, decoded=[toon_format.decode(text)]).complete


def test_detects_a_missing_error_shape(bgl: BenchCase) -> None:
    shape = bgl.targets[_target(bgl, "error_shape", "instruction cache parity error corrected")]
    text = _without_lines(bgl.content, shape.lines)

    report = check_fidelity(bgl.targets, text)

    assert report.missing == (f"error_shape: {shape.label}",)


def test_one_verbatim_example_keeps_an_error_shape(bgl: BenchCase) -> None:
    shape = bgl.targets[_target(bgl, "error_shape", "data TLB error interrupt")]
    text = _without_lines(bgl.content, shape.lines[1:])

    assert len(shape.lines) > 1
    assert check_fidelity([shape], text).complete


def test_detects_a_missing_alert_shape(bgl: BenchCase) -> None:
    alert = bgl.targets[_target(bgl, "alert_shape", "KERNSTOR")]
    text = _without_lines(bgl.content, alert.lines)

    assert f"alert_shape: {alert.label}" in check_fidelity(bgl.targets, text).missing


def test_quoted_line_with_one_changed_digit_is_not_kept(bgl: BenchCase) -> None:
    quoted = bgl.targets[_target(bgl, "quoted_line")]
    line = quoted.lines[0]
    i = next(i for i, ch in enumerate(line) if ch.isdigit())
    changed = line[:i] + str((int(line[i]) + 1) % 10) + line[i + 1 :]
    text = bgl.content.replace(line, changed)

    assert check_fidelity([quoted], text).asked_kept == 0


def test_json_values_are_found_between_prose() -> None:
    text = 'Result: {"a": [1, 2]} and then [{"b": null}] but not {broken'

    assert json_values_in(text) == [{"a": [1, 2]}, [{"b": None}]]


@pytest.mark.corpus
def test_every_corpus_file_unchanged_keeps_every_target(corpus_dir: Path) -> None:
    cases, skipped = load_cases(corpus_dir)
    incomplete = [c.name for c in cases if not check_fidelity(c.targets, c.content).complete]
    assert (len(cases), skipped, incomplete) == (64, [], [])


@pytest.mark.corpus
def test_removing_a_rare_record_is_detected_in_every_corpus_json(corpus_dir: Path) -> None:
    cases, _ = load_cases(corpus_dir, kinds=("json",))
    undetected = []
    for case in (c for c in cases if any(t.kind == "rare_record" for t in c.targets)):
        rare = case.targets[_target(case, "rare_record")]
        text = case.content.replace(json.dumps(rare.record), "{}")
        if f"rare_record: {rare.label}" not in check_fidelity(case.targets, text).missing:
            undetected.append(case.name)
    assert undetected == []


@pytest.mark.corpus
def test_removing_an_error_shape_is_detected_in_every_corpus_log(corpus_dir: Path) -> None:
    cases, _ = load_cases(corpus_dir, kinds=("log",))
    undetected = []
    for case in (c for c in cases if any(t.kind == "error_shape" for t in c.targets)):
        shape = case.targets[_target(case, "error_shape")]
        text = _without_lines(case.content, shape.lines)
        if f"error_shape: {shape.label}" not in check_fidelity(case.targets, text).missing:
            undetected.append(case.name)
    assert undetected == []


@pytest.mark.corpus
def test_a_record_whose_float_became_an_integer_is_still_kept(corpus_dir: Path, load_case) -> None:  # type: ignore[no-untyped-def]
    # User search results carry "score": 1.0; TOON writes it as 1, the same JSON number.
    users = load_case(corpus_dir, "json/Search.testPaginateSearchUsers.113.json")
    text = users.content.replace('"score": 1.0', '"score": 1')

    assert '"score": 1.0' in users.content and check_fidelity(users.targets, text).complete
