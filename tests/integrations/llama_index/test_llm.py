"""HeadroomLLM / HeadroomFunctionCallingLLM around real LlamaIndex mock LLMs, agents and chat engines."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom import metrics
from headroom.tokens import get_counter
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.instrumentation.events.llm import LLMChatStartEvent
from llama_index.core.llms import MockLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.mock import (
    MockFunctionCallingLLMWithChatMemoryOfLastCall,
    MockLLMWithChatMemoryOfLastCall,
)
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool

from headroom_integrations.llama_index import HeadroomFunctionCallingLLM, HeadroomLLM, wrap_llm

from .conftest import WORKFLOW_RUNS

FAILED_RUN = "2802600146"
COUNTER = get_counter("gpt-4o")


@pytest.fixture
def runs_json(sample_json_dir: Path) -> str:
    return json.dumps(json.loads((sample_json_dir / WORKFLOW_RUNS).read_text())["body"])


def tool_turn(runs_json: str) -> list[ChatMessage]:
    """A tool-calling turn as LlamaIndex agents record it: question, tool call block, tool result."""
    return [
        ChatMessage(role=MessageRole.SYSTEM, content="You answer questions about this repository's CI."),
        ChatMessage(role=MessageRole.USER, content="Which workflow run failed?"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[ToolCallBlock(tool_call_id="call_1", tool_name="list_workflow_runs", tool_kwargs={})],
        ),
        ChatMessage(role=MessageRole.TOOL, content=runs_json, additional_kwargs={"tool_call_id": "call_1"}),
    ]


async def _consume_async(gen: Any) -> None:
    async for _ in gen:
        pass


def call(llm: HeadroomLLM, method: str, messages: list[ChatMessage]) -> None:
    if method == "chat":
        llm.chat(messages)
    elif method == "stream_chat":
        list(llm.stream_chat(messages))
    elif method == "achat":
        asyncio.run(llm.achat(messages))
    else:

        async def run() -> None:
            await _consume_async(await llm.astream_chat(messages))

        asyncio.run(run())


@pytest.mark.parametrize("method", ["chat", "stream_chat", "achat", "astream_chat"])
def test_wrapped_llm_receives_the_compressed_tool_output(method: str, runs_json: str) -> None:
    inner = MockLLMWithChatMemoryOfLastCall(max_tokens=5)
    llm = wrap_llm(inner, model="gpt-4o")

    call(llm, method, tool_turn(runs_json))

    sent = inner.last_chat_messages
    assert sent is not None
    assert COUNTER.count(sent[-1].content) < COUNTER.count(runs_json) / 2
    assert FAILED_RUN in sent[-1].content


def test_a_chat_call_does_not_tokenize_the_conversation(runs_json: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tokenized: list[int] = []
    real = COUNTER._count_uncached
    monkeypatch.setattr(COUNTER, "_count_uncached", lambda text: tokenized.append(len(text)) or real(text))
    monkeypatch.setattr(COUNTER, "_cache", type(COUNTER._cache)())
    inner = MockLLMWithChatMemoryOfLastCall(max_tokens=5)
    llm = wrap_llm(inner, model="gpt-4o")
    llm.chat(tool_turn(runs_json))
    assert tokenized == []  # compressing decided by size; exact counts wait for whoever reads them
    assert inner.last_chat_messages is not None and FAILED_RUN in inner.last_chat_messages[-1].content
    result = llm.last_result
    assert result is not None and result.tokens_before > 2 * result.tokens_after


def test_instrumentation_only_ever_shows_the_compressed_messages(runs_json: str, recorder) -> None:
    llm = wrap_llm(MockLLMWithChatMemoryOfLastCall(max_tokens=5), model="gpt-4o")

    llm.chat(tool_turn(runs_json))

    starts = recorder.of(LLMChatStartEvent)
    assert starts  # the wrapper emits no LLM event of its own, so none carries the raw tool output
    assert all(len(e.messages[-1].content) < len(runs_json) / 2 for e in starts)


def test_tool_call_blocks_and_ids_reach_the_wrapped_llm(runs_json: str) -> None:
    inner = MockLLMWithChatMemoryOfLastCall(max_tokens=5)
    messages = tool_turn(runs_json)

    wrap_llm(inner, model="gpt-4o").chat(messages)

    sent = inner.last_chat_messages
    assert sent[2] is messages[2]
    assert sent[3].additional_kwargs == {"tool_call_id": "call_1"}
    assert sent[3].role == MessageRole.TOOL


def test_elided_tool_output_is_retrievable(runs_json: str) -> None:
    llm = wrap_llm(MockLLMWithChatMemoryOfLastCall(max_tokens=5), model="gpt-4o")

    llm.chat(tool_turn(runs_json))

    assert llm.last_result is not None and llm.last_result.ccr_keys
    assert headroom.retrieve(llm.last_result.ccr_keys[0]) == runs_json


def test_short_messages_reach_the_wrapped_llm_untouched() -> None:
    inner = MockLLMWithChatMemoryOfLastCall(max_tokens=5)
    messages = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hello?")]

    wrap_llm(inner).chat(messages)

    assert all(a is b for a, b in zip(inner.last_chat_messages, messages, strict=True))


def test_audit_mode_measures_but_sends_the_originals(runs_json: str) -> None:
    inner = MockLLMWithChatMemoryOfLastCall(max_tokens=5)
    messages = tool_turn(runs_json)
    llm = wrap_llm(inner, model="gpt-4o", mode="audit")

    llm.chat(messages)

    assert inner.last_chat_messages[-1] is messages[-1]
    assert llm.last_result is not None and llm.last_result.potential_tokens_saved > 0


def test_internal_error_sends_the_originals_and_is_counted(runs_json: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated core failure")

    monkeypatch.setattr(headroom, "compress", broken)
    inner = MockLLMWithChatMemoryOfLastCall(max_tokens=5)
    messages = tool_turn(runs_json)
    before = metrics.snapshot().get("errors.llama_index.llm", 0)

    wrap_llm(inner).chat(messages)

    assert inner.last_chat_messages[-1] is messages[-1]
    assert metrics.snapshot()["errors.llama_index.llm"] == before + 1


def test_wrap_llm_keeps_function_calling_only_where_the_llm_has_it() -> None:
    plain = wrap_llm(MockLLM())
    calling = wrap_llm(MockFunctionCallingLLMWithChatMemoryOfLastCall())

    assert type(plain) is HeadroomLLM and not isinstance(plain, FunctionCallingLLM)
    assert isinstance(calling, HeadroomFunctionCallingLLM) and isinstance(calling, FunctionCallingLLM)
    assert calling.metadata.is_function_calling_model
    assert wrap_llm(calling) is calling


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # llama-index workflows inspect pydantic models
def test_function_agent_calls_the_tool_and_the_llm_sees_its_output_compressed(runs_json: str) -> None:
    calls: list[str] = []

    def list_workflow_runs() -> str:
        """List the repository's recent GitHub Actions workflow runs."""
        calls.append("list_workflow_runs")
        return runs_json

    inner = MockFunctionCallingLLMWithChatMemoryOfLastCall()
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(list_workflow_runs)], llm=wrap_llm(inner, model="gpt-4o"))

    async def run() -> Any:
        return await agent.run("Which workflow run failed?")

    result = asyncio.run(run())

    assert calls == ["list_workflow_runs"]
    assert "Tool calls complete" in str(result)
    tool_msg = inner.last_chat_messages[-1]
    assert tool_msg.role == MessageRole.TOOL
    assert any(isinstance(b, ToolCallBlock) for b in inner.last_chat_messages[-2].blocks)
    assert FAILED_RUN in tool_msg.content and len(tool_msg.content) < len(runs_json) / 2


def test_chat_with_tools_passes_tools_and_tool_calls_through(runs_json: str) -> None:
    def list_workflow_runs() -> str:
        """List the repository's recent GitHub Actions workflow runs."""
        return runs_json

    tool = FunctionTool.from_defaults(list_workflow_runs)
    llm = wrap_llm(MockFunctionCallingLLMWithChatMemoryOfLastCall(), model="gpt-4o")

    response = llm.chat_with_tools([tool], user_msg="Which workflow run failed?")
    selections = llm.get_tool_calls_from_response(response)

    assert [s.tool_name for s in selections] == ["list_workflow_runs"]


def test_chat_engine_history_is_compressed(sample_logs_dir: Path) -> None:
    log = (sample_logs_dir / "OpenSSH_2k.log").read_text()
    inner = MockLLMWithChatMemoryOfLastCall(max_tokens=5)
    history = [
        ChatMessage(role="user", content=log),
        ChatMessage(role="assistant", content="That is an OpenSSH server log."),
    ]
    engine = SimpleChatEngine.from_defaults(
        llm=wrap_llm(inner, model="gpt-4o"),
        memory=ChatMemoryBuffer.from_defaults(chat_history=history, token_limit=200_000),
    )

    engine.chat("Which IPs failed password authentication most often?")

    pasted = inner.last_chat_messages[0].content
    assert COUNTER.count(pasted) < COUNTER.count(log) / 4
    assert "Failed password" in pasted
    assert inner.last_chat_messages[-1].content == "Which IPs failed password authentication most often?"


def test_image_blocks_of_a_compressed_message_are_kept(runs_json: str) -> None:
    from llama_index.core.base.llms.types import ImageBlock

    inner = MockLLMWithChatMemoryOfLastCall(max_tokens=5)
    messages = tool_turn(runs_json)
    image = ImageBlock(url="https://example.invalid/chart.png")
    messages[-1] = ChatMessage(
        role=MessageRole.TOOL, blocks=[TextBlock(text=runs_json), image], additional_kwargs={"tool_call_id": "call_1"}
    )

    wrap_llm(inner, model="gpt-4o").chat(messages)

    sent = inner.last_chat_messages[-1]
    assert sent.blocks[-1] == image
    assert len(sent.content) < len(runs_json)


def test_predict_and_call_runs_the_selected_tool(runs_json: str) -> None:
    def list_workflow_runs() -> str:
        """List the repository's recent GitHub Actions workflow runs."""
        return runs_json

    llm = wrap_llm(MockFunctionCallingLLMWithChatMemoryOfLastCall(), model="gpt-4o")

    response = llm.predict_and_call([FunctionTool.from_defaults(list_workflow_runs)], user_msg="Which run failed?")

    assert response.sources[0].tool_name == "list_workflow_runs"
    assert response.response == runs_json
