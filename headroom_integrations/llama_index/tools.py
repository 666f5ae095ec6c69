"""The ``headroom_retrieve`` tool as a LlamaIndex ``FunctionTool``, for agents that read compressed content.

    >>> from headroom_integrations.llama_index import retrieve_tool, wrap_llm
    >>> agent = FunctionAgent(tools=[*my_tools, retrieve_tool()], llm=wrap_llm(llm))   # doctest: +SKIP

Omission markers in compressed tool outputs and nodes name a CCR key; with this tool in its list
an agent can read the omitted content back (all of it, the items or lines matching a query, or a
line range). The answer comes from :func:`headroom.ccr.execute_retrieve_tool`, so errors reach the
model as text and never raise inside the agent loop.
"""

from __future__ import annotations

from typing import Any

from headroom.ccr import RETRIEVE_TOOL, RETRIEVE_TOOL_NAME, execute_retrieve_tool, get_store
from headroom.config import HeadroomConfig
from llama_index.core.tools import FunctionTool

__all__ = ["retrieve_tool"]


def retrieve_tool(config: HeadroomConfig | None = None) -> FunctionTool:
    """A FunctionTool named ``headroom_retrieve`` reading from the CCR store of ``config``."""

    def headroom_retrieve(key: str, query: str | None = None, lines: str | None = None) -> str:
        """Read back content Headroom omitted.

        Args:
            key: The CCR key from the omission marker (it looks like hr_0123abcd...).
            query: Optional words or ids to search for inside the original.
            lines: Optional 1-based inclusive line range such as '120-180'.
        """
        arguments: dict[str, Any] = {"key": key}
        if query:
            arguments["query"] = query
        if lines:
            arguments["lines"] = lines
        try:
            store = get_store(config)
        except Exception as exc:  # the agent reads the failure instead of crashing
            return f"error: the Headroom store cannot be opened ({exc})"
        return execute_retrieve_tool(arguments, store)

    spec = RETRIEVE_TOOL["function"]
    return FunctionTool.from_defaults(fn=headroom_retrieve, name=RETRIEVE_TOOL_NAME, description=spec["description"])
