"""CCR keys named in messages: what a request still refers to after an earlier compression step."""

from __future__ import annotations

import json
from pathlib import Path

from headroom import HeadroomConfig, get_store
from headroom.ccr.markers import keys_in_text, referenced_keys
from headroom.text import compress_text


def test_finds_each_key_once_in_order() -> None:
    text = "see hr_00000000000000aa and hr_00000000000000bb, again hr_00000000000000aa"
    assert keys_in_text(text) == ("hr_00000000000000aa", "hr_00000000000000bb")


def test_ignores_strings_that_only_look_like_keys() -> None:
    assert keys_in_text("hr_123 hr_0123456789abcdef0 chr_0123456789abcdef") == ()
    assert keys_in_text('key="hr_0123456789abcdef")') == ("hr_0123456789abcdef",)


def test_referenced_keys_of_a_crushed_tool_result_are_in_the_store(samples_dir: Path) -> None:
    body = json.loads((samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json").read_text())["body"]
    crushed = compress_text(json.dumps(body["workflow_runs"]), query="which run failed", tool_name="runs")
    messages = [
        {"role": "user", "content": "which run failed"},
        {"role": "tool", "tool_call_id": "c1", "content": crushed.text},
    ]
    store = get_store(HeadroomConfig())
    assert referenced_keys(messages, store) == crushed.ccr_keys
    assert (
        referenced_keys([*messages, {"role": "user", "content": "and hr_ffffffffffffffff?"}], store) == crushed.ccr_keys
    )
