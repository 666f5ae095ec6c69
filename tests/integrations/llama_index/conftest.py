"""Fixtures for the LlamaIndex adapter: real nodes from the sample files, and an event recorder.

The recorder listens on LlamaIndex's root instrumentation dispatcher, so tests see exactly what
the LLM was given (``LLMCompletionStartEvent.prompt``, ``LLMChatStartEvent.messages``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

WORKFLOW_RUNS = "PullRequest2408.test_get_workflow_runs.85.json"
ISSUES = "Repository.testGetIssuesWithArguments.103.json"


class EventRecorder(BaseEventHandler):
    """Keeps every instrumentation event LlamaIndex dispatches while installed."""

    events: list[Any] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "HeadroomTestEventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def recorder() -> Iterator[EventRecorder]:
    rec = EventRecorder()
    root = get_dispatcher()
    root.add_event_handler(rec)
    try:
        yield rec
    finally:
        root.event_handlers.remove(rec)


def json_node(path: Path, node_id: str | None = None) -> TextNode:
    """One node holding a whole recorded GitHub API response (valid JSON, as a JSON loader makes it)."""
    body = json.loads(path.read_text())["body"]
    return TextNode(
        id_=node_id or path.stem,
        text=json.dumps(body, indent=2),
        metadata={"file_name": path.name, "kind": "github_api"},
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{path.stem}")},
    )


def log_nodes(path: Path, lines_per_node: int, limit: int) -> list[TextNode]:
    """Consecutive chunks of a real log, linked PREVIOUS/NEXT like a splitter links them."""
    lines = path.read_text().splitlines(keepends=True)
    chunks = ["".join(lines[i : i + lines_per_node]) for i in range(0, len(lines), lines_per_node)][:limit]
    nodes = [
        TextNode(
            id_=f"{path.stem}-{i}",
            text=chunk,
            metadata={"file_name": path.name, "chunk": i},
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{path.stem}")},
        )
        for i, chunk in enumerate(chunks)
    ]
    for a, b in itertools.pairwise(nodes):
        a.relationships[NodeRelationship.NEXT] = RelatedNodeInfo(node_id=b.node_id)
        b.relationships[NodeRelationship.PREVIOUS] = RelatedNodeInfo(node_id=a.node_id)
    return nodes


@pytest.fixture(scope="session")
def sample_json_dir(samples_dir: Path) -> Path:
    return samples_dir / "json"


@pytest.fixture(scope="session")
def sample_logs_dir(samples_dir: Path) -> Path:
    return samples_dir / "logs"
