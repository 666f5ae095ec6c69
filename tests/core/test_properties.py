"""Invariants of compress() over generated conversations built from the bundled real samples (issue 12).

Tool outputs are slices of the real GitHub API responses and loghub logs shipped in
``headroom/samples``, in envelopes or not, indented or not, with odd values mixed in; the
conversations around them have random roles, pairings, names and extra keys. For every one:

- nothing but a documented ``HeadroomError`` is raised;
- the caller's messages are not mutated;
- every tool call is still answered, and every tool message still answers a call;
- every CCR key a marker names is retrievable, byte for byte, when the result is returned;
- a lossless JSON re-encoding parses back to values identical to the input's (numbers compared
  as written, duplicate keys kept).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.ccr.markers import keys_in_text
from headroom.compressors.json_lossless import decode_tables
from headroom.config import HeadroomConfig
from headroom.errors import HeadroomError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

SAMPLES = Path(__file__).resolve().parents[2] / "core/headroom/samples"


def _arrays() -> list[list[Any]]:
    found = []
    for path in sorted((SAMPLES / "json").glob("*.json")):
        body = json.loads(path.read_text())["body"]
        if isinstance(body, list):
            found.append(body)
        elif isinstance(body, dict):
            found.extend(v for v in body.values() if isinstance(v, list) and v)
    return found


ARRAYS = _arrays()
LOGS = [p.read_text().splitlines() for p in sorted((SAMPLES / "logs").glob("*.log"))]
CONFIG = HeadroomConfig(store_url="sqlite://")

ODD_TEXTS = [
    "",
    " ",
    "null",
    "[]",
    "{}",
    "[1, 2, 3]",
    "not json [",
    "\ud800 lone surrogate",
    "\ufeff[1, 2]",
    "\x00\x01",
]
ODD_VALUES: list[Any] = [None, 0, -0.0, 1e300, True, "", "\ud83d\ude00", "\ud800", [], {}, {"nested": [1, {"a": None}]}]


@st.composite
def json_outputs(draw: st.DrawFn) -> str:
    items = copy.deepcopy(draw(st.sampled_from(ARRAYS)))
    start = draw(st.integers(0, max(len(items) - 1, 0)))
    items = items[start : start + draw(st.integers(0, 120))]
    for _ in range(draw(st.integers(0, 3))):  # odd values dropped into real items
        if items and isinstance(items[0], dict):
            target = draw(st.sampled_from(items))
            if isinstance(target, dict):
                target[draw(st.sampled_from([*target.keys(), "extra"]))] = draw(st.sampled_from(ODD_VALUES))
    value: Any = items
    if draw(st.booleans()):
        value = {"total_count": len(items), "incomplete_results": False, "items": items}
    return json.dumps(value, indent=draw(st.sampled_from([None, 2])), ensure_ascii=draw(st.booleans()))


@st.composite
def log_outputs(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(LOGS))
    start = draw(st.integers(0, len(lines) - 1))
    return "\n".join(lines[start : start + draw(st.integers(0, 600))])


tool_outputs = st.one_of(json_outputs(), log_outputs(), st.sampled_from(ODD_TEXTS))


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": draw(st.sampled_from(["system", "developer"])), "content": "You triage CI runs."})
    for turn in range(draw(st.integers(1, 3))):
        messages.append(
            {
                "role": "user",
                "content": draw(st.sampled_from(["Which run failed?", "Why did dn228 fail?", "Summarise."])),
            }
        )
        calls = [f"call_{turn}_{n}" for n in range(draw(st.integers(1, 2)))]
        messages.append(
            {
                "role": "assistant",
                "content": draw(st.sampled_from([None, "", "Let me look."])),
                "tool_calls": [
                    {
                        "id": c,
                        "type": "function",
                        "function": {"name": draw(st.sampled_from(["list_runs", "fetch_logs"])), "arguments": "{}"},
                    }
                    for c in calls
                ],
            }
        )
        for c in calls:
            reply: dict[str, Any] = {"role": "tool", "tool_call_id": c, "content": draw(tool_outputs)}
            if draw(st.booleans()):
                reply["name"] = draw(st.sampled_from(["list_runs", 7, None, ["x"]]))
            if draw(st.booleans()):
                reply["content"] = [{"type": "text", "text": reply["content"]}]
            messages.append(reply)
    if draw(st.booleans()):
        messages.append({"role": "assistant", "content": "Run 2802600146 failed."})
    if draw(st.booleans()):  # an odd extra key somewhere
        messages[draw(st.integers(0, len(messages) - 1))][draw(st.sampled_from(["metadata", 1]))] = {2: "int key"}
    return messages


def _calls_and_answers(messages: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    calls = [c["id"] for m in messages if m.get("role") == "assistant" for c in m.get("tool_calls") or []]
    answers = [m["tool_call_id"] for m in messages if m.get("role") == "tool"]
    return calls, answers


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _exact(text: str) -> Any:
    """JSON parsed with numbers as written and every key kept (duplicates too)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, object_pairs_hook=list)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(conversations())
def test_compress_keeps_its_promises_on_real_tool_outputs(messages: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(messages)
    try:
        result = headroom.compress(messages, config=CONFIG)
    except HeadroomError:
        return  # a documented, clear error is allowed; anything else fails the test
    assert messages == before
    for transform in result.transforms_applied:
        event(":".join(transform.split(":")[:2]))

    calls, answers = _calls_and_answers(result.messages)
    assert sorted(calls) == sorted(answers)

    named = {key for m in result.messages for key in keys_in_text(_text(m))}
    originals = {r.ccr_key: r.original_text for r in result.reports if r.ccr_key}
    assert named <= set(result.ccr_keys) | set(keys_in_text(json.dumps(before, default=str)))
    for key in named | set(result.ccr_keys):
        stored = headroom.retrieve(key, config=CONFIG)
        if key in originals:
            assert stored == originals[key]

    for report in result.reports:
        if report.transform.startswith("smart_crusher:lossless"):
            decoded = decode_tables(json.loads(report.compressed_text, parse_float=Decimal, parse_int=Decimal))
            assert _pairs(decoded) == _exact(report.original_text)


def _pairs(value: Any) -> Any:
    """``value`` in the form :func:`_exact` parses to: objects as lists of (key, value) pairs."""
    if isinstance(value, dict):
        return [(k, _pairs(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_pairs(v) for v in value]
    return value


def _tool_call(content: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Which run failed?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "list_runs", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": content},
    ]


# The values issue 12 (item 2) found the lossless path changing; the JSON compressor's owner is
# fixing that path. Until then these known cases are expected to fail; nothing else is excused.
KNOWN_LOSSLESS_CASES = [
    '"value": 0.1000000000000000000001',
    '"value": 123456789012345678901234567890.5',
    '"value": 1e400',
    '"status": "failed", "status": "ok"',
]


@pytest.mark.xfail(reason="issue 12 item 2: the lossless JSON path re-serialises values (being fixed)", strict=False)
@pytest.mark.parametrize("odd", KNOWN_LOSSLESS_CASES)
def test_lossless_json_keeps_every_value_as_written(odd: str) -> None:
    rows = [f'{{\n    "id": {i},\n    "status": "ok",\n    "value": 1.5\n  }}' for i in range(40)]
    rows.append(f'{{\n    "id": 40,\n    {odd}\n  }}')
    text = "[\n  " + ",\n  ".join(rows) + "\n]"  # indented, so minifying it pays
    result = headroom.compress(
        _tool_call(text), config=CONFIG, headroom_tool_profiles={"list_runs": {"lossless_only": True}}
    )
    assert [r.transform.split(":")[1] for r in result.reports] == ["lossless"]
    decoded = decode_tables(json.loads(result.reports[0].compressed_text, parse_float=Decimal, parse_int=Decimal))
    assert _pairs(decoded) == _exact(text)
