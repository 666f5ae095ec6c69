"""Provider adapters for :class:`headroom.client.HeadroomClient`: OpenAI and Anthropic.

>>> from headroom.providers import AnthropicProvider, OpenAIProvider
>>> OpenAIProvider(enable_prefix_caching=True).name
'openai'
"""

from __future__ import annotations

from headroom.providers.anthropic_provider import AnthropicProvider
from headroom.providers.base import Provider, ProviderUsage, StreamUsageTracker
from headroom.providers.openai_provider import OpenAIProvider

__all__ = ["AnthropicProvider", "OpenAIProvider", "Provider", "ProviderUsage", "StreamUsageTracker"]
