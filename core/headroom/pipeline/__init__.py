"""The pipeline: one request through an ordered list of stages.

::

    messages ─► RequestContext ─► FrozenPrefixLookup ─► CacheAlignment ─► ContentCompression
              ─► Extensions ─► FrozenPrefixReplay ─► ContextFitting ─► CacheHints ─► CacheObservation
              ─► CompressResult

Every front door (``headroom.compress``, ``HeadroomClient``, the proxy, the LangChain and
LlamaIndex adapters) calls :func:`run_pipeline`; none of them decides what to compress. The order
lives in :data:`headroom.pipeline.runner.STAGES`, each stage in its own module of
:mod:`headroom.pipeline.stages`, and the shared state in :class:`RequestContext`.
"""

from __future__ import annotations

from headroom.pipeline.context import ContentTiming, RequestContext
from headroom.pipeline.runner import STAGES, run_pipeline, run_stages

__all__ = ["STAGES", "ContentTiming", "RequestContext", "run_pipeline", "run_stages"]
