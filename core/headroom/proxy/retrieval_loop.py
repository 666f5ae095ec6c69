"""The retrieval loop of a non-streamed answer: the proxy answers ``headroom_retrieve`` itself.

When the proxy offered the tool and the model's answer calls only it, the proxy reads the
originals from the CCR store (:func:`headroom.execute_retrieve_tool`), appends the model's turn
and the answers to the conversation, and asks upstream again, up to
``ccr.max_retrieval_rounds`` times; the last round is sent without the tool, so the model has
to answer with what it has. The client receives one normal reply, with the usage of every
round added up. An answer that mixes the retrieve tool with the client's own tools goes to the
client with the retrieve calls removed (the client's calls win; the markers stay in the
context, so the model may ask again on its next turn), as in the LangChain integration.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from starlette.responses import Response

from headroom.ccr.retrieval import execute_retrieve_tool
from headroom.providers.base import ProviderUsage
from headroom.proxy.exchange import Exchange
from headroom.proxy.outgoing import dumps
from headroom.proxy.wire import RetrieveCall, obj
from headroom.tokens import get_counter

__all__ = ["answer_calls", "json_rounds", "next_prompt_tokens"]


async def answer_calls(ex: Exchange, calls: list[RetrieveCall]) -> list[tuple[str, str]]:
    """The text answer of each retrieve call, read from the store in a worker thread."""
    store = ex.state.store

    def run() -> list[tuple[str, str]]:
        return [(call_id, execute_retrieve_tool(args, store)) for call_id, args in calls]

    answers = await asyncio.to_thread(run)
    ex.state.stats.add("headroom_proxy_retrieval_rounds_total", provider=ex.wire.name)
    return answers


def next_prompt_tokens(
    ex: Exchange, usage: ProviderUsage | None, assistant: dict[str, Any], answers: list[tuple[str, str]]
) -> int:
    """Prompt tokens of the next round: this round's prompt, its answer, and the retrieved texts."""
    counter = get_counter(ex.out.model)
    base = usage.input_tokens if usage is not None and not usage.estimated else ex.prompt_estimate
    added = counter.count(json.dumps(assistant, ensure_ascii=False)) + sum(counter.count(text) for _, text in answers)
    return base + added


async def json_rounds(ex: Exchange, upstream: httpx.Response) -> Response:
    """Read a non-streamed answer, run the retrieval rounds it asks for, and reply once."""
    body = await ex.read(upstream)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        await ex.settle_all()
        return ex.reply(upstream, body)
    first = data
    usage = ex.wire.usage(data)
    ex.account_usage(usage)
    await ex.settle(usage)
    request = ex.out.request or {}
    earlier: list[dict[str, Any]] = []
    rounds = 0
    limit = ex.out.config.ccr.max_retrieval_rounds
    while ex.out.offers_retrieval and rounds < limit:
        calls = ex.wire.retrieve_calls(data)
        if not calls or ex.wire.has_other_calls(data):
            break
        assistant = ex.wire.assistant_turn(data)
        answers = await answer_calls(ex, calls)
        rounds += 1
        request = ex.wire.continuation(request, assistant, answers)
        if rounds >= limit:
            request = ex.wire.for_final_round(request)
        if await ex.reserve(await asyncio.to_thread(next_prompt_tokens, ex, usage, assistant, answers)) is not None:
            break  # the budget does not allow another round: the client gets what there is
        following = await ex.open(dumps(request))
        if following.status_code != 200:
            await ex.settle(None, refused=True)
            return ex.raw(following)  # the upstream's error, as it sent it
        following_body = await ex.read(following)
        try:
            payload = json.loads(following_body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            await ex.settle_all()
            return ex.reply(following, following_body)
        earlier.append(obj(data.get("usage")))
        data = payload
        usage = ex.wire.usage(data)
        ex.account_usage(usage)
        await ex.settle(usage)
    if ex.out.offers_retrieval:
        data = ex.wire.without_retrieve_calls(data)
    data = ex.wire.with_usage_of(data, earlier)
    return ex.reply(upstream, body if data is first else dumps(data))
