"""Streaming through the wrapper: chunks pass as the wrapped model yields them, retrieval rounds stay hidden."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.utils import message_chunk_to_message
from langchain_core.outputs import ChatGenerationChunk

from headroom_integrations.langchain.retrieval import RetrievalRounds, note_retrieve_indexes, strip_retrieve_chunks

__all__ = ["StreamRound", "aemit", "emit"]


class StreamRound:
    """One streamed request: passes chunks through as they come, holding back only retrieval pieces.

    Text and the agent's tool-call pieces are yielded at once. Pieces of ``headroom_retrieve``
    calls are dropped, and chunks that carry only metadata (finish reason, usage) are held until
    the round ends: if the round turns out to be an internal retrieval round, they are not shown.
    """

    def __init__(self, *, filter_retrieve: bool) -> None:
        self.filter_retrieve = filter_retrieve
        self.indexes: set[Any] = set()
        self.held: list[AIMessageChunk] = []
        self.full: AIMessageChunk | None = None

    def feed(self, chunk: AIMessageChunk) -> list[AIMessageChunk]:
        self.full = chunk if self.full is None else self.full + chunk
        if not self.filter_retrieve:
            return [chunk]
        note_retrieve_indexes(chunk, self.indexes)
        visible = strip_retrieve_chunks(chunk, self.indexes)
        if visible.content or visible.tool_call_chunks:
            return [visible]
        self.held.append(visible)
        return []

    def answer(self) -> AIMessage:
        if self.full is None:
            return AIMessage(content="")
        message = message_chunk_to_message(self.full)
        return message if isinstance(message, AIMessage) else AIMessage(content=message.content)

    def tail(self, rounds: RetrievalRounds, facts: dict[str, Any]) -> list[AIMessageChunk]:
        """The held chunks, the usage of earlier rounds, and the Headroom facts, to end the stream."""
        out = list(self.held)
        earlier = rounds.earlier_usage()
        if earlier:
            out.append(AIMessageChunk(content="", usage_metadata=earlier))
        out.append(AIMessageChunk(content="", response_metadata={"headroom": facts}))
        return out


def emit(chunk: AIMessageChunk, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
    generation = ChatGenerationChunk(message=chunk)
    if run_manager:
        run_manager.on_llm_new_token(chunk.text, chunk=generation)
    return generation


async def aemit(chunk: AIMessageChunk, run_manager: AsyncCallbackManagerForLLMRun | None) -> ChatGenerationChunk:
    generation = ChatGenerationChunk(message=chunk)
    if run_manager:
        await run_manager.on_llm_new_token(chunk.text, chunk=generation)
    return generation
