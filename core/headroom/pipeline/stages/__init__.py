"""The stages of the pipeline, one small class per module; :mod:`headroom.pipeline.runner` orders them."""

from __future__ import annotations

from typing import Protocol

from headroom.pipeline.context import RequestContext

__all__ = ["Stage"]


class Stage(Protocol):
    """One step of the pipeline.

    ``applies`` says whether the stage runs for this request (a disabled feature, a mode that
    does not need it). ``run`` does the work on the context. A stage that rewrites messages sets
    ``rewrites = True``: the runner then hands it a copy and restores the previous messages if it
    raises, so a failing stage leaves its input unchanged (fail open).
    """

    name: str
    rewrites: bool

    def applies(self, ctx: RequestContext) -> bool: ...

    def run(self, ctx: RequestContext) -> None: ...
