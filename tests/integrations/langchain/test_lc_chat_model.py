"""HeadroomChatModel over LangChain's own fake chat models: what the wrapped model receives and returns."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import headroom
import pytest
from headroom import metrics
from headroom.errors import ConfigurationError, InvalidArgumentError
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

from headroom_integrations.langchain import HeadroomChatModel
from tests.integrations.langchain.lc_helpers import FAILED_RUN_ID, SYSTEM_PROMPT


class _Received(BaseCallbackHandler):
    """Records the messages each chat model run was started with (what the wrapped model was given)."""

    def __init__(self) -> None:
        self.runs: list[tuple[Any, list[BaseMessage]]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: Any, parent_run_id: Any = None, **kwargs: Any
    ) -> None:
        self.runs.append((parent_run_id, messages[0]))

    def inner(self) -> list[BaseMessage]:
        """Messages of the last run that has a parent (the wrapped model's run)."""
        return [msgs for parent, msgs in self.runs if parent is not None][-1]


def _answer(text: str = "Run 2802600146 (Lint) failed.") -> AIMessage:
    return AIMessage(
        text,
        usage_metadata={"input_tokens": 900, "output_tokens": 12, "total_tokens": 912},
        response_metadata={"model_name": "gpt-4o-2024-08-06", "finish_reason": "stop"},
    )


def test_wrapped_model_receives_the_compressed_tool_output(session_messages: list[BaseMessage]) -> None:
    received = _Received()
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()]))
    model.invoke(session_messages, config={"callbacks": [received]})
    tool = received.inner()[-1]
    assert isinstance(tool, ToolMessage)
    assert len(tool.content) < len(session_messages[-1].content) / 2
    assert str(FAILED_RUN_ID) in tool.content  # the run the question is about is still there verbatim


def test_unchanged_messages_reach_the_wrapped_model_as_the_same_objects(session_messages: list[BaseMessage]) -> None:
    received = _Received()
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()]))
    model.invoke(session_messages, config={"callbacks": [received]})
    inner = received.inner()
    assert [m.id for m in inner] == [m.id for m in session_messages]
    assert inner[0].content == SYSTEM_PROMPT
    assert inner[2].tool_calls == session_messages[2].tool_calls
    assert inner[3].tool_call_id == "call_runs"


def test_the_callers_messages_are_not_mutated(session_messages: list[BaseMessage]) -> None:
    before = [m.model_copy(deep=True) for m in session_messages]
    HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()])).invoke(session_messages)
    assert session_messages == before


def test_usage_and_response_metadata_are_preserved_and_facts_added(session_messages: list[BaseMessage]) -> None:
    out = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()])).invoke(session_messages)
    assert out.usage_metadata == {"input_tokens": 900, "output_tokens": 12, "total_tokens": 912}
    assert out.response_metadata["model_name"] == "gpt-4o-2024-08-06"
    assert out.response_metadata["finish_reason"] == "stop"
    facts = out.response_metadata["headroom"]
    assert facts["tokens_after"] < facts["tokens_before"]
    assert facts["mode"] == "optimize"
    assert facts["ccr_keys"]


def test_tool_calls_and_their_ids_are_returned_untouched(session_messages: list[BaseMessage]) -> None:
    call = {"id": "call_42", "name": "rerun_workflow", "args": {"run_id": FAILED_RUN_ID}, "type": "tool_call"}
    out = HeadroomChatModel(FakeMessagesListChatModel(responses=[AIMessage("", tool_calls=[call])])).invoke(
        session_messages
    )
    assert out.tool_calls == [call]


def test_wrapped_model_may_be_given_by_keyword() -> None:
    model = HeadroomChatModel(wrapped_model=GenericFakeChatModel(messages=iter(["ok"])))
    assert model.invoke("hi").content == "ok"


def test_rejects_a_wrapped_model_that_is_not_a_chat_model() -> None:
    with pytest.raises(InvalidArgumentError, match="BaseChatModel"):
        HeadroomChatModel("gpt-4o")  # type: ignore[arg-type]


def test_stream_yields_the_wrapped_models_chunks_as_they_come(session_messages: list[BaseMessage]) -> None:
    text = "Run 2802600146 of the Lint workflow failed on the scipy-fix branch."
    model = HeadroomChatModel(GenericFakeChatModel(messages=iter([text])))
    chunks = list(model.stream(session_messages))
    with_text = [c for c in chunks if c.content]
    assert len(with_text) >= 10  # word by word, not one buffered message
    assert "".join(c.content for c in chunks) == text
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.response_metadata["headroom"]["tokens_after"] < merged.response_metadata["headroom"]["tokens_before"]


def test_astream_yields_several_chunks(session_messages: list[BaseMessage]) -> None:
    model = HeadroomChatModel(GenericFakeChatModel(messages=iter(["one two three four five"])))

    async def collect() -> list[str]:
        return [c.content async for c in model.astream(session_messages)]

    contents = asyncio.run(collect())
    assert [c for c in contents if c] == ["one", " ", "two", " ", "three", " ", "four", " ", "five"]


def test_ainvoke_compresses_like_invoke(session_messages: list[BaseMessage]) -> None:
    received = _Received()
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()]))
    out = asyncio.run(model.ainvoke(session_messages, config={"callbacks": [received]}))
    assert out.response_metadata["headroom"]["tokens_saved"] > 0
    assert len(received.inner()[-1].content) < len(session_messages[-1].content) / 2


def test_batch_and_abatch_compress_every_input(session_messages: list[BaseMessage]) -> None:
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer("a"), _answer("b")]))
    outs = model.batch([session_messages, session_messages], config={"max_concurrency": 2})
    aouts = asyncio.run(model.abatch([session_messages, session_messages]))
    assert all(o.response_metadata["headroom"]["tokens_saved"] > 0 for o in [*outs, *aouts])


def test_audit_override_in_invoke_sends_the_original(session_messages: list[BaseMessage]) -> None:
    received = _Received()
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()]))
    out = model.invoke(session_messages, config={"callbacks": [received]}, headroom_mode="audit")
    assert received.inner()[-1].content == session_messages[-1].content
    assert out.response_metadata["headroom"]["mode"] == "audit"
    assert out.response_metadata["headroom"]["optimized_tokens"] < out.response_metadata["headroom"]["tokens_before"]


def test_override_in_runnable_config_configurable_applies(session_messages: list[BaseMessage]) -> None:
    received = _Received()
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()]))
    profiles = {"list_workflow_runs": {"skip_compression": True}}
    model.invoke(
        session_messages, config={"callbacks": [received], "configurable": {"headroom_tool_profiles": profiles}}
    )
    assert received.inner()[-1].content == session_messages[-1].content


def test_simulate_mode_never_calls_the_wrapped_model(session_messages: list[BaseMessage]) -> None:
    wrapped = FakeMessagesListChatModel(responses=[_answer()])
    out = HeadroomChatModel(wrapped, mode="simulate").invoke(session_messages)
    assert wrapped.i == 0
    simulated = out.response_metadata["headroom"]["simulated_messages"]
    assert len(simulated[-1]["content"]) < len(session_messages[-1].content) / 2


def test_an_invalid_override_is_the_callers_error(session_messages: list[BaseMessage]) -> None:
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()]))
    with pytest.raises(ConfigurationError, match="headroom_keep_turn"):
        model.invoke(session_messages, headroom_keep_turn=3)


def test_compression_failure_sends_the_original_and_is_counted(
    session_messages: list[BaseMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tokenizer exploded")

    monkeypatch.setattr(headroom, "compress", broken)
    received = _Received()
    before = metrics.snapshot().get("errors.langchain.compress", 0)
    out = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()])).invoke(
        session_messages, config={"callbacks": [received]}
    )
    assert [m.content for m in received.inner()] == [m.content for m in session_messages]
    assert metrics.snapshot()["errors.langchain.compress"] == before + 1
    assert out.response_metadata["headroom"]["failed_open"] == "RuntimeError: tokenizer exploded"


def test_wrapped_model_errors_propagate_with_their_own_type(session_messages: list[BaseMessage]) -> None:
    model = HeadroomChatModel(GenericFakeChatModel(messages=iter([])))  # next() on an empty iterator
    with pytest.raises(StopIteration):
        model.invoke(session_messages)


def test_trace_stays_whole_with_run_name_tags_and_metadata(session_messages: list[BaseMessage]) -> None:
    collector = RunCollectorCallbackHandler()
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()]))
    model.invoke(
        session_messages,
        config={"callbacks": [collector], "run_name": "triage", "tags": ["ci"], "metadata": {"team": "infra"}},
    )
    outer = next(r for r in collector.traced_runs if r.name == "triage")
    assert "ci" in outer.tags and outer.extra["metadata"]["team"] == "infra"
    inner = outer.child_runs[0]
    assert inner.name == "FakeMessagesListChatModel"
    assert "ci" in inner.tags and inner.extra["metadata"]["team"] == "infra"


def test_bind_tools_on_a_model_without_tool_support_raises_like_the_model() -> None:
    model = HeadroomChatModel(GenericFakeChatModel(messages=iter(["x"])))
    with pytest.raises(NotImplementedError):
        model.bind_tools([{"type": "function", "function": {"name": "f", "parameters": {}}}])


def test_counting_model_comes_from_the_wrapped_model() -> None:
    from langchain_openai import ChatOpenAI

    wrapped = ChatOpenAI(model="gpt-4o-mini", api_key="test", base_url="http://127.0.0.1:9/v1")
    assert HeadroomChatModel(wrapped).counting_model == "gpt-4o-mini"
    assert HeadroomChatModel(GenericFakeChatModel(messages=iter([]))).counting_model == "gpt-4o"
    assert HeadroomChatModel(wrapped, model_name="claude-sonnet-4-5").counting_model == "claude-sonnet-4-5"


def test_output_is_still_valid_json_of_the_same_shape(session_messages: list[BaseMessage]) -> None:
    received = _Received()
    HeadroomChatModel(FakeMessagesListChatModel(responses=[_answer()])).invoke(
        session_messages, config={"callbacks": [received]}
    )
    runs = json.loads(received.inner()[-1].content)
    assert isinstance(runs, list)
    assert any(r.get("id") == FAILED_RUN_ID and r.get("conclusion") == "failure" for r in runs if "id" in r)
