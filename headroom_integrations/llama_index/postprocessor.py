"""HeadroomNodePostprocessor: retrieved nodes, smaller, de-duplicated and fitted to a token budget.

    >>> from headroom_integrations.llama_index import HeadroomNodePostprocessor
    >>> query_engine = index.as_query_engine(                     # doctest: +SKIP
    ...     node_postprocessors=[HeadroomNodePostprocessor(token_budget=4000)])

The decisions (how each text is compressed, which nodes are near-duplicates, which are worth
their tokens) are made by :func:`headroom.documents.compress_documents`; this class translates
nodes to texts and the outcome back to nodes. Nodes keep their ids, metadata, relationships and
scores; a changed node is a copy (the retriever's objects are never mutated) carrying
``headroom_*`` metadata with the CCR keys of what was elided. Those keys are hidden from the
embedding and the LLM (the omission marker inside the text already names them).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from headroom import metrics
from headroom.config import HeadroomConfig
from headroom.documents import DocumentOutcome, DocumentsResult, compress_documents
from headroom.tokens import get_counter
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

__all__ = ["HeadroomNodePostprocessor"]

log = logging.getLogger("headroom.llama_index")

CCR_KEYS = "headroom_ccr_keys"
TOKENS_BEFORE = "headroom_tokens_before"
TOKENS_AFTER = "headroom_tokens_after"
TRANSFORMS = "headroom_transforms"
DUPLICATES = "headroom_duplicates"
OMITTED = "headroom_omitted"
_ADDED_KEYS = (CCR_KEYS, TOKENS_BEFORE, TOKENS_AFTER, TRANSFORMS, DUPLICATES, OMITTED)


class HeadroomNodePostprocessor(BaseNodePostprocessor):
    """Compress retrieved nodes for the query, drop near-duplicates, fit an optional token budget.

    Nothing is lost: what compression elides, near-duplicates and nodes left out for the budget
    are stored in Headroom's CCR store and retrievable with ``headroom.retrieve(key)``. When nodes
    are left out, a short note node (``add_omission_note``) tells the LLM which and under which
    keys; ``last_result`` holds the full report of the latest call.
    """

    model: str = Field(default="gpt-4o", description="Model whose tokenizer measures the nodes and the token budget.")
    token_budget: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Most tokens the nodes may take in the prompt (their content as the LLM sees it, metadata "
            "included). None: no limit, only compression and de-duplication."
        ),
    )
    compress_nodes: bool = Field(
        default=True, description="Compress each node's text (JSON crushed, logs templated, prose de-duplicated)."
    )
    deduplicate: bool = Field(default=True, description="Drop nodes whose text nearly repeats a more valuable node.")
    duplicate_threshold: float = Field(
        default=0.9, gt=0.0, le=1.0, description="Word-trigram Jaccard similarity from which two nodes are duplicates."
    )
    relevance_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="How much query relevance (BM25 and exact identifiers) counts against the retriever's score.",
    )
    min_trim_tokens: int = Field(
        default=128, ge=1, description="A node that only partly fits the budget is trimmed if this much room is left."
    )
    add_omission_note: bool = Field(
        default=True, description="Append a note node naming the nodes left out for the budget and their CCR keys."
    )
    config: HeadroomConfig | None = Field(
        default=None, description="Headroom settings (CCR store, compressor settings); defaults and HEADROOM_* env."
    )

    _last_result: DocumentsResult | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "HeadroomNodePostprocessor"

    @property
    def last_result(self) -> DocumentsResult | None:
        """What the latest call did: per-node outcomes, tokens before/after, CCR keys, the note."""
        return self._last_result

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        """Compress, de-duplicate and fit ``nodes``; returns them unchanged on any internal error."""
        if not nodes:
            self._last_result = None
            return []
        query = query_bundle.query_str if query_bundle is not None and query_bundle.query_str else ""
        try:
            return self._run(nodes, query)
        except Exception:  # fail open: the user's query still runs with the retrieved nodes
            metrics.increment("errors.llama_index.postprocessor")
            log.exception("HeadroomNodePostprocessor failed; nodes passed through unchanged")
            return list(nodes)

    def _run(self, nodes: list[NodeWithScore], query: str) -> list[NodeWithScore]:
        counter = get_counter(self.model)
        texts: list[str | None] = []
        overhead: list[int] = []
        for nws in nodes:
            text = _text_of(nws)
            texts.append(text)
            if text is None:
                overhead.append(_llm_tokens(nws, counter))
            else:
                overhead.append(max(0, _llm_tokens(nws, counter) - counter.count(text)))
        result = compress_documents(
            texts,
            query=query,
            scores=[nws.score for nws in nodes],
            ids=[nws.node.node_id for nws in nodes],
            overhead_tokens=overhead,
            token_budget=self.token_budget,
            model=self.model,
            config=self.config,
            compress=self.compress_nodes,
            deduplicate=self.deduplicate,
            duplicate_threshold=self.duplicate_threshold,
            relevance_weight=self.relevance_weight,
            min_trim_tokens=self.min_trim_tokens,
        )
        self._last_result = result
        if not result.changed:
            return list(nodes)
        duplicates: dict[int, list[dict[str, Any]]] = {}
        for o in result.outcomes:
            if o.action == "duplicate" and o.duplicate_of is not None:
                duplicates.setdefault(o.duplicate_of, []).append(
                    {"node_id": nodes[o.index].node.node_id, "ccr_key": o.ccr_keys[-1], "score": nodes[o.index].score}
                )
        out: list[NodeWithScore] = []
        for o in result.outcomes:
            if not o.kept:
                continue
            nws = nodes[o.index]
            if not o.changed and o.index not in duplicates:
                out.append(nws)
                continue
            out.append(_changed(nws, o, duplicates.get(o.index, [])))
        if duplicates:
            metrics.increment("llama_index.duplicates_removed", sum(len(v) for v in duplicates.values()))
        omitted = [o for o in result.outcomes if o.action == "dropped"]
        if omitted:
            metrics.increment("llama_index.nodes_left_out", len(omitted))
            log.info(
                "left out %d of %d nodes to fit %s tokens; keys: %s",
                len(omitted),
                len(nodes),
                self.token_budget,
                ", ".join(o.ccr_keys[-1] for o in omitted),
            )
            if self.add_omission_note and result.omission_note:
                out.append(_note_node(result.omission_note, omitted, nodes, duplicates))
        metrics.increment("llama_index.tokens_saved", max(0, result.tokens_before - result.tokens_after))
        return out


def _text_of(nws: NodeWithScore) -> str | None:
    """The node's own text, or None when it has none (an image node, an empty node)."""
    try:
        text = nws.node.get_content(metadata_mode=MetadataMode.NONE)
    except Exception:  # a custom node type without text content
        return None
    return text if isinstance(text, str) and text.strip() else None


def _llm_tokens(nws: NodeWithScore, counter: Any) -> int:
    try:
        return int(counter.count(nws.node.get_content(metadata_mode=MetadataMode.LLM)))
    except Exception:
        return 0


def _hide(node: Any, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key not in node.excluded_llm_metadata_keys:
            node.excluded_llm_metadata_keys.append(key)
        if key not in node.excluded_embed_metadata_keys:
            node.excluded_embed_metadata_keys.append(key)


def _changed(nws: NodeWithScore, outcome: DocumentOutcome, duplicates: list[dict[str, Any]]) -> NodeWithScore:
    """A copy of the node with the outcome's text and headroom_* metadata; same id, relationships, score."""
    node = nws.node.model_copy(deep=True)
    added: list[str] = []
    if outcome.changed and outcome.text is not None:
        node.set_content(outcome.text)
        node.metadata[CCR_KEYS] = list(outcome.ccr_keys)
        node.metadata[TOKENS_BEFORE] = outcome.tokens_before
        node.metadata[TOKENS_AFTER] = outcome.tokens_after
        node.metadata[TRANSFORMS] = list(outcome.transforms)
        added += [CCR_KEYS, TOKENS_BEFORE, TOKENS_AFTER, TRANSFORMS]
    if duplicates:
        node.metadata[DUPLICATES] = duplicates
        added.append(DUPLICATES)
    _hide(node, tuple(added))
    return NodeWithScore(node=node, score=nws.score)


def _note_node(
    note: str, omitted: list[DocumentOutcome], nodes: list[NodeWithScore], duplicates: dict[int, list[dict[str, Any]]]
) -> NodeWithScore:
    """A text node telling the LLM which nodes were left out and how to retrieve them.

    Its ``headroom_omitted`` metadata lists each node left out with its key, and the duplicates it
    had absorbed (they would otherwise vanish with it).
    """
    listing = [
        {
            "node_id": nodes[o.index].node.node_id,
            "ccr_key": o.ccr_keys[-1],
            "score": nodes[o.index].score,
            "tokens": o.tokens_before,
            **({"duplicates": duplicates[o.index]} if o.index in duplicates else {}),
        }
        for o in omitted
    ]
    digest = hashlib.blake2b("|".join(o.ccr_keys[-1] for o in omitted).encode(), digest_size=8).hexdigest()
    node = TextNode(id_=f"headroom-omitted-{digest}", text=note, metadata={OMITTED: listing})
    _hide(node, (OMITTED,))
    return NodeWithScore(node=node, score=None)
