"""``HeadroomChatModel``: any LangChain chat model, with its requests compressed by Headroom.

The one-line change::

    from langchain_openai import ChatOpenAI
    from headroom_integrations.langchain import HeadroomChatModel

    model = HeadroomChatModel(ChatOpenAI(model="gpt-4o"))      # was: ChatOpenAI(model="gpt-4o")

Everything else stays: ``invoke``/``ainvoke``, ``batch``/``abatch``, ``stream``/``astream`` (chunks
come from the wrapped model as it produces them), ``bind_tools``, ``with_structured_output``,
callbacks, tags, metadata and run names (the wrapped model's run is a child of this one, so
traces stay whole), ``usage_metadata``, ``response_metadata`` and tool calls with their ids.

Per call, ``headroom_*`` keywords override the configuration, given to ``invoke(...)`` or in
``RunnableConfig(configurable={...})``: ``headroom_mode``, ``headroom_keep_turns``,
``headroom_tool_profiles``, ``headroom_output_buffer_tokens``, ``headroom_session_id``. What the
compression did lands in ``response_metadata["headroom"]``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from headroom.config import HeadroomConfig, HeadroomMode
from headroom.errors import InvalidArgumentError
from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableLambda, ensure_config
from pydantic import ConfigDict

from headroom_integrations.langchain.compression import (
    CompressedMessages,
    compress_messages,
    model_name_of,
    overrides_from_config,
    split_overrides,
)
from headroom_integrations.langchain.retrieval import RetrievalRounds, retrieve_tool_for, start_rounds
from headroom_integrations.langchain.streaming import StreamRound, aemit, emit

__all__ = ["HeadroomChatModel"]

log = logging.getLogger("headroom.langchain")

_NOSTREAM_TAG = "nostream"  # LangGraph's TAG_NOSTREAM: the inner run's tokens are not streamed twice


class HeadroomChatModel(BaseChatModel):
    """A chat model that compresses each request with Headroom, then delegates to ``wrapped_model``.

    Args:
        wrapped_model: the chat model that talks to the provider (positional or by keyword).
        config: Headroom settings; ``None`` reads ``HEADROOM_*`` variables and defaults.
        mode: ``"optimize"`` (default: send the compressed request), ``"audit"`` (send the
            original, report what optimize would save) or ``"simulate"`` (never call the
            provider; the would-be request is in the response metadata).
        model_name: the model name used to count tokens and price them; by default the wrapped
            model's ``model_name``/``model``.
        expose_retrieve_tool: when True the ``headroom_retrieve`` calls are returned to the
            agent (give it :func:`headroom_retrieve_tool`) instead of being answered here.

        >>> from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
        >>> model = HeadroomChatModel(GenericFakeChatModel(messages=iter(["hello"])))
        >>> model.invoke("hi").content
        'hello'
    """

    wrapped_model: BaseChatModel
    config: HeadroomConfig | None = None
    mode: HeadroomMode | str | None = None
    model_name: str | None = None
    expose_retrieve_tool: bool = False

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def __init__(self, wrapped_model: BaseChatModel | None = None, /, **kwargs: Any) -> None:
        if wrapped_model is not None:
            if "wrapped_model" in kwargs:
                raise InvalidArgumentError("give wrapped_model once: positionally or by keyword, not both")
            kwargs["wrapped_model"] = wrapped_model
        inner = kwargs.get("wrapped_model")
        if not isinstance(inner, BaseChatModel):
            raise InvalidArgumentError(
                f"wrapped_model must be a LangChain BaseChatModel (e.g. ChatOpenAI(...)), got {type(inner).__name__}"
            )
        if kwargs.get("profile") is None and getattr(inner, "profile", None) is not None:
            kwargs["profile"] = inner.profile  # context-window aware middleware reads it
        super().__init__(**kwargs)

    # ---- identity ----------------------------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return f"headroom-{self.wrapped_model._llm_type}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        mode = self.mode.value if isinstance(self.mode, HeadroomMode) else (self.mode or HeadroomMode.OPTIMIZE.value)
        return {"wrapped": self.wrapped_model._identifying_params, "headroom_mode": mode}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        _overrides, rest = split_overrides(kwargs)
        return self.wrapped_model._get_ls_params(stop=stop, **rest)

    @property
    def counting_model(self) -> str:
        """The model name used to count and price tokens."""
        return self.model_name or model_name_of(self.wrapped_model)

    def get_num_tokens_from_messages(self, messages: list[BaseMessage], tools: Sequence[Any] | None = None) -> int:
        return self.wrapped_model.get_num_tokens_from_messages(messages, tools)

    # ---- per-call overrides from RunnableConfig ------------------------------------------------------

    @staticmethod
    def _call_kwargs(config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        cfg = ensure_config(config)
        merged = {**overrides_from_config(cfg), **kwargs}
        thread = (cfg.get("configurable") or {}).get("thread_id")
        if thread is not None and "headroom_session_id" not in merged:
            merged["headroom_session_id"] = str(thread)
        return merged

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        return super().invoke(input, config, stop=stop, **self._call_kwargs(config, kwargs))

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        return await super().ainvoke(input, config, stop=stop, **self._call_kwargs(config, kwargs))

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        yield from super().stream(input, config, stop=stop, **self._call_kwargs(config, kwargs))

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        async for chunk in super().astream(input, config, stop=stop, **self._call_kwargs(config, kwargs)):
            yield chunk

    # ---- tools and structured output -----------------------------------------------------------------

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind ``tools`` the way the wrapped model does; calls still go through compression."""
        bound = self.wrapped_model.bind_tools(tools, **kwargs)
        if isinstance(bound, RunnableBinding) and bound.bound is self.wrapped_model:
            return RunnableBinding(bound=self, kwargs=dict(bound.kwargs), config=bound.config)
        raise NotImplementedError(
            f"{type(self.wrapped_model).__name__}.bind_tools returned {type(bound).__name__}, not a binding of the "
            "model itself; HeadroomChatModel cannot route such a runnable through compression"
        )

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Runnable[Any, Any]:
        """The wrapped model's own structured output, fed with the compressed messages.

        The wrapped model keeps its method (JSON schema, function calling, ...) and parsing; the
        retrieval loop does not run here, since the model is asked for one schema only.
        """
        structured = self.wrapped_model.with_structured_output(schema, include_raw=include_raw, **kwargs)
        return RunnableLambda(self._compressed_input, name="HeadroomCompress") | structured

    def _compressed_input(self, input: LanguageModelInput, config: RunnableConfig) -> list[BaseMessage]:
        overrides, _ = split_overrides(self._call_kwargs(config, {}))
        return self._prepare(self._convert_input(input).to_messages(), overrides).messages

    # ---- the work ------------------------------------------------------------------------------------

    def _prepare(self, messages: list[BaseMessage], overrides: dict[str, Any]) -> CompressedMessages:
        return compress_messages(messages, model=self.counting_model, config=self.config, mode=self.mode, **overrides)

    def _rounds(self, prepared: CompressedMessages) -> RetrievalRounds:
        return start_rounds(prepared, expose=self.expose_retrieve_tool)

    def _delegate(self, kwargs: dict[str, Any], rounds: RetrievalRounds) -> tuple[Runnable[Any, Any], dict[str, Any]]:
        """The runnable to call and its keywords: the wrapped model, with headroom_retrieve added when offered.

        A binding's keywords are passed to the wrapped model directly: invoking the binding would
        merge in the surrounding graph's callbacks and detach the inner run from this one.
        """
        if not rounds.offer_tool():
            return self.wrapped_model, kwargs
        tools = list(kwargs.get("tools") or [])
        rest = {k: v for k, v in kwargs.items() if k != "tools"}
        try:
            offered = retrieve_tool_for(tools, structured_output="response_format" in kwargs)
            bound = self.wrapped_model.bind_tools([*tools, offered])
        except NotImplementedError:
            rounds.offered = False  # the wrapped model cannot call tools; markers still name the keys
            return self.wrapped_model, kwargs
        if isinstance(bound, RunnableBinding) and bound.bound is self.wrapped_model:
            return self.wrapped_model, {**bound.kwargs, **rest}
        return bound, rest

    @staticmethod
    def _child_config(run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None) -> RunnableConfig:
        """Config of the wrapped model's run: a child of this run, with its handlers, tags and metadata."""
        if run_manager is None:
            return RunnableConfig(tags=[_NOSTREAM_TAG])
        manager_cls = (
            AsyncCallbackManager if isinstance(run_manager, AsyncCallbackManagerForLLMRun) else CallbackManager
        )
        child = manager_cls(handlers=[], parent_run_id=run_manager.run_id)
        child.set_handlers(run_manager.inheritable_handlers)
        child.add_tags(run_manager.inheritable_tags)
        child.add_metadata(run_manager.inheritable_metadata)
        return RunnableConfig(callbacks=child, tags=[_NOSTREAM_TAG])

    @staticmethod
    def _facts(prepared: CompressedMessages, rounds: RetrievalRounds | None) -> dict[str, Any]:
        facts = prepared.metadata()
        if rounds is not None:
            facts.update(rounds.facts())
        return facts

    def _simulated(self, prepared: CompressedMessages) -> AIMessage:
        facts = {**self._facts(prepared, None), "simulated_messages": convert_to_openai_messages(prepared.messages)}
        return AIMessage(content="", response_metadata={"headroom": facts})

    def _finish(self, answer: AIMessage, prepared: CompressedMessages, rounds: RetrievalRounds) -> ChatResult:
        out = rounds.finish(answer)
        out = out.model_copy(
            update={"response_metadata": {**out.response_metadata, "headroom": self._facts(prepared, rounds)}}
        )
        return ChatResult(generations=[ChatGeneration(message=out)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        overrides, kwargs = split_overrides(kwargs)
        prepared = self._prepare(messages, overrides)
        if prepared.simulated:
            return ChatResult(generations=[ChatGeneration(message=self._simulated(prepared))])
        rounds = self._rounds(prepared)
        conversation = list(prepared.messages)
        while True:
            runnable, call_kwargs = self._delegate(kwargs, rounds)
            answer = runnable.invoke(conversation, config=self._child_config(run_manager), stop=stop, **call_kwargs)
            more = rounds.follow_up(answer)
            if more is None:
                return self._finish(answer, prepared, rounds)
            conversation.extend(more)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        overrides, kwargs = split_overrides(kwargs)
        prepared = self._prepare(messages, overrides)
        if prepared.simulated:
            return ChatResult(generations=[ChatGeneration(message=self._simulated(prepared))])
        rounds = self._rounds(prepared)
        conversation = list(prepared.messages)
        while True:
            runnable, call_kwargs = self._delegate(kwargs, rounds)
            answer = await runnable.ainvoke(
                conversation, config=self._child_config(run_manager), stop=stop, **call_kwargs
            )
            more = rounds.follow_up(answer)
            if more is None:
                return self._finish(answer, prepared, rounds)
            conversation.extend(more)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        overrides, kwargs = split_overrides(kwargs)
        prepared = self._prepare(messages, overrides)
        if prepared.simulated:
            yield emit(
                AIMessageChunk(content="", response_metadata=self._simulated(prepared).response_metadata), run_manager
            )
            return
        rounds = self._rounds(prepared)
        conversation = list(prepared.messages)
        while True:
            runnable, call_kwargs = self._delegate(kwargs, rounds)
            current = StreamRound(filter_retrieve=rounds.offer_tool() and not rounds.expose)
            for chunk in runnable.stream(
                conversation, config=self._child_config(run_manager), stop=stop, **call_kwargs
            ):
                for visible in current.feed(chunk):
                    yield emit(visible, run_manager)
            more = rounds.follow_up(current.answer())
            if more is None:
                for visible in current.tail(rounds, self._facts(prepared, rounds)):
                    yield emit(visible, run_manager)
                return
            conversation.extend(more)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        overrides, kwargs = split_overrides(kwargs)
        prepared = self._prepare(messages, overrides)
        if prepared.simulated:
            yield await aemit(
                AIMessageChunk(content="", response_metadata=self._simulated(prepared).response_metadata), run_manager
            )
            return
        rounds = self._rounds(prepared)
        conversation = list(prepared.messages)
        while True:
            runnable, call_kwargs = self._delegate(kwargs, rounds)
            current = StreamRound(filter_retrieve=rounds.offer_tool() and not rounds.expose)
            async for chunk in runnable.astream(
                conversation, config=self._child_config(run_manager), stop=stop, **call_kwargs
            ):
                for visible in current.feed(chunk):
                    yield await aemit(visible, run_manager)
            more = rounds.follow_up(current.answer())
            if more is None:
                for visible in current.tail(rounds, self._facts(prepared, rounds)):
                    yield await aemit(visible, run_manager)
                return
            conversation.extend(more)
