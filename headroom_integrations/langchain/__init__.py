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

from headroom_integrations.langchain.chat_model import HeadroomChatModel
from headroom_integrations.langchain.compression import CompressedMessages, compress_messages, compress_tool_output

__all__ = [
    "CompressedMessages",
    "HeadroomChatModel",
    "compress_messages",
    "compress_tool_output",
]
