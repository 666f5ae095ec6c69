"""A LangChain message whose content part has no ``type`` (LangChain's converter raises KeyError on it)."""

from __future__ import annotations

import json
from pathlib import Path

import headroom
from headroom.config import HeadroomConfig
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from headroom_integrations.langchain import HeadroomChatModel
from headroom_integrations.langchain.compression import compress_messages
from headroom_integrations.langchain.retrieval import start_rounds

RUNS = "PullRequest2408.test_get_workflow_runs.85.json"


def _messages(samples_dir: Path) -> list[BaseMessage]:
    runs = json.dumps(json.loads((samples_dir / "json" / RUNS).read_text())["body"])
    compressed = headroom.compress(
        [
            {"role": "user", "content": "Which workflow run failed?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "list_runs", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": runs},
        ],
        config=HeadroomConfig(),
    )
    marker_text = compressed.messages[-1]["content"]  # already compressed: its marker names a stored key
    return [
        HumanMessage(content=[{"text": "Which workflow run failed?"}]),  # a part without "type"
        AIMessage("", tool_calls=[{"id": "c1", "name": "list_runs", "args": {}}]),
        ToolMessage(marker_text, tool_call_id="c1"),
    ]


def test_a_content_part_without_type_does_not_break_the_call(samples_dir: Path) -> None:
    model = HeadroomChatModel(FakeMessagesListChatModel(responses=[AIMessage("Run 2802600146 failed.")]))
    out = model.invoke(_messages(samples_dir))
    assert out.content == "Run 2802600146 failed."


def test_markers_in_the_other_messages_still_offer_the_retrieve_tool(samples_dir: Path) -> None:
    prepared = compress_messages(_messages(samples_dir))  # fails open: LangChain cannot convert the first message
    rounds = start_rounds(prepared)
    assert prepared.failed_open and rounds.offer_tool()
