"""The retrieval loop: answer the model's ``headroom_retrieve`` calls from the CCR store, for a few rounds.

When a request had content elided, the model is offered the ``headroom_retrieve`` tool. If its
answer calls only that tool, the integration answers the calls itself (with
:func:`headroom.execute_retrieve_tool`) and asks the model again; the agent never sees these
internal rounds. The number of rounds is bounded by ``CCRConfig.max_retrieval_rounds``; the
last request is made without the tool, so the model has to answer with what it has.

If an answer mixes ``headroom_retrieve`` with the agent's own tools, the agent's calls win: the
answer goes back to the agent with the retrieval calls removed (the model may ask again on its
next turn, the markers are still in its context).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import headroom
from headroom import metrics
from headroom.ccr import RETRIEVE_TOOL, RETRIEVE_TOOL_NAME, execute_retrieve_tool
from headroom.ccr.markers import referenced_keys
from headroom.ccr.store import CCRStore
from headroom.config import HeadroomMode
from headroom.errors import HeadroomError
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata, add_usage

from headroom_integrations.langchain.compression import CompressedMessages
from headroom_integrations.langchain.convert import to_openai_messages

__all__ = [
    "RETRIEVE_TOOL",
    "RETRIEVE_TOOL_NAME",
    "STRICT_RETRIEVE_TOOL",
    "RetrievalRounds",
    "retrieve_tool_for",
    "start_rounds",
    "without_retrieve_calls",
]

log = logging.getLogger("headroom.langchain")


def _strict(tool: dict[str, Any]) -> dict[str, Any]:
    """``tool`` in OpenAI's strict form: every property required, the optional ones nullable."""
    fn = copy.deepcopy(tool["function"])
    params = fn["parameters"]
    for name, prop in params["properties"].items():
        if name not in params.get("required", []):
            prop["type"] = [prop["type"], "null"]
    params["required"] = list(params["properties"])
    fn["strict"] = True
    return {"type": "function", "function": fn}


STRICT_RETRIEVE_TOOL = _strict(RETRIEVE_TOOL)


def retrieve_tool_for(tools: Sequence[Any], *, structured_output: bool) -> dict[str, Any]:
    """The retrieve tool in the form the request's other tools use.

    OpenAI's structured-output parsing accepts only strict tools, so when the request asks for
    structured output or already carries strict tools, the strict form is offered.
    """
    strict = structured_output or any(
        isinstance(t, dict) and isinstance(t.get("function"), dict) and t["function"].get("strict") for t in tools
    )
    return STRICT_RETRIEVE_TOOL if strict else RETRIEVE_TOOL


def _is_retrieve_call(call: Any) -> bool:
    if isinstance(call, dict):
        name = call.get("name") or (call.get("function") or {}).get("name")
        return name == RETRIEVE_TOOL_NAME
    return False


def without_retrieve_calls(message: AIMessage) -> AIMessage:
    """``message`` with every ``headroom_retrieve`` call removed (tool calls, raw provider fields, blocks)."""
    if not any(_is_retrieve_call(c) for c in message.tool_calls) and not any(
        _is_retrieve_call(c) for c in message.invalid_tool_calls
    ):
        return message
    kept_ids = {c.get("id") for c in message.tool_calls if not _is_retrieve_call(c)}
    additional = dict(message.additional_kwargs)
    if isinstance(additional.get("tool_calls"), list):
        raw = [c for c in additional["tool_calls"] if not _is_retrieve_call(c)]
        if raw:
            additional["tool_calls"] = raw
        else:
            additional.pop("tool_calls")
    content: Any = message.content
    if isinstance(content, list):
        content = [
            b
            for b in content
            if not (
                isinstance(b, dict)
                and b.get("type") in ("tool_use", "tool_call")
                and b.get("name") == RETRIEVE_TOOL_NAME
                and b.get("id") not in kept_ids
            )
        ]
    return message.model_copy(
        update={
            "tool_calls": [c for c in message.tool_calls if not _is_retrieve_call(c)],
            "invalid_tool_calls": [c for c in message.invalid_tool_calls if not _is_retrieve_call(c)],
            "additional_kwargs": additional,
            "content": content,
        }
    )


@dataclass
class RetrievalRounds:
    """State of the retrieval loop of one model call (not shared between calls or threads)."""

    store: CCRStore | None
    """Where the originals are; None disables the loop."""
    max_rounds: int
    offered: bool
    """True when the first request had content elided and the tool may be offered."""
    expose: bool = False
    """Offer the tool but return its calls to the agent (which then needs ``headroom_retrieve_tool``)."""
    rounds: int = 0
    usages: list[UsageMetadata] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def offer_tool(self) -> bool:
        """Whether the next request should carry the ``headroom_retrieve`` tool."""
        if not self.offered or self.store is None:
            return False
        return self.expose or self.rounds < self.max_rounds

    def follow_up(self, answer: AIMessage) -> list[BaseMessage] | None:
        """Messages to append before asking again, or None when ``answer`` goes back to the agent."""
        if answer.usage_metadata:
            self.usages.append(answer.usage_metadata)
        if self.expose or not self.offer_tool() or self.store is None:
            return None
        calls = answer.tool_calls
        if not calls or not all(_is_retrieve_call(c) for c in calls):
            return None
        self.rounds += 1
        metrics.increment("langchain.retrieval_rounds")
        replies: list[BaseMessage] = []
        for call in calls:
            args = call.get("args") or {}
            self.keys.append(str(args.get("key", "")))
            replies.append(
                ToolMessage(
                    content=execute_retrieve_tool(args, self.store),
                    tool_call_id=call.get("id") or "",
                    name=RETRIEVE_TOOL_NAME,
                )
            )
        return [answer, *replies]

    def finish(self, answer: AIMessage) -> AIMessage:
        """The answer the agent sees: retrieval calls removed (unless exposed), usage summed over rounds."""
        out = answer if self.expose else without_retrieve_calls(answer)
        if self.rounds and len(self.usages) > 1:
            total: UsageMetadata | None = None
            for usage in self.usages:
                total = add_usage(total, usage)
            out = out.model_copy(update={"usage_metadata": total})
        return out

    def earlier_usage(self) -> UsageMetadata | None:
        """Usage of the rounds before the last one (streaming adds it as one more chunk)."""
        total: UsageMetadata | None = None
        for usage in self.usages[:-1] if self.rounds else []:
            total = add_usage(total, usage)
        return total

    def facts(self) -> dict[str, Any]:
        """What the loop did, for ``response_metadata["headroom"]``."""
        return {
            "retrieve_tool_offered": self.offered and self.store is not None,
            "retrieval_rounds": self.rounds,
            "retrieved_keys": list(self.keys),
        }


def start_rounds(prepared: CompressedMessages, *, expose: bool = False) -> RetrievalRounds:
    """The retrieval loop of one call: the tool is offered when the request omits stored content.

    That is content omitted by this compression (its new keys) or by an earlier step whose
    marker is still in the messages (a tool result compressed when it arrived).
    """
    cfg = prepared.config
    rounds = RetrievalRounds(store=None, max_rounds=cfg.ccr.max_retrieval_rounds, offered=False, expose=expose)
    sent_originals = prepared.result is not None and prepared.result.mode != HeadroomMode.OPTIMIZE.value
    if not cfg.ccr.enabled or not cfg.ccr.inject_retrieval_tool or sent_originals:
        return rounds
    try:
        store = headroom.get_store(cfg)
        keys = prepared.result.ccr_keys if prepared.elided and prepared.result else ()
        if not keys:
            keys = referenced_keys(_convertible(prepared.messages), store)
    except HeadroomError:
        metrics.increment("errors.langchain.store")
        log.warning("CCR store unavailable; headroom_retrieve is not offered", exc_info=True)
        return rounds
    if keys:
        rounds.store, rounds.offered = store, True
    return rounds


def _convertible(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """OpenAI-format dicts of the messages LangChain can convert; the others are searched for markers as text.

    ``convert_to_openai_messages`` raises (KeyError, ...) on content it does not understand, such
    as a content part without ``type``; such a message still counts for the keys its text names.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        try:
            out.extend(to_openai_messages([message]))
        except Exception:  # LangChain's converter: the message is read as text instead
            metrics.increment("errors.langchain.convert")
            log.warning("LangChain could not convert a %s message; its markers are read from its text", message.type)
            out.append({"role": "user", "content": _raw_text(message.content)})
    return out


def _raw_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, (str, dict))
        )
    return ""


def note_retrieve_indexes(chunk: AIMessageChunk, indexes: set[Any]) -> None:
    """Record in ``indexes`` the stream indexes of tool-call chunks that start a ``headroom_retrieve`` call."""
    for tc in chunk.tool_call_chunks:
        if tc.get("name") == RETRIEVE_TOOL_NAME:
            indexes.add(tc.get("index"))


def strip_retrieve_chunks(chunk: AIMessageChunk, indexes: set[Any]) -> AIMessageChunk:
    """``chunk`` without the tool-call pieces of retrieval calls (their indexes in ``indexes``)."""
    if not indexes or not (chunk.tool_call_chunks or chunk.additional_kwargs.get("tool_calls")):
        return chunk
    additional = dict(chunk.additional_kwargs)
    if isinstance(additional.get("tool_calls"), list):
        raw = [c for c in additional["tool_calls"] if not (isinstance(c, dict) and c.get("index") in indexes)]
        if raw:
            additional["tool_calls"] = raw
        else:
            additional.pop("tool_calls")
    return chunk.model_copy(
        update={
            "tool_call_chunks": [tc for tc in chunk.tool_call_chunks if tc.get("index") not in indexes],
            "tool_calls": [tc for tc in chunk.tool_calls if tc.get("name") != RETRIEVE_TOOL_NAME],
            "additional_kwargs": additional,
        }
    )
