"""What the benchmark asks about a JSON response and what it requires to survive."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from headroom.benchmark.corpus import BenchCase, load_cases
from headroom.benchmark.json_targets import find_main_array, json_targets


def _named(case: BenchCase) -> tuple[int, list[dict], str]:
    found = find_main_array(case.body)
    assert found is not None
    items = found[0]
    target = next(t for t in case.targets if t.kind == "named_record")
    return items.index(target.record), items, target.label


def test_finds_the_array_inside_an_envelope(workflow_runs: BenchCase) -> None:
    found = find_main_array(workflow_runs.body)

    assert found is not None and (len(found[0]), found[1]) == (30, ["workflow_runs"])


def test_asks_about_a_workflow_run_by_its_id(workflow_runs: BenchCase) -> None:
    i, items, _ = _named(workflow_runs)

    assert workflow_runs.question == f"What happened with workflow run {items[i]['id']}?"


def test_failed_run_is_a_rare_record(workflow_runs: BenchCase) -> None:
    rare = [t.record for t in workflow_runs.targets if t.kind == "rare_record"]

    assert any(run["conclusion"] == "failure" for run in rare)


def test_uniform_states_give_no_rare_records(samples_dir: Path, load_case) -> None:  # type: ignore[no-untyped-def]
    issues = load_case(samples_dir, "json/Repository.testGetIssuesWithArguments.103.json")

    assert [t.kind for t in issues.targets] == ["named_record"]


def test_an_object_without_an_array_of_records_has_no_targets(workflow_runs: BenchCase) -> None:
    single_run = copy.deepcopy(workflow_runs.body["workflow_runs"][0])

    found = json_targets(single_run)

    assert (found.targets, found.question) == ((), "Summarize this API response.")


@pytest.mark.corpus
def test_named_record_is_never_among_the_first_five_or_last_three(corpus_dir: Path) -> None:
    cases, _ = load_cases(corpus_dir, kinds=("json",))
    misplaced = []
    for case in cases:
        i, items, _ = _named(case)
        if len(items) >= 9 and not 5 <= i < len(items) - 3:
            misplaced.append((case.name, i, len(items)))
    assert misplaced == []


@pytest.mark.corpus
def test_question_names_a_value_that_identifies_one_record(corpus_dir: Path) -> None:
    cases, _ = load_cases(corpus_dir, kinds=("json",))
    ambiguous = []
    for case in cases:
        _, items, label = _named(case)
        field, value = label.split("] ", 1)[1].split("=", 1)
        outer, _, inner = field.partition(".")

        def value_of(item: dict, outer: str = outer, inner: str = inner) -> str:
            v = item.get(outer)
            return str(v.get(inner) if inner and isinstance(v, dict) else v)

        if value not in case.question or [value_of(x) for x in items].count(value) != 1:
            ambiguous.append(case.name)
    assert ambiguous == []


def test_an_id_is_asked_as_typed_either_way(workflow_runs: BenchCase) -> None:
    assert '"' not in workflow_runs.question
    assert workflow_runs.unquoted().question == workflow_runs.question


@pytest.mark.corpus
def test_a_name_that_is_not_a_number_is_quoted_and_asked_again_without(corpus_dir: Path, load_case) -> None:  # type: ignore[no-untyped-def]
    stargazers = load_case(corpus_dir, "json/Issue945.testReservedPaginatedListAttributePreservation.61.json")

    assert stargazers.question == 'What happened with stargazer "lrtitze"?'
    assert stargazers.unquoted().question == "What happened with stargazer lrtitze?"
