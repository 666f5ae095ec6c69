"""The dynamic-content detector finds values that change per request, and leaves stable text alone."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import uuid
from pathlib import Path

import pytest
from headroom.conversation import dynamic_detector
from headroom.conversation.dynamic_detector import DynamicContentDetector, normalized_entropy


@pytest.fixture(scope="module")
def workflow_run(samples_dir: Path) -> dict:
    """A real GitHub workflow run (PyGithub replay data): real timestamps, shas and node ids."""
    body = json.loads((samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json").read_text())["body"]
    return body["workflow_runs"][0]


def _kinds(text: str, **kwargs) -> dict[str, str]:
    return {s.value: s.kind for s in DynamicContentDetector(**kwargs).find(text)}


def test_finds_iso_timestamps(workflow_run: dict) -> None:
    assert _kinds(f"Run started at {workflow_run['created_at']}.")[workflow_run["created_at"]] == "datetime"


def test_finds_plain_and_written_dates() -> None:
    found = _kinds("Released 2024-06-03, reviewed 06/04/2024 and shipped on Monday, June 10, 2024.")
    assert set(found) == {"2024-06-03", "06/04/2024", "Monday, June 10, 2024"}


def test_finds_clock_times() -> None:
    assert set(_kinds("The backup ran at 14:32:07 UTC and again at 2:30 PM.")) == {"14:32:07 UTC", "2:30 PM"}


def test_finds_unix_timestamps() -> None:
    assert _kinds("cache built at 1717425127 (ms 1717425127123)") == {
        "1717425127": "unix_timestamp",
        "1717425127123": "unix_timestamp",
    }


def test_finds_uuids() -> None:
    value = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/PyGithub/PyGithub"))
    assert _kinds(f"trace {value} attached")[value] == "uuid"


def test_finds_request_ids() -> None:
    found = _kinds("Upstream request req_8f2a91c0d3e4 answered by chatcmpl-9xYz81Qa7bLm.")
    assert found == {"req_8f2a91c0d3e4": "request_id", "chatcmpl-9xYz81Qa7bLm": "request_id"}


def test_finds_hex_tokens_such_as_commit_shas(workflow_run: dict) -> None:
    assert _kinds(f"head {workflow_run['head_sha']}")[workflow_run["head_sha"]] == "hex"


def test_finds_base64_tokens(workflow_run: dict) -> None:
    token = base64.b64encode(json.dumps({"run": workflow_run["id"], "node": workflow_run["node_id"]}).encode()).decode()
    assert _kinds(f"cursor={token} next")[token] == "base64"


def test_finds_jwts() -> None:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    jwt = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': 'octocat', 'iat': 1717425127})}.c2lnbmF0dXJlLWJ5dGVz"
    assert _kinds(f"Authorization: Bearer {jwt}")[jwt] == "jwt"


def test_finds_values_of_dynamic_labels() -> None:
    found = _kinds("Session: blue-falcon-42\nToday: a rainy Tuesday\nRole: reviewer")
    assert found == {"blue-falcon-42": "label:session", "a rainy Tuesday": "label:today"}


def test_extra_dynamic_labels_name_more_keys() -> None:
    text = "Tenant: acme-corp\nRole: reviewer"
    assert _kinds(text) == {}
    assert _kinds(text, extra_labels=["tenant"]) == {"acme-corp": "label:tenant"}


def test_finds_high_entropy_strings_above_the_threshold(workflow_run: dict) -> None:
    token = workflow_run["check_suite_node_id"]  # CS_kwDOCLXpC88AAAACMkLO1A: no hex/base64/id shape
    assert _kinds(f"suite {token}", entropy_threshold=0.7)[token] == "entropy"
    assert token not in _kinds(f"suite {token}", entropy_threshold=0.99)


def test_leaves_prose_and_ordinary_identifiers_alone() -> None:
    text = (
        "Use the get_user_profile_v2 tool, then call create_pull_request_review on HTTP/1.1 with "
        "claude-sonnet-4-5 or gpt-4o; PyGithub v2.10.0 supports Python 3.10 and later. "
        "Escalate incidents of severity 2 within 15 minutes."
    )
    assert DynamicContentDetector().find(text) == []


def test_spans_do_not_overlap_and_are_in_order(workflow_run: dict) -> None:
    text = f"Run {workflow_run['id']} at {workflow_run['created_at']} on {workflow_run['head_sha']}"
    spans = DynamicContentDetector().find(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert [text[s.start : s.end] for s in spans] == [s.value for s in spans]


def test_legacy_patterns_replace_the_detector() -> None:
    value = str(uuid.uuid5(uuid.NAMESPACE_DNS, "headroom"))
    spans = DynamicContentDetector(patterns=[r"\d{4}-\d{2}-\d{2}"]).find(f"Date 2024-06-03, id {value}")
    assert [s.value for s in spans] == ["2024-06-03"]


def test_unavailable_semantic_tier_is_logged_once_and_regex_is_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(dynamic_detector, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="headroom.cache_aligner"):
        first = DynamicContentDetector(tiers=["regex", "semantic"])
        DynamicContentDetector(tiers=["regex", "semantic"])
    assert sum("'semantic' unavailable" in r.getMessage() for r in caplog.records) == 1
    assert first.active_tiers == ("regex",)
    text = "Current date: 2024-06-03"
    assert first.find(text) == DynamicContentDetector().find(text)


def test_ner_tier_without_spacy_falls_back_to_regex(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        import spacy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("spaCy is installed here; the fallback path is not reachable")
    monkeypatch.setattr(dynamic_detector, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="headroom.cache_aligner"):
        detector = DynamicContentDetector(tiers=["regex", "ner"])
    assert detector.active_tiers == ("regex",)
    assert any("'ner' unavailable" in r.getMessage() for r in caplog.records)


def test_normalized_entropy_is_between_zero_and_one() -> None:
    assert normalized_entropy("aaaaaaaa") == 0.0
    assert normalized_entropy("abcdefgh") == pytest.approx(1.0)
    assert 0.0 < normalized_entropy("release-2024") < 1.0


def test_finds_long_numeric_ids(workflow_run: dict) -> None:
    assert _kinds(f"workflow run {workflow_run['id']} failed")[str(workflow_run["id"])] == "numeric_id"
