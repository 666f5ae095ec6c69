"""Fixtures of the conversation tests: agent conversations over the bundled real samples and the corpus."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from headroom.compressors.router import result_cache
from headroom.conversation import cache_hints, prefix_freeze
from headroom.session_bench import SessionTurn, build_agent_session

SYSTEM = "You are an SRE assistant. Use the tools to read logs and the GitHub API; quote ids and log lines exactly."


@pytest.fixture(autouse=True)
def _fresh_conversation_state() -> Iterator[None]:
    """Every test starts with no remembered conversations and an empty result cache."""
    prefix_freeze.forget_sessions()
    cache_hints.forget_sessions()
    result_cache.clear()
    yield
    prefix_freeze.forget_sessions()
    cache_hints.forget_sessions()


@pytest.fixture(scope="session")
def corpus_session(corpus_dir: Path) -> list[SessionTurn]:
    """The 20-turn agent session of the session benchmark, over the full corpus."""
    return build_agent_session(corpus_dir, 20)


def _log_lines(samples_dir: Path, name: str) -> list[str]:
    return (samples_dir / "logs" / name).read_text(encoding="utf-8", errors="replace").splitlines()


@pytest.fixture
def log_conversation(samples_dir: Path) -> Callable[..., list[dict[str, Any]]]:
    """Build an agent conversation reading 20-line chunks of the bundled logs, one tool call per turn.

    ``parallel`` turns issue two read_log calls in one assistant message; the last turn ends
    with its tool results (the model is about to answer).
    """

    def build(turns: int = 6, *, parallel: bool = False, chunk: int = 20) -> list[dict[str, Any]]:
        logs = ["HDFS_2k.log", "BGL_2k.log", "OpenSSH_2k.log", "Hadoop_2k.log"]
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
        call = 0
        for t in range(turns):
            names = [logs[t % 4], logs[(t + 1) % 4]] if parallel else [logs[t % 4]]
            start = 100 + t * chunk
            messages.append(
                {
                    "role": "user",
                    "content": f"Turn {t}: what happens in lines {start}-{start + chunk} of {', '.join(names)}?",
                }
            )
            calls = []
            for name in names:
                call += 1
                calls.append(
                    {
                        "id": f"call_{call}",
                        "type": "function",
                        "function": {"name": "read_log", "arguments": json.dumps({"file": name, "start": start})},
                    }
                )
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            for c, name in zip(calls, names):
                text = "\n".join(_log_lines(samples_dir, name)[start : start + chunk])
                messages.append({"role": "tool", "tool_call_id": c["id"], "content": text})
            if t < turns - 1:  # the last turn ends with its tool results
                messages.append({"role": "assistant", "content": f"Turn {t}: the lines show routine activity."})
        return messages

    return build
