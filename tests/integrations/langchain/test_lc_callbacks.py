"""HeadroomCallbackHandler: per-call tokens, usage, cost and savings; tool output sizes; totals; thread safety."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from headroom import ModelRegistry
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from headroom_integrations.langchain import HeadroomCallbackHandler, HeadroomChatModel
from tests.support.scripted_server import ScriptedServer, text_reply

USAGE = {"input_tokens": 900, "output_tokens": 12, "total_tokens": 912}


def _model(n: int = 1) -> HeadroomChatModel:
    return HeadroomChatModel(
        FakeMessagesListChatModel(responses=[AIMessage(f"a{i}", usage_metadata=USAGE) for i in range(n)])
    )


def test_records_tokens_before_and_after_usage_cost_and_savings(session_messages: list[BaseMessage]) -> None:
    handler = HeadroomCallbackHandler()
    out = _model().invoke(session_messages, config={"callbacks": [handler]})
    [record] = handler.llm_calls
    facts = out.response_metadata["headroom"]
    assert (record.tokens_before, record.tokens_after) == (facts["tokens_before"], facts["tokens_after"])
    assert record.tokens_saved > 0
    assert (record.input_tokens, record.output_tokens) == (900, 12)
    assert record.cost_usd == pytest.approx(ModelRegistry().cost("gpt-4o", 900, 12))
    assert record.cost_saved_usd == pytest.approx(facts["cost_saved_usd"])
    assert record.latency_s > 0


def test_the_wrapped_models_inner_run_is_not_counted_twice(session_messages: list[BaseMessage]) -> None:
    handler = HeadroomCallbackHandler()
    _model(2).batch([session_messages, session_messages], config={"callbacks": [handler]})
    assert len(handler.llm_calls) == 2


def test_is_thread_safe_under_batch(session_messages: list[BaseMessage]) -> None:
    handler = HeadroomCallbackHandler()
    inputs = [session_messages] * 12
    _model(12).batch(inputs, config={"callbacks": [handler], "max_concurrency": 6})
    records = handler.llm_calls
    assert len(records) == 12 and len({r.run_id for r in records}) == 12
    assert handler.summary().tokens_saved == sum(r.tokens_saved for r in records)


def test_records_async_calls(session_messages: list[BaseMessage]) -> None:
    handler = HeadroomCallbackHandler()
    asyncio.run(_model(3).abatch([session_messages] * 3, config={"callbacks": [handler]}))
    assert len(handler.llm_calls) == 3
    assert all(r.tokens_saved > 0 for r in handler.llm_calls)


def test_records_tool_output_sizes(workflow_runs: str) -> None:
    @tool
    def list_workflow_runs(repo: str) -> str:
        """Workflow runs of a repository."""
        return workflow_runs

    handler = HeadroomCallbackHandler()
    list_workflow_runs.invoke({"repo": "ReDASers/PhishBench"}, config={"callbacks": [handler]})
    [record] = handler.tool_calls
    assert record.name == "list_workflow_runs"
    assert record.output_chars == len(workflow_runs)
    assert record.output_tokens > 50_000


def test_records_provider_errors(session_messages: list[BaseMessage]) -> None:
    handler = HeadroomCallbackHandler()
    with pytest.raises(StopIteration):
        HeadroomChatModel(GenericFakeChatModel(messages=iter([]))).invoke(
            session_messages, config={"callbacks": [handler]}
        )
    [record] = handler.llm_calls
    assert record.error is not None and record.error.startswith("StopIteration")
    assert handler.summary().errors == 1


def test_a_plain_chat_model_is_recorded_from_provider_usage(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI]
) -> None:
    server.script(text_reply("hi", usage={"input_tokens": 40, "output_tokens": 2}))
    handler = HeadroomCallbackHandler()
    chat_openai().invoke("hello", config={"callbacks": [handler]})
    [record] = handler.llm_calls
    assert record.tokens_before is None and record.input_tokens == 40
    assert record.model.startswith("gpt-4o")
    assert handler.summary().tokens_saved == 0


def test_summary_totals_and_readable_output(session_messages: list[BaseMessage]) -> None:
    handler = HeadroomCallbackHandler()
    _model(2).batch([session_messages] * 2, config={"callbacks": [handler]})
    summary = handler.summary()
    assert summary.llm_calls == 2 and summary.input_tokens == 1800 and summary.output_tokens == 24
    assert summary.tokens_before > summary.tokens_after
    assert json.loads(json.dumps(summary.to_dict()))["tokens_saved"] == summary.tokens_saved
    text = str(handler)
    assert f"{summary.tokens_before:,}" in text and "fewer" in text
    assert handler._repr_html_().startswith("<table>") and f"{summary.tokens_after:,}" in handler._repr_html_()


def test_reset_forgets_records(session_messages: list[BaseMessage]) -> None:
    handler = HeadroomCallbackHandler()
    _model().invoke(session_messages, config={"callbacks": [handler]})
    handler.reset()
    assert handler.llm_calls == [] and handler.summary().llm_calls == 0


def test_records_streamed_calls_with_their_compression_facts(session_messages: list[BaseMessage]) -> None:
    handler = HeadroomCallbackHandler()
    model = HeadroomChatModel(GenericFakeChatModel(messages=iter(["Run 2802600146 failed in Lint."])))
    chunks = list(model.stream(session_messages, config={"callbacks": [handler]}))
    [record] = handler.llm_calls
    assert len(chunks) > 3
    assert record.tokens_saved > 0
