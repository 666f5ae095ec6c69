"""Headroom for LangChain: compress what your chains and agents send, keep everything else.

    from headroom_integrations.langchain import HeadroomChatModel
    model = HeadroomChatModel(ChatOpenAI(model="gpt-4o"))   # the one-line change

- :class:`HeadroomChatModel` wraps any chat model (tools, streaming, async, structured output).
- :class:`HeadroomMiddleware` does the same inside ``langchain.agents.create_agent``.
- :class:`HeadroomCallbackHandler` reports tokens, cost and savings per call.
- :func:`compress_tools` crushes tool outputs before they enter the context;
  :func:`compress_messages_hook` is the same step for a custom LangGraph graph.
"""

from __future__ import annotations

from typing import Any

from headroom.about import install_hint

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(f"headroom_integrations.langchain needs LangChain: {install_hint('langchain')}") from exc

from headroom_integrations.langchain.callbacks import (
    CallbackSummary,
    HeadroomCallbackHandler,
    LLMCallRecord,
    ToolCallRecord,
)
from headroom_integrations.langchain.chat_model import HeadroomChatModel
from headroom_integrations.langchain.compression import (
    HEADROOM_EVENT,
    CompressedMessages,
    compress_messages,
    compress_tool_output,
)
from headroom_integrations.langchain.convert import from_openai_messages, to_openai_messages
from headroom_integrations.langchain.retrieval import without_retrieve_calls
from headroom_integrations.langchain.tools import (
    compress_messages_hook,
    compress_tool,
    compress_tools,
    headroom_retrieve_tool,
)

__all__ = [
    "HEADROOM_EVENT",
    "CallbackSummary",
    "CompressedMessages",
    "HeadroomCallbackHandler",
    "HeadroomChatModel",
    "HeadroomMiddleware",
    "LLMCallRecord",
    "ToolCallRecord",
    "compress_messages",
    "compress_messages_hook",
    "compress_tool",
    "compress_tool_output",
    "compress_tools",
    "from_openai_messages",
    "headroom_retrieve_tool",
    "to_openai_messages",
    "without_retrieve_calls",
]


def __getattr__(name: str) -> Any:
    # The middleware needs the `langchain` package (agents), not only langchain-core: import it on use.
    if name == "HeadroomMiddleware":
        try:
            from headroom_integrations.langchain.middleware import HeadroomMiddleware
        except ImportError as exc:
            raise ImportError(
                f"HeadroomMiddleware needs langchain>=1.0 (langchain.agents): {install_hint('langchain')}"
            ) from exc
        return HeadroomMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
