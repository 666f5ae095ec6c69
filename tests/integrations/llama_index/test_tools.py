"""retrieve_tool: an agent reads back what compression omitted, through a real LlamaIndex FunctionTool."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from headroom.text import compress_text
from llama_index.core.tools import FunctionTool

from headroom_integrations.llama_index import retrieve_tool

from .conftest import WORKFLOW_RUNS

FAILED_RUN = "2802600146"


def test_is_a_function_tool_named_like_the_core_tool() -> None:
    tool = retrieve_tool()

    assert isinstance(tool, FunctionTool)
    assert tool.metadata.name == "headroom_retrieve"
    assert tool.metadata.get_parameters_dict()["required"] == ["key"]


def test_query_returns_the_matching_omitted_records(sample_json_dir: Path) -> None:
    text = json.dumps(json.loads((sample_json_dir / WORKFLOW_RUNS).read_text())["body"])
    key = compress_text(text, query="latest runs", max_tokens=1000).ccr_keys[-1]

    output = retrieve_tool().call(key=key, query=FAILED_RUN)

    assert not output.is_error
    assert json.loads(output.content)[0]["id"] == int(FAILED_RUN)


def test_whole_original_comes_back_without_query(sample_json_dir: Path) -> None:
    text = json.dumps(json.loads((sample_json_dir / WORKFLOW_RUNS).read_text())["body"])
    key = compress_text(text, query="latest runs", max_tokens=1000).ccr_keys[-1]

    output = asyncio.run(retrieve_tool().acall(key=key))

    assert output.content == text


def test_unknown_key_is_reported_as_text_not_raised() -> None:
    output = retrieve_tool().call(key="hr_0000000000000000")

    assert output.content.startswith("error:")
