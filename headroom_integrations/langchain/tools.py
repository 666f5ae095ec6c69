"""Tool-output compression without wrapping the model, and the same step for a custom LangGraph graph.

- :func:`compress_tools` wraps LangChain tools so what they return is crushed (JSON arrays,
  logs, ...) before it re-enters the agent's context; each tool may have its own profile.
- :func:`compress_messages_hook` compresses a graph state's messages: use it as a node, or as
  the ``pre_model_hook`` of ``langgraph.prebuilt.create_react_agent``.
- :func:`headroom_retrieve_tool` is the ``headroom_retrieve`` tool as a LangChain tool, for
  agents that should fetch omitted content themselves (omissions name their key).

    >>> from langchain_core.tools import tool
    >>> @tool
    ... def runs(repo: str) -> str:
    ...     '''Workflow runs of a repository.'''
    ...     return "[]"
    >>> [t.name for t in compress_tools([runs])]
    ['runs']
"""

from __future__ import annotations

import contextvars
import copy
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from headroom.ccr import RETRIEVE_TOOL, RETRIEVE_TOOL_NAME, execute_retrieve_tool, get_store
from headroom.config import HeadroomConfig, HeadroomMode, ToolProfile
from langchain_core.messages import BaseMessage, RemoveMessage, ToolMessage, convert_to_messages
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from headroom_integrations.langchain.compression import DEFAULT_MODEL, compress_messages, compress_tool_output

__all__ = ["compress_messages_hook", "compress_tool", "compress_tools", "headroom_retrieve_tool"]

_inside_async_run: contextvars.ContextVar[bool] = contextvars.ContextVar("headroom_tool_async", default=False)


def _query_of(kwargs: Mapping[str, Any]) -> str:
    """The tool's scalar arguments as text: what the call asked for is the best relevance signal here."""
    return " ".join(str(v) for k, v in kwargs.items() if isinstance(v, (str, int, float)) and k != "run_manager")


def compress_tool(
    tool: BaseTool,
    *,
    config: HeadroomConfig | None = None,
    profile: ToolProfile | Mapping[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
    mode: HeadroomMode | str | None = None,
) -> BaseTool:
    """A copy of ``tool`` whose outputs are compressed by Headroom; ``tool`` itself is not changed.

    Name, description, argument schema, injected arguments, ``response_format`` and callbacks are
    the tool's own. String outputs, the content of ``(content, artifact)`` pairs and of returned
    ``ToolMessage``s are compressed; anything else (a ``Command``, content blocks) passes through.
    Compression fails open: on an internal error the output is returned unchanged.
    """
    overrides: dict[str, Any] = {}
    if profile is not None:
        body = profile.model_dump(exclude_none=True) if isinstance(profile, ToolProfile) else dict(profile)
        overrides["headroom_tool_profiles"] = {tool.name: body}

    def crush(output: Any, kwargs: Mapping[str, Any]) -> Any:
        query = _query_of(kwargs)

        def text(value: str) -> str:
            return compress_tool_output(
                value, tool_name=tool.name, model=model, config=config, mode=mode, query=query, **overrides
            )[0]

        if isinstance(output, str):
            return text(output)
        if isinstance(output, tuple) and len(output) == 2 and isinstance(output[0], str):
            return text(output[0]), output[1]
        if isinstance(output, ToolMessage) and isinstance(output.content, str):
            return output.model_copy(update={"content": text(output.content)})
        return output

    base = type(tool)
    run, arun = base._run, base._arun

    @functools.wraps(run)
    def _run(self: BaseTool, *args: Any, **kwargs: Any) -> Any:
        output = run(self, *args, **kwargs)
        return output if _inside_async_run.get() else crush(output, kwargs)

    @functools.wraps(arun)
    async def _arun(self: BaseTool, *args: Any, **kwargs: Any) -> Any:
        token = _inside_async_run.set(True)  # a default _arun runs _run in an executor: crush once
        try:
            output = await arun(self, *args, **kwargs)
        finally:
            _inside_async_run.reset(token)
        return crush(output, kwargs)

    compressing = type(f"Headroom{base.__name__}", (base,), {"_run": _run, "_arun": _arun, "__module__": __name__})
    wrapped = copy.copy(tool)
    object.__setattr__(wrapped, "__class__", compressing)
    return wrapped


def compress_tools(
    tools: Sequence[BaseTool],
    *,
    config: HeadroomConfig | None = None,
    profiles: Mapping[str, ToolProfile | Mapping[str, Any]] | None = None,
    model: str = DEFAULT_MODEL,
    mode: HeadroomMode | str | None = None,
) -> list[BaseTool]:
    """:func:`compress_tool` for each of ``tools``, with ``profiles`` keyed by tool name."""
    profiles = profiles or {}
    unknown = set(profiles) - {t.name for t in tools}
    if unknown:
        from headroom.errors import InvalidArgumentError

        raise InvalidArgumentError(f"profiles name tools that are not given: {sorted(unknown)}")
    return [compress_tool(t, config=config, profile=profiles.get(t.name), model=model, mode=mode) for t in tools]


def compress_messages_hook(
    *,
    config: HeadroomConfig | None = None,
    model: str = DEFAULT_MODEL,
    mode: HeadroomMode | str | None = None,
    output: Literal["llm_input_messages", "messages"] = "llm_input_messages",
    **overrides: Any,
) -> Callable[[Any], dict[str, Any]]:
    """A LangGraph step that compresses the state's ``messages``.

    With ``output="llm_input_messages"`` (the default) it is a ``pre_model_hook``: the model sees
    the compressed messages and the state keeps the originals. With ``output="messages"`` it is
    a node that replaces the state's messages by their compressed form (what was omitted stays
    retrievable by key).
    """
    if output not in ("llm_input_messages", "messages"):
        from headroom.errors import InvalidArgumentError

        raise InvalidArgumentError(f"output must be 'llm_input_messages' or 'messages', got {output!r}")

    def headroom_compress(state: Any) -> dict[str, Any]:
        raw = state.get("messages") if isinstance(state, Mapping) else getattr(state, "messages", None)
        messages: list[BaseMessage] = convert_to_messages(raw or [])
        prepared = compress_messages(messages, model=model, config=config, mode=mode, **overrides)
        if output == "llm_input_messages":
            return {"llm_input_messages": prepared.messages}
        from langgraph.graph.message import REMOVE_ALL_MESSAGES

        return {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *prepared.messages]}

    return headroom_compress


class _RetrieveArgs(BaseModel):
    key: str = Field(description="The CCR key from the omission marker.")
    query: str | None = Field(None, description="Optional: words or ids to search for inside the original.")
    lines: str | None = Field(None, description="Optional: a 1-based inclusive line range 'start-end'.")


def headroom_retrieve_tool(config: HeadroomConfig | None = None) -> BaseTool:
    """The ``headroom_retrieve`` tool for an agent's tool list; answers from the CCR store of ``config``."""
    cfg = config or HeadroomConfig()

    def headroom_retrieve(key: str, query: str | None = None, lines: str | None = None) -> str:
        args = {k: v for k, v in {"key": key, "query": query, "lines": lines}.items() if v}
        return execute_retrieve_tool(args, get_store(cfg))

    return StructuredTool.from_function(
        func=headroom_retrieve,
        name=RETRIEVE_TOOL_NAME,
        description=RETRIEVE_TOOL["function"]["description"],
        args_schema=_RetrieveArgs,
    )
