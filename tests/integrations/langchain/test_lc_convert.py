"""Message conversion: what the core leaves alone comes back as the same object; rewrites keep identity fields."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from headroom_integrations.langchain.convert import ORIGIN_KEY, from_openai_messages, strip_origin, to_openai_messages


def _session() -> list:
    return [
        SystemMessage("You triage CI failures.", id="s"),
        HumanMessage([{"type": "text", "text": "Which run failed?"}], id="h"),
        AIMessage(
            "",
            id="a",
            tool_calls=[{"id": "c1", "name": "runs", "args": {"repo": "x"}}],
            response_metadata={"model_name": "gpt-4o"},
            usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
        ),
        ToolMessage(
            '[{"id": 1, "conclusion": "failure"}]', tool_call_id="c1", name="runs", id="t", artifact={"raw": True}
        ),
    ]


def test_outgoing_dicts_are_openai_format_with_a_private_origin() -> None:
    dicts = to_openai_messages(_session())
    assert [strip_origin(d)["role"] for d in dicts] == ["system", "user", "assistant", "tool"]
    assert dicts[3][ORIGIN_KEY] == (3, 0, 1)
    assert strip_origin(dicts[2])["tool_calls"][0]["id"] == "c1"


def test_unchanged_dicts_come_back_as_the_original_objects() -> None:
    session = _session()
    back = from_openai_messages(to_openai_messages(session), session)
    assert all(a is b for a, b in zip(back, session, strict=True))


def test_rewritten_content_keeps_id_call_id_name_and_artifact() -> None:
    session = _session()
    dicts = to_openai_messages(session)
    dicts[3] = {**dicts[3], "content": "[1 item kept]"}
    back = from_openai_messages(dicts, session)
    tool = back[3]
    assert isinstance(tool, ToolMessage) and tool.content == "[1 item kept]"
    assert (tool.id, tool.tool_call_id, tool.name, tool.artifact) == ("t", "c1", "runs", {"raw": True})
    assert back[2] is session[2]


def test_dropped_messages_are_dropped_and_new_ones_are_built() -> None:
    session = _session()
    dicts = to_openai_messages(session)
    marker = {"role": "user", "content": "[2 earlier messages omitted; key hr_1]"}
    back = from_openai_messages([dicts[0], marker, dicts[2], dicts[3]], session)
    assert back[0] is session[0] and back[2] is session[2] and back[3] is session[3]
    assert isinstance(back[1], HumanMessage) and back[1].content == marker["content"]


def test_anthropic_tool_result_blocks_round_trip_unchanged() -> None:
    carrier = HumanMessage(
        [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}, {"type": "text", "text": "and now?"}],
        id="u",
    )
    session = [
        HumanMessage("hi", id="h0"),
        AIMessage("", tool_calls=[{"id": "toolu_1", "name": "f", "args": {}}]),
        carrier,
    ]
    dicts = to_openai_messages(session)
    assert len(dicts) > len(session)  # the tool_result became an OpenAI tool message
    back = from_openai_messages(dicts, session)
    assert back[-1] is carrier
