"""Stage: pipeline extensions registered by other packages (entry-point group ``headroom.pipeline_extensions``)."""

from __future__ import annotations

from headroom.extensions import run_extensions
from headroom.pipeline.context import RequestContext

__all__ = ["Extensions"]


class Extensions:
    """Runs each registered extension on the messages, in name order."""

    name = "extensions"
    rewrites = True

    def applies(self, ctx: RequestContext) -> bool:
        return ctx.config.discover_pipeline_extensions

    def run(self, ctx: RequestContext) -> None:
        ctx.messages, applied = run_extensions(ctx.messages, model=ctx.model, config=ctx.config)
        ctx.transforms.extend(applied)
