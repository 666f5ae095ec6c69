"""Message digests: equal for what a provider sees as the same message, different otherwise."""

from __future__ import annotations

from pathlib import Path

from headroom.conversation.session import message_digest


def _log(samples_dir: Path) -> str:
    return (samples_dir / "logs" / "HDFS_2k.log").read_text()


def test_same_tool_output_same_digest_whatever_the_key_order(samples_dir: Path) -> None:
    text = _log(samples_dir)
    a = {"role": "tool", "tool_call_id": "c1", "content": text}
    b = {"content": "".join(text), "tool_call_id": "c1", "role": "tool"}
    assert message_digest(a) == message_digest(b)


def test_one_changed_line_or_field_changes_the_digest(samples_dir: Path) -> None:
    text = _log(samples_dir)
    base = {"role": "tool", "tool_call_id": "c1", "content": text}
    assert message_digest(base) != message_digest({**base, "content": text.replace("INFO", "WARN", 1)})
    assert message_digest(base) != message_digest({**base, "tool_call_id": "c2"})
    assert message_digest({"role": "user", "content": "x"}) != message_digest({"role": "user", "name": "x"})


def test_cache_marks_and_a_single_text_part_do_not_change_the_digest() -> None:
    plain = {"role": "user", "content": "which runs failed?"}
    parts = {
        "role": "user",
        "content": [{"type": "text", "text": "which runs failed?", "cache_control": {"type": "ephemeral"}}],
    }
    assert message_digest(plain) == message_digest(parts)
    assert message_digest(plain) != message_digest(parts, ignore_cache_control=False)


def test_lone_surrogates_are_digested_not_rejected() -> None:
    assert message_digest({"role": "tool", "content": "bad \ud800 byte"}) != message_digest(
        {"role": "tool", "content": "bad"}
    )
