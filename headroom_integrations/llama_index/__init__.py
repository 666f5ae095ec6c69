"""Headroom for LlamaIndex: a node postprocessor for query engines and chat compression for LLMs.

>>> from headroom_integrations.llama_index import HeadroomNodePostprocessor, wrap_llm
>>> engine = index.as_query_engine(                                     # doctest: +SKIP
...     llm=wrap_llm(llm), node_postprocessors=[HeadroomNodePostprocessor(token_budget=4000)])
"""

from __future__ import annotations

from headroom.about import install_hint

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
    raise ImportError(
        f"headroom_integrations.llama_index needs llama-index-core: {install_hint('llama-index')}"
    ) from exc

from headroom_integrations.llama_index.convert import from_openai_messages, to_openai_messages
from headroom_integrations.llama_index.llm import HeadroomFunctionCallingLLM, HeadroomLLM, wrap_llm
from headroom_integrations.llama_index.postprocessor import HeadroomNodePostprocessor
from headroom_integrations.llama_index.tools import retrieve_tool

__all__ = [
    "HeadroomFunctionCallingLLM",
    "HeadroomLLM",
    "HeadroomNodePostprocessor",
    "from_openai_messages",
    "retrieve_tool",
    "to_openai_messages",
    "wrap_llm",
]
