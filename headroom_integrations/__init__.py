"""Framework adapters of Headroom: ``headroom_integrations.langchain`` and ``headroom_integrations.llama_index``.

Each adapter translates its framework's messages or nodes to the core's OpenAI-format dicts,
calls :mod:`headroom`, and translates back. Import the subpackage you need; each imports its
framework lazily, so installing only ``headroom-context[langchain]`` never pulls in LlamaIndex.

    >>> from headroom_integrations.langchain import HeadroomChatModel   # doctest: +SKIP
"""

from __future__ import annotations

__all__: list[str] = []  # subpackages are imported explicitly; each needs its framework installed
