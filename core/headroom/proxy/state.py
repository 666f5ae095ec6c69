"""ProxyState: what every request handler of one proxy worker shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headroom.ccr.store import CCRStore
from headroom.config import HeadroomConfig
from headroom.models import ModelRegistry
from headroom.proxy.settings import ProxySettings
from headroom.proxy.stats import ProxyStats

if TYPE_CHECKING:
    from headroom.proxy.budget import DailyBudget
    from headroom.proxy.forwarding import Upstream

__all__ = ["ProxyState"]


@dataclass
class ProxyState:
    """Settings, the pipeline's configuration, the shared store and its tables, and the upstream client."""

    settings: ProxySettings
    config: HeadroomConfig
    store: CCRStore
    stats: ProxyStats
    registry: ModelRegistry
    """Models, windows and prices (per-request overrides never change them)."""
    budget: DailyBudget | None = None
    upstream: Upstream | None = field(default=None)
    """Created when the worker starts (its connection pool belongs to the worker's event loop)."""
