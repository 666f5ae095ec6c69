"""POST /v1/compress and GET|POST /v1/retrieve on the real proxy (uvicorn on a loopback port)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.proxy_server import RunningProxy


@pytest.fixture
def http(proxy: RunningProxy) -> httpx.Client:
    return httpx.Client(base_url=proxy.base_url, timeout=30)


def test_compress_returns_smaller_messages_and_the_figures(
    http: httpx.Client, openai_messages: list[dict[str, Any]]
) -> None:
    response = http.post("/v1/compress", json={"messages": openai_messages, "model": "gpt-4o"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"messages", "tokens_before", "tokens_after", "tokens_saved", "compression_ratio",
                         "transforms_applied", "ccr_keys", "mode", "model", "notes"}  # fmt: skip
    assert body["tokens_after"] < body["tokens_before"]
    assert body["tokens_saved"] == body["tokens_before"] - body["tokens_after"]
    assert body["mode"] == "optimize" and body["model"] == "gpt-4o"
    assert len(body["messages"]) == len(openai_messages)
    assert len(body["messages"][-1]["content"]) < len(openai_messages[-1]["content"])


def test_compressed_content_keeps_the_failed_run(
    http: httpx.Client, openai_messages: list[dict[str, Any]], failed_run: dict[str, Any]
) -> None:
    body = http.post("/v1/compress", json={"messages": openai_messages}).json()
    kept = json.loads(body["messages"][-1]["content"])
    assert failed_run["id"] in [item.get("id") for item in kept if isinstance(item, dict)]


def test_every_key_retrieves_the_original_byte_for_byte(
    http: httpx.Client, openai_messages: list[dict[str, Any]]
) -> None:
    keys = http.post("/v1/compress", json={"messages": openai_messages}).json()["ccr_keys"]
    assert keys
    original = openai_messages[-1]["content"]
    by_get = http.get("/v1/retrieve", params={"key": keys[0]})
    by_post = http.post("/v1/retrieve", json={"key": keys[0]})
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.json() == by_post.json() == {"key": keys[0], "content": original}


def test_retrieve_with_a_query_returns_the_matching_items(
    http: httpx.Client, openai_messages: list[dict[str, Any]], failed_run: dict[str, Any]
) -> None:
    key = http.post("/v1/compress", json={"messages": openai_messages}).json()["ccr_keys"][0]
    body = http.get("/v1/retrieve", params={"key": key, "query": str(failed_run["id"])}).json()
    assert body["key"] == key and body["query"] == str(failed_run["id"])
    assert body["matches"][0]["id"] == failed_run["id"]


def test_unknown_key_is_404(http: httpx.Client) -> None:
    response = http.get("/v1/retrieve", params={"key": "hr_0000000000000000"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_audit_mode_returns_the_messages_unchanged_with_what_optimize_would_save(
    http: httpx.Client, openai_messages: list[dict[str, Any]]
) -> None:
    body = http.post("/v1/compress", json={"messages": openai_messages, "mode": "audit"}).json()
    assert body["messages"] == openai_messages
    assert body["mode"] == "audit" and body["tokens_saved"] == 0


def test_config_overrides_apply_to_this_request(http: httpx.Client, openai_messages: list[dict[str, Any]]) -> None:
    profiles = {"list_workflow_runs": {"skip_compression": True}}
    body = http.post("/v1/compress", json={"messages": openai_messages, "config": {"tool_profiles": profiles}}).json()
    assert body["messages"] == openai_messages
    assert any("skip_compression" in note for note in body["notes"])


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"model": "gpt-4o"}, "'messages' is required"),
        ({"messages": "hello"}, "messages must be a list"),
        ({"messages": [{"content": "no role"}]}, "no string 'role'"),
        ({"messages": [], "mode": "fast"}, "'audit', 'optimize', 'simulate'"),
        ({"messages": [], "config": {"temperature": 0}}, "unknown config override 'temperature'"),
        ({"messages": [], "config": {"keep_turns": -1}}, "keep_turns"),
        ({"messages": [], "model": 4}, "'model' must be"),
        ({"messages": [], "colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_bad_input_is_a_400_that_says_what_is_wrong(http: httpx.Client, payload: dict[str, Any], fragment: str) -> None:
    response = http.post("/v1/compress", json=payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"]


def test_a_body_that_is_not_json_is_a_400(http: httpx.Client) -> None:
    response = http.post("/v1/compress", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_retrieve_without_a_key_is_a_400(http: httpx.Client) -> None:
    assert http.get("/v1/retrieve").status_code == 400
    assert http.post("/v1/retrieve", json={"query": "x"}).status_code == 400


def test_a_stateless_proxy_keeps_its_store_in_memory(start_proxy: Any, openai_messages: list[dict[str, Any]]) -> None:
    workspace = Path(os.environ["HEADROOM_WORKSPACE_DIR"])
    with start_proxy(stateless=True, store_url=None) as running:
        http = httpx.Client(base_url=running.base_url, timeout=30)
        key = http.post("/v1/compress", json={"messages": openai_messages}).json()["ccr_keys"][0]
        http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": openai_messages})
        assert http.get("/v1/retrieve", params={"key": key}).json()["content"] == openai_messages[-1]["content"]
        stats = http.get("/stats").json()
    assert stats["store"]["url"] == "sqlite://"
    assert stats["requests"]["by_endpoint"] == {"compress": 1, "chat": 1, "retrieve": 1}
    assert not workspace.exists() or list(workspace.iterdir()) == []
