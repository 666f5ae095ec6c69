"""``HeadroomCallbackHandler``: what each model call and tool output cost, and what Headroom saved.

Attach it anywhere LangChain takes callbacks::

    handler = HeadroomCallbackHandler()
    agent.invoke({"messages": [...]}, config={"callbacks": [handler]})
    print(handler)            # a table per call and the totals; in a notebook the cell shows HTML
    handler.summary()         # the totals; in a notebook a two-column table
    handler.summary().tokens_saved

Per model call it records the tokens before and after compression (when the model is a
:class:`HeadroomChatModel`, from ``response_metadata["headroom"]``), the provider-reported usage,
the estimated cost and the cost saved (prices from :class:`headroom.ModelRegistry`), and the
latency; per tool call the size of its output. The handler holds a lock around its records, so
one instance can watch ``batch``/``abatch`` calls running on several threads; it does no I/O, so
LangChain runs it inline on async paths too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Any
from uuid import UUID

from headroom.display import html_table, markdown_table, percent
from headroom.models import ModelRegistry
from headroom.tokens import count_tokens
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from headroom_integrations.langchain.compression import DEFAULT_MODEL, HEADROOM_EVENT

__all__ = ["CallbackSummary", "HeadroomCallbackHandler", "LLMCallRecord", "ToolCallRecord"]


@dataclass(frozen=True)
class LLMCallRecord:
    """One model call as the agent saw it (internal retrieval rounds are folded into it)."""

    run_id: str
    model: str
    latency_s: float
    tokens_before: int | None = None
    """Prompt tokens before Headroom (None when the model is not a HeadroomChatModel)."""
    tokens_after: int | None = None
    input_tokens: int | None = None
    """Prompt tokens the provider reported (``usage_metadata``)."""
    output_tokens: int | None = None
    cost_usd: float | None = None
    """Estimated cost of the call: provider usage priced by the registry (else Headroom's count)."""
    cost_saved_usd: float | None = None
    retrieval_rounds: int = 0
    error: str | None = None

    @property
    def tokens_saved(self) -> int:
        if self.tokens_before is None or self.tokens_after is None:
            return 0
        return self.tokens_before - self.tokens_after


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call and the size of what it returned into the context."""

    run_id: str
    name: str
    latency_s: float
    output_chars: int
    output_tokens: int
    error: str | None = None


@dataclass(frozen=True)
class CallbackSummary:
    """Totals over every recorded call."""

    llm_calls: int
    tool_calls: int
    tokens_before: int
    tokens_after: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_saved_usd: float
    retrieval_rounds: int
    tool_output_tokens: int
    llm_latency_s: float
    errors: int
    tool_output_tokens_before: int = 0
    """Tokens of tool outputs HeadroomMiddleware compressed as they arrived (before / after)."""
    tool_output_tokens_after: int = 0

    @property
    def tokens_saved(self) -> int:
        """Prompt tokens saved at model calls plus tool-output tokens kept out of the context on arrival."""
        return (self.tokens_before - self.tokens_after) + (
            self.tool_output_tokens_before - self.tool_output_tokens_after
        )

    @property
    def compression_ratio(self) -> float:
        """Fraction of prompt tokens removed at model calls."""
        return (self.tokens_before - self.tokens_after) / self.tokens_before if self.tokens_before else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "tokens_saved": self.tokens_saved,
            "compression_ratio": round(self.compression_ratio, 4),
        }

    def __str__(self) -> str:
        saved = percent(self.tokens_before - self.tokens_after, self.tokens_before)
        return (
            f"{self.llm_calls} model calls, {self.tool_calls} tool calls: "
            f"{self.tokens_before:,} -> {self.tokens_after:,} prompt tokens ({saved} fewer), "
            f"provider usage {self.input_tokens:,} in / {self.output_tokens:,} out, "
            f"est. ${self.cost_usd:.4f} (${self.cost_saved_usd:.4f} saved), "
            f"{self.retrieval_rounds} retrieval rounds, tool outputs {self.tool_output_tokens:,} tokens"
        )

    def _rows(self) -> list[list[str]]:
        saved = percent(self.tokens_before - self.tokens_after, self.tokens_before)
        rows = [
            ["model calls", f"{self.llm_calls:,}" + (f" ({self.errors} failed)" if self.errors else "")],
            ["tool calls", f"{self.tool_calls:,} ({self.tool_output_tokens:,} tokens of output)"],
            ["prompt tokens", f"{self.tokens_before:,} -> {self.tokens_after:,} ({saved} fewer)"],
        ]
        if self.tool_output_tokens_before:
            rows.append(
                [
                    "tool outputs compressed on arrival",
                    f"{self.tool_output_tokens_before:,} -> {self.tool_output_tokens_after:,} tokens",
                ]
            )
        rows += [
            ["provider usage", f"{self.input_tokens:,} in / {self.output_tokens:,} out"],
            ["estimated cost", f"${self.cost_usd:.4f} (${self.cost_saved_usd:.4f} saved)"],
            ["retrieval rounds", f"{self.retrieval_rounds:,}"],
            ["model latency", f"{self.llm_latency_s:.2f} s"],
        ]
        return rows

    def _repr_html_(self) -> str:
        return html_table(("Headroom", "total"), self._rows())

    def _repr_markdown_(self) -> str:
        return markdown_table(("Headroom", "total"), self._rows())


def _text_of(output: Any) -> str:
    if isinstance(output, BaseMessage):
        return output.text
    if isinstance(output, str):
        return output
    content = getattr(output, "content", None)
    if isinstance(content, str):
        return content
    return str(output)


class HeadroomCallbackHandler(BaseCallbackHandler):
    """Records tokens, usage, cost, savings and latency of model calls, and tool output sizes."""

    raise_error = False
    run_inline = True

    def __init__(self, *, registry: ModelRegistry | None = None, default_model: str = DEFAULT_MODEL) -> None:
        self._registry = registry or ModelRegistry()
        self._default_model = default_model
        self._lock = threading.Lock()
        self._llm_started: dict[UUID, tuple[float, str | None]] = {}
        self._inner: set[UUID] = set()
        self._tool_started: dict[UUID, tuple[float, str]] = {}
        self._llm: list[LLMCallRecord] = []
        self._parents: dict[str, UUID | None] = {}
        self._tools: list[ToolCallRecord] = []
        self._tool_compressed = [0, 0]  # tokens of tool outputs before / after HeadroomMiddleware

    # ---- model calls ---------------------------------------------------------------------------------

    def _start_llm(self, run_id: UUID, parent_run_id: UUID | None, metadata: dict[str, Any] | None) -> None:
        model = (metadata or {}).get("ls_model_name")
        with self._lock:
            if parent_run_id is not None and parent_run_id in self._llm_started:
                self._inner.add(run_id)  # the wrapped model's run inside a HeadroomChatModel call
            self._llm_started[run_id] = (time.perf_counter(), model if isinstance(model, str) else None)
            self._parents[str(run_id)] = parent_run_id

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start_llm(run_id, parent_run_id, metadata)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start_llm(run_id, parent_run_id, metadata)

    def _pop_llm(self, run_id: UUID) -> tuple[float, str | None, bool] | None:
        with self._lock:
            started = self._llm_started.pop(run_id, None)
            inner = run_id in self._inner
            self._inner.discard(run_id)
        if started is None:
            return None
        return time.perf_counter() - started[0], started[1], inner

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        popped = self._pop_llm(run_id)
        if popped is None or popped[2]:
            return
        latency, model, _ = popped
        message = None
        for generations in response.generations:
            for generation in generations:
                if isinstance(generation, ChatGeneration):
                    message = generation.message
        facts: dict[str, Any] = {}
        usage: dict[str, Any] = {}
        if message is not None:
            facts = dict(message.response_metadata.get("headroom") or {})
            usage = dict(getattr(message, "usage_metadata", None) or {})
            model = facts.get("model") or message.response_metadata.get("model_name") or model
        model = model or self._default_model
        input_tokens = usage.get("input_tokens")
        output_tokens = usage.get("output_tokens")
        priced_input = input_tokens if input_tokens is not None else facts.get("tokens_after")
        cost = None
        if priced_input is not None:
            cost = self._registry.cost(model, int(priced_input), int(output_tokens or 0))
        saved = facts.get("cost_saved_usd")
        record = LLMCallRecord(
            run_id=str(run_id),
            model=model,
            latency_s=latency,
            tokens_before=facts.get("tokens_before"),
            tokens_after=facts.get("tokens_after"),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            cost_saved_usd=float(saved) if saved is not None else None,
            retrieval_rounds=int(facts.get("retrieval_rounds") or 0),
        )
        with self._lock:
            self._llm.append(record)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        popped = self._pop_llm(run_id)
        if popped is None or popped[2]:
            return
        latency, model, _ = popped
        record = LLMCallRecord(
            run_id=str(run_id),
            model=model or self._default_model,
            latency_s=latency,
            error=f"{type(error).__name__}: {error}",
        )
        with self._lock:
            self._llm.append(record)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Facts sent by HeadroomMiddleware land on the last model call made inside the same step."""
        if name != HEADROOM_EVENT or not isinstance(data, dict):
            return
        if data.get("kind") == "tool_output":
            # A tool result compressed as it arrived: it stays smaller in every later prompt.
            with self._lock:
                self._tool_compressed[0] += int(data.get("tokens_before") or 0)
                self._tool_compressed[1] += int(data.get("tokens_after") or 0)
            return
        with self._lock:
            for i in range(len(self._llm) - 1, -1, -1):
                record = self._llm[i]
                if self._parents.get(record.run_id) == run_id:
                    saved = data.get("cost_saved_usd")
                    self._llm[i] = replace(
                        record,
                        tokens_before=data.get("tokens_before"),
                        tokens_after=data.get("tokens_after"),
                        cost_saved_usd=float(saved) if saved is not None else None,
                        retrieval_rounds=int(data.get("retrieval_rounds") or 0),
                    )
                    return

    # ---- tool calls ----------------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
        with self._lock:
            self._tool_started[run_id] = (time.perf_counter(), name)

    def _end_tool(self, run_id: UUID, text: str, error: str | None) -> None:
        with self._lock:
            started = self._tool_started.pop(run_id, None)
        if started is None:
            return
        record = ToolCallRecord(
            run_id=str(run_id),
            name=started[1],
            latency_s=time.perf_counter() - started[0],
            output_chars=len(text),
            output_tokens=count_tokens(text, self._default_model) if text else 0,
            error=error,
        )
        with self._lock:
            self._tools.append(record)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_tool(run_id, _text_of(output), None)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_tool(run_id, "", f"{type(error).__name__}: {error}")

    # ---- reading -------------------------------------------------------------------------------------

    @property
    def llm_calls(self) -> list[LLMCallRecord]:
        with self._lock:
            return list(self._llm)

    @property
    def tool_calls(self) -> list[ToolCallRecord]:
        with self._lock:
            return list(self._tools)

    def reset(self) -> None:
        """Forget every record (runs in flight are forgotten too)."""
        with self._lock:
            self._llm.clear()
            self._tools.clear()
            self._llm_started.clear()
            self._tool_started.clear()
            self._inner.clear()
            self._parents.clear()
            self._tool_compressed = [0, 0]

    def summary(self) -> CallbackSummary:
        """Totals over every recorded call; calls without Headroom facts count as unchanged."""
        llm, tools = self.llm_calls, self.tool_calls
        before = sum(r.tokens_before if r.tokens_before is not None else (r.input_tokens or 0) for r in llm)
        after = sum(r.tokens_after if r.tokens_after is not None else (r.input_tokens or 0) for r in llm)
        return CallbackSummary(
            llm_calls=len(llm),
            tool_calls=len(tools),
            tokens_before=before,
            tokens_after=after,
            input_tokens=sum(r.input_tokens or 0 for r in llm),
            output_tokens=sum(r.output_tokens or 0 for r in llm),
            cost_usd=sum(r.cost_usd or 0.0 for r in llm),
            cost_saved_usd=sum(r.cost_saved_usd or 0.0 for r in llm),
            retrieval_rounds=sum(r.retrieval_rounds for r in llm),
            tool_output_tokens=sum(r.output_tokens for r in tools),
            llm_latency_s=sum(r.latency_s for r in llm),
            errors=sum(1 for r in llm if r.error) + sum(1 for r in tools if r.error),
            tool_output_tokens_before=self._tool_compressed[0],
            tool_output_tokens_after=self._tool_compressed[1],
        )

    def _rows(self) -> list[list[str]]:
        def n(v: int | None) -> str:
            return "-" if v is None else f"{v:,}"

        rows = []
        for i, r in enumerate(self.llm_calls, 1):
            rows.append(
                [
                    str(i),
                    r.model,
                    n(r.tokens_before),
                    n(r.tokens_after),
                    n(r.input_tokens),
                    n(r.output_tokens),
                    "-" if r.cost_usd is None else f"${r.cost_usd:.4f}",
                    "-" if r.cost_saved_usd is None else f"${r.cost_saved_usd:.4f}",
                    str(r.retrieval_rounds),
                    f"{r.latency_s * 1000:.0f} ms",
                    r.error or "",
                ]
            )
        return rows

    _HEADER = (
        "#",
        "model",
        "before",
        "after",
        "usage in",
        "usage out",
        "cost",
        "saved",
        "retrievals",
        "latency",
        "error",
    )

    def __str__(self) -> str:
        rows = [list(self._HEADER), *self._rows()]
        widths = [max(len(row[c]) for row in rows) for c in range(len(self._HEADER))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        tools = self.tool_calls
        if tools:
            lines.append("tools: " + ", ".join(f"{t.name} {t.output_tokens:,} tok" for t in tools))
        lines.append(str(self.summary()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        tools = self._tool_rows()
        return html_table(self._HEADER, self._rows(), caption=str(self.summary())) + (
            html_table(("tool", "output tokens", "output chars", "error"), tools) if tools else ""
        )

    def _repr_markdown_(self) -> str:
        tools = self._tool_rows()
        parts = [f"**{self.summary()}**", markdown_table(self._HEADER, self._rows())]
        if tools:
            parts.append(markdown_table(("tool", "output tokens", "output chars", "error"), tools))
        return "\n\n".join(parts)

    def _tool_rows(self) -> list[list[str]]:
        return [[t.name, f"{t.output_tokens:,}", f"{t.output_chars:,}", t.error or ""] for t in self.tool_calls]
