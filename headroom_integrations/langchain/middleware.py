"""``HeadroomMiddleware``: Headroom inside ``langchain.agents.create_agent``, the LangChain 1.x way.

    from langchain.agents import create_agent
    from headroom_integrations.langchain import HeadroomMiddleware

    agent = create_agent(ChatOpenAI(model="gpt-4o"), tools, middleware=[HeadroomMiddleware()])

- ``wrap_model_call``/``awrap_model_call`` compress each model request (system prompt, history
  and tool outputs) and, when something was omitted, offer ``headroom_retrieve`` and answer its
  calls from the CCR store for a bounded number of rounds; the agent's state never sees them.
- ``wrap_tool_call``/``awrap_tool_call`` compress each tool result as it arrives, so the state
  itself stays small (what was omitted stays retrievable by the key in the marker).

Compared with LangChain's built-ins: ``ContextEditingMiddleware`` replaces old tool results by a
placeholder (nothing is left to read back), ``SummarizationMiddleware`` spends an extra model call
to replace old turns by a summary (lossy); Headroom keeps the structure and the rows that matter,
and everything it drops can be fetched back by key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from headroom.ccr import RETRIEVE_TOOL_NAME
from headroom.config import HeadroomConfig, HeadroomMode
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import ensure_config

from headroom_integrations.langchain.compression import (
    DEFAULT_MODEL,
    HEADROOM_EVENT,
    CompressedMessages,
    compress_messages,
    compress_tool_output,
    model_name_of,
    overrides_from_config,
)
from headroom_integrations.langchain.retrieval import RetrievalRounds, retrieve_tool_for, start_rounds

__all__ = ["HEADROOM_EVENT", "HeadroomMiddleware"]

log = logging.getLogger("headroom.langchain")


class HeadroomMiddleware(AgentMiddleware):  # type: ignore[type-arg]
    """Compresses model requests and tool results of a ``create_agent`` agent (see module docs).

    Args:
        config: Headroom settings; ``None`` reads ``HEADROOM_*`` variables and defaults.
        mode: ``"optimize"`` (default), ``"audit"`` or ``"simulate"``.
        model_name: the model name for token counting; by default the request's model's name.
        compress_tool_results: also compress tool results as they arrive (``wrap_tool_call``).
        expose_retrieve_tool: return ``headroom_retrieve`` calls to the agent instead of answering
            them here (the agent then needs :func:`headroom_retrieve_tool` among its tools).
    """

    def __init__(
        self,
        *,
        config: HeadroomConfig | None = None,
        mode: HeadroomMode | str | None = None,
        model_name: str | None = None,
        compress_tool_results: bool = True,
        expose_retrieve_tool: bool = False,
    ) -> None:
        super().__init__()
        self.config = config
        self.mode = mode
        self.model_name = model_name
        self.compress_tool_results = compress_tool_results
        self.expose_retrieve_tool = expose_retrieve_tool

    # ---- model requests ------------------------------------------------------------------------------

    def _prepare(self, request: ModelRequest) -> CompressedMessages:
        system = [request.system_message] if request.system_message is not None else []
        model = self.model_name or model_name_of(request.model)
        overrides = overrides_from_config(ensure_config())
        return compress_messages(
            [*system, *request.messages], model=model, config=self.config, mode=self.mode, **overrides
        )

    def _rounds(self, prepared: CompressedMessages) -> RetrievalRounds:
        return start_rounds(prepared, expose=self.expose_retrieve_tool)

    @staticmethod
    def _request_for(
        request: ModelRequest, prepared: CompressedMessages, rounds: RetrievalRounds, extra: list[BaseMessage]
    ) -> ModelRequest:
        messages: list[Any] = list(prepared.messages)
        system = request.system_message
        if system is not None and messages and isinstance(messages[0], SystemMessage):
            system, messages = messages[0], messages[1:]
        tools = list(request.tools)
        if rounds.offer_tool() and not any(_tool_name(t) == RETRIEVE_TOOL_NAME for t in tools):
            tools.append(retrieve_tool_for(tools, structured_output=request.response_format is not None))
        outgoing: list[Any] = [*messages, *extra]
        return request.override(messages=outgoing, system_message=system, tools=tools)

    @staticmethod
    def _answer_of(response: Any) -> AIMessage | None:
        if isinstance(response, AIMessage):
            return response
        result = getattr(response, "result", None)
        if isinstance(result, list) and result and isinstance(result[0], AIMessage):
            return result[0]
        return None

    @staticmethod
    def _finish(response: Any, answer: AIMessage | None, rounds: RetrievalRounds, facts: dict[str, Any]) -> Any:
        if answer is None:
            return response
        final = rounds.finish(answer)
        final = final.model_copy(update={"response_metadata": {**final.response_metadata, "headroom": facts}})
        if isinstance(response, AIMessage):
            return final
        return ModelResponse(result=[final, *response.result[1:]], structured_response=response.structured_response)

    @staticmethod
    def _simulated(prepared: CompressedMessages) -> ModelResponse:
        return ModelResponse(result=[AIMessage(content="", response_metadata={"headroom": prepared.metadata()})])

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse | AIMessage:
        prepared = self._prepare(request)
        if prepared.simulated:
            return self._simulated(prepared)
        rounds = self._rounds(prepared)
        extra: list[BaseMessage] = []
        while True:
            response = handler(self._request_for(request, prepared, rounds, extra))
            answer = self._answer_of(response)
            more = rounds.follow_up(answer) if answer is not None else None
            if more is None:
                facts = {**prepared.metadata(), **rounds.facts()}
                _dispatch(facts)
                return self._finish(response, answer, rounds, facts)
            extra.extend(more)

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> ModelResponse | AIMessage:
        prepared = self._prepare(request)
        if prepared.simulated:
            return self._simulated(prepared)
        rounds = self._rounds(prepared)
        extra: list[BaseMessage] = []
        while True:
            response = await handler(self._request_for(request, prepared, rounds, extra))
            answer = self._answer_of(response)
            more = rounds.follow_up(answer) if answer is not None else None
            if more is None:
                facts = {**prepared.metadata(), **rounds.facts()}
                await _adispatch(facts)
                return self._finish(response, answer, rounds, facts)
            extra.extend(more)

    # ---- tool results --------------------------------------------------------------------------------

    def _compress_result(self, request: Any, result: Any) -> Any:
        if not self.compress_tool_results or not isinstance(result, ToolMessage) or not isinstance(result.content, str):
            return result
        name = str((request.tool_call or {}).get("name") or result.name or "")
        if name == RETRIEVE_TOOL_NAME:
            return result  # what the model asked to see again is never elided again
        run_config = ensure_config()
        text, report = compress_tool_output(
            result.content,
            tool_name=name,
            model=self.model_name or DEFAULT_MODEL,
            config=self.config,
            mode=self.mode,
            query=_last_question(getattr(request, "state", None)),
            **overrides_from_config(run_config),
        )
        if report is not None and text != result.content and _listening(run_config):
            _dispatch(
                {
                    "kind": "tool_output",
                    "tool": name,
                    "tokens_before": report.tokens_before,
                    "tokens_after": report.tokens_after,
                    "ccr_keys": list(report.ccr_keys),
                }
            )
        return result if text == result.content else result.model_copy(update={"content": text})

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        return self._compress_result(request, handler(request))

    async def awrap_tool_call(self, request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
        return self._compress_result(request, await handler(request))


def _tool_name(tool: Any) -> str | None:
    if isinstance(tool, dict):
        return tool.get("name") or (tool.get("function") or {}).get("name")
    return getattr(tool, "name", None)


def _last_question(state: Any) -> str:
    messages = state.get("messages") if isinstance(state, dict) else getattr(state, "messages", None)
    for message in reversed(messages or []):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def _listening(run_config: Any) -> bool:
    """True when the run has callback handlers (the event's exact token counts cost a tokenization)."""
    callbacks = run_config.get("callbacks")
    handlers = callbacks if isinstance(callbacks, list) else getattr(callbacks, "handlers", None)
    return bool(handlers)


def _dispatch(facts: dict[str, Any]) -> None:
    try:
        dispatch_custom_event(HEADROOM_EVENT, facts)
    except RuntimeError:  # outside a runnable (no parent run): nobody is listening
        pass


async def _adispatch(facts: dict[str, Any]) -> None:
    try:
        await adispatch_custom_event(HEADROOM_EVENT, facts)
    except RuntimeError:
        pass
