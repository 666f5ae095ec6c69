"""CacheAligner: byte-stable system prompts; only dynamic values move; only system messages are touched."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.config import CacheAlignerConfig, HeadroomConfig
from headroom.conversation.cache_aligner import PLACEHOLDER, align_system_messages, align_text

TEMPLATE = """You are the on-call assistant of the PyGithub maintainers.
Current date: {date}
Session: {session}
The last workflow run {run_id} finished at {finished} on commit {sha}.
Answer briefly. Escalate failing release workflows to the maintainers."""

SEP = CacheAlignerConfig().dynamic_tail_separator


@pytest.fixture(scope="module")
def runs(samples_dir: Path) -> list[dict[str, Any]]:
    """Real workflow runs (PyGithub replay data) whose timestamps and ids vary from request to request."""
    body = json.loads((samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json").read_text())["body"]
    return body["workflow_runs"][:20]


def _prompt(run: dict[str, Any], k: int) -> str:
    return TEMPLATE.format(
        date=run["created_at"][:10],
        session=uuid.uuid5(uuid.NAMESPACE_URL, f"session/{k}"),
        run_id=run["id"],
        finished=run["updated_at"],
        sha=run["head_sha"],
    )


def _request(system: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": "Did the last release workflow pass?"}]


def _on(**fields: Any) -> HeadroomConfig:
    return HeadroomConfig(cache_aligner=CacheAlignerConfig(enabled=True, **fields))


def test_twenty_prompts_differing_in_timestamps_and_ids_share_one_prefix(runs: list[dict[str, Any]]) -> None:
    assert len(runs) == 20
    config = _on()
    systems = [
        headroom.compress(_request(_prompt(run, k)), config=config).messages[0]["content"] for k, run in enumerate(runs)
    ]
    prefixes = {s.partition(SEP)[0] for s in systems}
    assert len(prefixes) == 1
    assert len({s.partition(SEP)[2] for s in systems}) == 20


def test_the_tail_holds_the_values_that_moved(runs: list[dict[str, Any]]) -> None:
    text, moved = align_text(_prompt(runs[0], 0), CacheAlignerConfig(enabled=True))
    tail = text.partition(SEP)[2]
    assert moved == 5
    for value in (runs[0]["created_at"][:10], str(runs[0]["id"]), runs[0]["updated_at"], runs[0]["head_sha"]):
        assert value in tail and value not in text.partition(SEP)[0]


def test_nothing_but_the_dynamic_values_moves(runs: list[dict[str, Any]]) -> None:
    config = CacheAlignerConfig(enabled=True, normalize_whitespace=False, collapse_blank_lines=False)
    for k, run in enumerate(runs):
        original = _prompt(run, k)
        head, _, tail = align_text(original, config)[0].partition(SEP)
        values = [line.split(": ", 1)[1] for line in tail.split("\n")]
        rebuilt = head
        for value in values:
            rebuilt = rebuilt.replace(PLACEHOLDER, value, 1)
        assert rebuilt == original


def test_only_system_messages_are_touched(runs: list[dict[str, Any]]) -> None:
    run = runs[0]
    messages = [
        {"role": "system", "content": _prompt(run, 0)},
        {"role": "user", "content": f"Why did run {run['id']} on {run['head_sha']} fail at {run['updated_at']}?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_run", "arguments": "{}"}}],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": json.dumps({k: run[k] for k in ("id", "created_at", "head_sha")}),
        },
        {"role": "assistant", "content": f"Run {run['id']} started {run['created_at']}."},
        {"role": "user", "content": "And the one before?"},
    ]
    out, _ = align_system_messages([dict(m) for m in messages], CacheAlignerConfig(enabled=True))
    assert out[0] != messages[0]
    assert out[1:] == messages[1:]


def test_developer_messages_count_as_system_messages(runs: list[dict[str, Any]]) -> None:
    out, applied = align_system_messages(
        [{"role": "developer", "content": _prompt(runs[0], 0)}], CacheAlignerConfig(enabled=True)
    )
    assert SEP in out[0]["content"] and applied


def test_is_off_by_default(runs: list[dict[str, Any]]) -> None:
    assert CacheAlignerConfig().enabled is False
    request = _request(_prompt(runs[0], 0))
    result = headroom.compress(request, config=HeadroomConfig())
    assert result.messages[0] == request[0]


def test_aligning_twice_changes_nothing(runs: list[dict[str, Any]]) -> None:
    config = CacheAlignerConfig(enabled=True)
    once, _ = align_text(_prompt(runs[3], 3), config)
    assert align_text(once, config) == (once, 0)


def test_frozen_system_messages_are_left_alone(runs: list[dict[str, Any]]) -> None:
    messages = [{"role": "system", "content": _prompt(runs[0], 0)}, {"role": "system", "content": _prompt(runs[1], 1)}]
    out, _ = align_system_messages([dict(m) for m in messages], CacheAlignerConfig(enabled=True), frozen_count=1)
    assert out[0] == messages[0] and out[1] != messages[1]


def test_text_parts_share_one_tail(runs: list[dict[str, Any]]) -> None:
    parts = [{"type": "text", "text": _prompt(runs[0], 0)}, {"type": "text", "text": "Deploy window opens 2024-06-03."}]
    out, _ = align_system_messages([{"role": "system", "content": parts}], CacheAlignerConfig(enabled=True))
    first, second = out[0]["content"]
    assert SEP not in first["text"] and PLACEHOLDER in first["text"]
    assert runs[0]["head_sha"] in second["text"].partition(SEP)[2] and "2024-06-03" in second["text"].partition(SEP)[2]


def test_use_dynamic_detector_false_uses_the_date_patterns(runs: list[dict[str, Any]]) -> None:
    config = CacheAlignerConfig(enabled=True, use_dynamic_detector=False, date_patterns=[r"\d{4}-\d{2}-\d{2}"])
    head = align_text(_prompt(runs[0], 0), config)[0].partition(SEP)[0]
    assert runs[0]["created_at"][:10] not in head
    assert runs[0]["head_sha"] in head and str(runs[0]["id"]) in head


def test_default_date_patterns_are_used_in_legacy_mode(runs: list[dict[str, Any]]) -> None:
    config = CacheAlignerConfig(enabled=True, use_dynamic_detector=False)
    head = align_text(_prompt(runs[0], 0), config)[0].partition(SEP)[0]
    assert runs[0]["created_at"][:10] not in head and runs[0]["head_sha"] in head


def test_detection_tiers_with_an_unavailable_tier_align_like_regex(runs: list[dict[str, Any]]) -> None:
    plain = align_text(_prompt(runs[0], 0), CacheAlignerConfig(enabled=True))
    tiered = align_text(_prompt(runs[0], 0), CacheAlignerConfig(enabled=True, detection_tiers=["regex", "semantic"]))
    assert plain == tiered


def test_extra_dynamic_labels_move_their_values() -> None:
    text = "You help the billing team.\nTenant: acme-corp\nBe precise."
    assert align_text(text, CacheAlignerConfig(enabled=True))[1] == 0
    moved, n = align_text(text, CacheAlignerConfig(enabled=True, extra_dynamic_labels=["Tenant"]))
    assert n == 1 and "acme-corp" in moved.partition(SEP)[2] and "acme-corp" not in moved.partition(SEP)[0]


def test_entropy_threshold_decides_what_counts_as_random(runs: list[dict[str, Any]]) -> None:
    text = f"Check suite {runs[0]['check_suite_node_id']} is the one to watch."
    assert align_text(text, CacheAlignerConfig(enabled=True, entropy_threshold=0.7))[1] == 1
    assert align_text(text, CacheAlignerConfig(enabled=True, entropy_threshold=0.99))[1] == 0


def test_normalize_whitespace_collapses_runs_and_trailing_spaces() -> None:
    text = "You are   a reviewer.   \n\tCheck\t\ttests first.  "
    assert align_text(text, CacheAlignerConfig(enabled=True))[0] == "You are a reviewer.\n\tCheck tests first."
    off = CacheAlignerConfig(enabled=True, normalize_whitespace=False, collapse_blank_lines=False)
    assert align_text(text, off)[0] == text


def test_collapse_blank_lines() -> None:
    text = "Rules:\n\n\n\nBe brief."
    assert align_text(text, CacheAlignerConfig(enabled=True))[0] == "Rules:\n\nBe brief."
    assert align_text(text, CacheAlignerConfig(enabled=True, collapse_blank_lines=False))[0] == text


def test_dynamic_tail_separator_is_configurable(runs: list[dict[str, Any]]) -> None:
    config = CacheAlignerConfig(enabled=True, dynamic_tail_separator="\n\n## Values of this request\n")
    text = align_text(_prompt(runs[0], 0), config)[0]
    assert "\n\n## Values of this request\n" in text and SEP not in text


def test_compress_reports_the_transform(runs: list[dict[str, Any]]) -> None:
    result = headroom.compress(_request(_prompt(runs[0], 0)), config=_on())
    assert "cache_aligner:moved_dynamic:5" in result.transforms_applied
