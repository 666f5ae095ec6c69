"""Headroom: make LLM context smaller without losing what the model needs.

>>> import headroom
>>> result = headroom.compress(messages, model="gpt-4o")   # doctest: +SKIP
>>> result.messages, result.tokens_saved, result.ccr_keys   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from headroom.ccr import RETRIEVE_TOOL, RETRIEVE_TOOL_NAME, CCRStore, execute_retrieve_tool, get_store
from headroom.compress import compress, retrieve
from headroom.config import (
    CacheAlignerConfig,
    CacheOptimizerConfig,
    CCRConfig,
    HeadroomConfig,
    HeadroomMode,
    PrefixFreezeConfig,
    SmartCrusherConfig,
    ToolProfile,
)
from headroom.documents import DocumentOutcome, DocumentsResult, compress_documents
from headroom.errors import (
    BudgetExceededError,
    CompressionError,
    ConfigurationError,
    HeadroomError,
    InvalidArgumentError,
    RetrievalError,
    StoreError,
)
from headroom.models import ModelRegistry
from headroom.result import CompressResult
from headroom.text import TextCompressResult, compress_text, fit_text
from headroom.tokens import count_message_tokens, count_tokens

__version__ = "0.1.0"

__all__ = [
    "RETRIEVE_TOOL",
    "RETRIEVE_TOOL_NAME",
    "AnthropicProvider",
    "BudgetExceededError",
    "CCRConfig",
    "CCRStore",
    "CacheAlignerConfig",
    "CacheOptimizerConfig",
    "CompressResult",
    "CompressionError",
    "ConfigurationError",
    "DocumentOutcome",
    "DocumentsResult",
    "HeadroomClient",
    "HeadroomConfig",
    "HeadroomError",
    "HeadroomMode",
    "InvalidArgumentError",
    "ModelRegistry",
    "OpenAIProvider",
    "PrefixFreezeConfig",
    "RetrievalError",
    "SmartCrusherConfig",
    "StoreError",
    "TextCompressResult",
    "ToolProfile",
    "compress",
    "compress_documents",
    "compress_text",
    "count_message_tokens",
    "count_tokens",
    "execute_retrieve_tool",
    "fit_text",
    "get_store",
    "retrieve",
]

_LAZY = {
    "HeadroomClient": "headroom.client",
    "OpenAIProvider": "headroom.providers",
    "AnthropicProvider": "headroom.providers",
}


def __getattr__(name: str) -> Any:
    # The SDK wrapper imports provider code only when used.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'headroom' has no attribute {name!r}")
