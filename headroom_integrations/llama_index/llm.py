"""Chat compression for any LlamaIndex LLM: tool outputs and long history shrink before the call.

    >>> from headroom_integrations.llama_index import wrap_llm
    >>> llm = wrap_llm(OpenAI(model="gpt-4o"))                     # doctest: +SKIP
    >>> agent = FunctionAgent(tools=[...], llm=llm)                 # doctest: +SKIP

:func:`wrap_llm` returns a :class:`HeadroomLLM`, or a :class:`HeadroomFunctionCallingLLM` when the
wrapped LLM is a ``FunctionCallingLLM``, so agents and chat engines keep tool calling. Every
chat call (``chat``, ``stream_chat``, ``achat``, ``astream_chat`` and the ``*_with_tools`` forms
built on them) runs the messages through ``headroom.compress`` and delegates to the wrapped LLM.
Completion calls (a single prompt string) are delegated unchanged. The wrapper emits no LLM
events of its own: the wrapped LLM emits them, with the messages it actually received.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Literal

import headroom
from headroom import metrics
from headroom.config import HeadroomConfig
from headroom.result import CompressResult
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SerializeAsAny
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection

from headroom_integrations.llama_index.convert import from_openai_messages, to_openai_messages

__all__ = ["HeadroomFunctionCallingLLM", "HeadroomLLM", "wrap_llm"]

log = logging.getLogger("headroom.llama_index")


class HeadroomLLM(LLM):
    """An LLM that compresses chat messages with Headroom, then calls the wrapped ``llm``."""

    llm: SerializeAsAny[LLM] = Field(description="The LLM that receives the compressed messages.")
    model: str | None = Field(
        default=None,
        description="Model name for token counting and its context window; defaults to llm.metadata.model_name.",
    )
    mode: Literal["optimize", "audit"] = Field(
        default="optimize",
        description="optimize: send the compressed messages; audit: measure only, send the originals.",
    )
    config: HeadroomConfig | None = Field(
        default=None,
        description="Headroom settings (CCR store, keep_turns, tool profiles); defaults and HEADROOM_* env.",
    )

    _last_result: CompressResult | None = PrivateAttr(default=None)

    def __init__(self, llm: LLM | None = None, **data: Any) -> None:
        if llm is not None:
            data["llm"] = llm
        inner = data.get("llm")
        if isinstance(inner, LLM):
            # Calls through the wrapper's own predict()/structured_predict() behave like the inner LLM's.
            data.setdefault("callback_manager", inner.callback_manager)
            data.setdefault("system_prompt", inner.system_prompt)
            data.setdefault("messages_to_prompt", inner.messages_to_prompt)
            data.setdefault("completion_to_prompt", inner.completion_to_prompt)
            data.setdefault("pydantic_program_mode", inner.pydantic_program_mode)
        super().__init__(**data)

    @classmethod
    def class_name(cls) -> str:
        return "HeadroomLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return self.llm.metadata

    @property
    def last_result(self) -> CompressResult | None:
        """The CompressResult of the latest chat call (tokens before/after, transforms, CCR keys)."""
        return self._last_result

    def _model_name(self) -> str:
        if self.model:
            return self.model
        name = getattr(self.llm.metadata, "model_name", None)
        return name if isinstance(name, str) and name.strip() else "gpt-4o"

    def compress_messages(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        """The messages to send: compressed in optimize mode; on any internal error the originals."""
        messages = list(messages)
        if not messages:
            return messages
        try:
            result = headroom.compress(
                to_openai_messages(messages), model=self._model_name(), config=self.config, mode=self.mode
            )
            self._last_result = result
            # Nothing applied, nothing to convert back (exact token counts are left for whoever
            # reads last_result: counting every request would cost more than compressing it).
            if self.mode == "audit" or not result.transforms_applied:
                return messages
            return from_openai_messages(result.messages, messages)
        except Exception:  # fail open: the call goes ahead with what the caller gave
            metrics.increment("errors.llama_index.llm")
            log.exception("Headroom could not compress the chat messages; sending them unchanged")
            return messages

    async def _acompress(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        # Compression is CPU work; keep the event loop free while a long history is processed.
        return await asyncio.to_thread(self.compress_messages, messages)

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self.llm.chat(self.compress_messages(messages), **kwargs)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self.llm.stream_chat(self.compress_messages(messages), **kwargs)

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self.llm.achat(await self._acompress(messages), **kwargs)

    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return await self.llm.astream_chat(await self._acompress(messages), **kwargs)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self.llm.complete(prompt, formatted=formatted, **kwargs)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return self.llm.stream_complete(prompt, formatted=formatted, **kwargs)

    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return await self.llm.acomplete(prompt, formatted=formatted, **kwargs)

    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        return await self.llm.astream_complete(prompt, formatted=formatted, **kwargs)


class HeadroomFunctionCallingLLM(HeadroomLLM, FunctionCallingLLM):
    """:class:`HeadroomLLM` for a ``FunctionCallingLLM``: tool schemas and tool-call parsing are the inner LLM's.

    ``chat_with_tools`` and its stream/async forms prepare the request with the inner LLM, then
    go through this class's ``chat``/``achat``/..., which compress the messages (tool results
    included) and pass the tools on unchanged.
    """

    @classmethod
    def class_name(cls) -> str:
        return "HeadroomFunctionCallingLLM"

    def _inner(self) -> FunctionCallingLLM:
        if not isinstance(self.llm, FunctionCallingLLM):
            raise TypeError(f"{type(self.llm).__name__} is not a FunctionCallingLLM; wrap it with HeadroomLLM")
        return self.llm

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[Any],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        return self._inner()._prepare_chat_with_tools_compat(
            tools,
            user_msg=user_msg,
            chat_history=chat_history,
            verbose=verbose,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
            tool_required=tool_required,
            **kwargs,
        )

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[Any],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        return self._inner()._validate_chat_with_tools_response(
            response, tools, allow_parallel_tool_calls=allow_parallel_tool_calls, **kwargs
        )

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        return self._inner().get_tool_calls_from_response(
            response, error_on_no_tool_call=error_on_no_tool_call, **kwargs
        )


def wrap_llm(
    llm: LLM,
    *,
    model: str | None = None,
    mode: Literal["optimize", "audit"] = "optimize",
    config: HeadroomConfig | None = None,
) -> HeadroomLLM:
    """Wrap ``llm`` so its chat messages are compressed; keeps function calling when ``llm`` has it."""
    if isinstance(llm, HeadroomLLM):
        return llm
    if not isinstance(llm, LLM):
        raise TypeError(f"wrap_llm expects a llama_index.core.llms.LLM, got {type(llm).__name__}")
    cls = HeadroomFunctionCallingLLM if isinstance(llm, FunctionCallingLLM) else HeadroomLLM
    return cls(llm=llm, model=model, mode=mode, config=config)
