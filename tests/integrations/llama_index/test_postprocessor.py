"""HeadroomNodePostprocessor inside real LlamaIndex query engines and retrievers, on real files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import headroom
import pytest
from headroom import metrics
from headroom.config import CCRConfig, HeadroomConfig
from headroom.tokens import get_counter
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation.events.llm import LLMCompletionStartEvent
from llama_index.core.llms import MockLLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.prompts.default_prompts import DEFAULT_TEXT_QA_PROMPT
from llama_index.core.schema import ImageNode, MetadataMode, NodeWithScore, QueryBundle, TextNode

from headroom_integrations.llama_index import HeadroomNodePostprocessor
from headroom_integrations.llama_index import postprocessor as postprocessor_module

from .conftest import ISSUES, WORKFLOW_RUNS, json_node, log_nodes

FAILED_RUN = 2802600146  # the one workflow run with conclusion "failure" in the recorded response
COUNTER = get_counter("gpt-4o")


def llm_tokens(nodes: list[NodeWithScore]) -> int:
    """Tokens the nodes take in the prompt, measured the way the response synthesizer renders them."""
    return sum(COUNTER.count(n.node.get_content(metadata_mode=MetadataMode.LLM)) for n in nodes)


@pytest.fixture
def nodes(sample_json_dir: Path, sample_logs_dir: Path) -> list[TextNode]:
    return [
        json_node(sample_json_dir / WORKFLOW_RUNS, "workflow-runs"),
        json_node(sample_json_dir / ISSUES, "issues"),
        *log_nodes(sample_logs_dir / "OpenSSH_2k.log", 40, 3),
        *log_nodes(sample_logs_dir / "HDFS_2k.log", 40, 3),
    ]


@pytest.fixture
def index(nodes: list[TextNode]) -> VectorStoreIndex:
    return VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))


def scored(nodes: list[TextNode]) -> list[NodeWithScore]:
    return [NodeWithScore(node=n, score=round(1.0 - i * 0.05, 2)) for i, n in enumerate(nodes)]


def test_is_a_llama_index_node_postprocessor() -> None:
    assert isinstance(HeadroomNodePostprocessor(), BaseNodePostprocessor)


def test_query_engine_prompt_holds_the_failed_run_within_the_budget(index: VectorStoreIndex, recorder) -> None:
    pp = HeadroomNodePostprocessor(token_budget=2500)
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=8, node_postprocessors=[pp])
    question = f"What was the conclusion of workflow run {FAILED_RUN}?"

    response = engine.query(question)

    prompts = [e.prompt for e in recorder.of(LLMCompletionStartEvent)]
    assert len(prompts) == 1
    assert str(FAILED_RUN) in prompts[0]
    empty_prompt = DEFAULT_TEXT_QA_PROMPT.format(context_str="", query_str=question)
    separators = 2 * len(response.source_nodes)
    assert COUNTER.count(prompts[0]) <= 2500 + COUNTER.count(empty_prompt) + separators


def test_query_engine_prompt_is_smaller_than_without_headroom(index: VectorStoreIndex, nodes, recorder) -> None:
    engine = index.as_query_engine(
        llm=MockLLM(), similarity_top_k=8, node_postprocessors=[HeadroomNodePostprocessor(token_budget=2500)]
    )
    engine.query(f"What was the conclusion of workflow run {FAILED_RUN}?")

    sent = COUNTER.count(recorder.of(LLMCompletionStartEvent)[0].prompt)
    retrieved = sum(COUNTER.count(n.get_content(metadata_mode=MetadataMode.LLM)) for n in nodes)
    assert sent < retrieved / 10


def test_source_nodes_keep_ids_metadata_relationships_and_scores(index: VectorStoreIndex, nodes) -> None:
    retrieved = index.as_retriever(similarity_top_k=8).retrieve("sshd authentication failure for root")
    pp = HeadroomNodePostprocessor(token_budget=2500)

    out = pp.postprocess_nodes(retrieved, query_str="sshd authentication failure for root")

    by_id = {n.node.node_id: n for n in retrieved}
    real = [n for n in out if n.node.node_id in by_id]
    assert real, "at least one retrieved node must be kept"
    for n in real:
        before = by_id[n.node.node_id]
        assert n.score == before.score
        assert n.node.relationships == before.node.relationships
        assert {k: v for k, v in n.node.metadata.items() if not k.startswith("headroom_")} == before.node.metadata


def test_budget_is_met_as_the_llm_sees_the_nodes(nodes) -> None:
    pp = HeadroomNodePostprocessor(token_budget=1800)

    out = pp.postprocess_nodes(scored(nodes), query_str="Which HDFS blocks were added to the blockMap?")

    assert llm_tokens(scored(nodes)) > 1800
    assert llm_tokens(out) <= 1800
    assert pp.last_result is not None and pp.last_result.budget_met


def test_headroom_metadata_is_hidden_from_llm_and_embedding(nodes) -> None:
    out = HeadroomNodePostprocessor(token_budget=2000).postprocess_nodes(scored(nodes), query_str="workflow runs")

    changed = [n for n in out if "headroom_ccr_keys" in n.node.metadata]
    assert changed
    for n in changed:
        assert "headroom_ccr_keys" not in n.node.get_content(metadata_mode=MetadataMode.LLM)
        assert "headroom_ccr_keys" not in n.node.get_content(metadata_mode=MetadataMode.EMBED)


def test_retriever_nodes_are_not_mutated(nodes) -> None:
    given = scored(nodes)
    texts = [n.node.get_content() for n in given]

    HeadroomNodePostprocessor(token_budget=1500).postprocess_nodes(given, query_str="failed workflow run")

    assert [n.node.get_content() for n in given] == texts
    assert all(not any(k.startswith("headroom_") for k in n.node.metadata) for n in given)


def test_elided_content_is_retrievable_by_the_key_in_metadata(nodes) -> None:
    given = scored(nodes)
    originals = {n.node.node_id: n.node.get_content() for n in given}

    out = HeadroomNodePostprocessor(token_budget=2500).postprocess_nodes(given, query_str="HDFS block")

    changed = [n for n in out if "headroom_ccr_keys" in n.node.metadata]
    assert changed
    for n in changed:
        assert headroom.retrieve(n.node.metadata["headroom_ccr_keys"][-1]) == originals[n.node.node_id]


def test_nothing_changes_when_nothing_needs_compressing(sample_logs_dir: Path) -> None:
    small = scored(log_nodes(sample_logs_dir / "OpenSSH_2k.log", 3, 3))

    out = HeadroomNodePostprocessor(token_budget=10_000).postprocess_nodes(small, query_str="sshd")

    assert len(out) == len(small)
    assert all(a is b for a, b in zip(out, small, strict=True))
    assert pp_unchanged(small)


def pp_unchanged(nodes: list[NodeWithScore]) -> bool:
    return all(not any(k.startswith("headroom_") for k in n.node.metadata) for n in nodes)


def test_near_duplicate_nodes_collapse_into_the_better_scored_one(sample_logs_dir: Path) -> None:
    chunk = log_nodes(sample_logs_dir / "HDFS_2k.log", 40, 1)[0]
    twin = TextNode(id_="hdfs-copy", text=chunk.text + "\n", metadata={"file_name": "copy.log"})
    other = log_nodes(sample_logs_dir / "OpenSSH_2k.log", 40, 1)[0]
    given = [
        NodeWithScore(node=twin, score=0.5),
        NodeWithScore(node=chunk, score=0.9),
        NodeWithScore(node=other, score=0.7),
    ]

    out = HeadroomNodePostprocessor().postprocess_nodes(given, query_str="hdfs packet responder")

    assert [n.node.node_id for n in out] == [chunk.node_id, other.node_id]
    dup = out[0].node.metadata["headroom_duplicates"]
    assert [d["node_id"] for d in dup] == ["hdfs-copy"]
    assert headroom.retrieve(dup[0]["ccr_key"]) == twin.text


def test_nodes_left_out_for_the_budget_are_named_in_a_note_and_retrievable(nodes) -> None:
    given = scored(nodes)
    before = metrics.snapshot().get("llama_index.nodes_left_out", 0)

    out = HeadroomNodePostprocessor(token_budget=1200).postprocess_nodes(given, query_str="sshd invalid user")

    note = out[-1]
    assert note.node.node_id.startswith("headroom-omitted-")
    omitted = note.node.metadata["headroom_omitted"]
    kept_ids = {n.node.node_id for n in out}
    assert {d["node_id"] for d in omitted} == {n.node.node_id for n in given} - kept_ids
    for d in omitted:
        assert d["ccr_key"] in note.node.get_content()
        original = next(n for n in given if n.node.node_id == d["node_id"]).node.get_content()
        assert headroom.retrieve(d["ccr_key"]) == original
    assert metrics.snapshot()["llama_index.nodes_left_out"] - before == len(omitted)


def test_omission_note_can_be_turned_off(nodes) -> None:
    out = HeadroomNodePostprocessor(token_budget=1200, add_omission_note=False).postprocess_nodes(
        scored(nodes), query_str="sshd"
    )

    assert not any(n.node.node_id.startswith("headroom-omitted-") for n in out)


def test_empty_node_list_gives_empty_list() -> None:
    assert HeadroomNodePostprocessor(token_budget=100).postprocess_nodes([], query_str="anything") == []


def test_image_nodes_without_text_are_kept_as_they_are(nodes) -> None:
    image = NodeWithScore(node=ImageNode(id_="diagram", image_url="https://example.invalid/a.png"), score=0.99)
    given = [image, *scored(nodes)]

    out = HeadroomNodePostprocessor(token_budget=1500).postprocess_nodes(given, query_str="workflow run")

    assert out[0] is image


def test_missing_query_bundle_still_fits_the_budget(nodes) -> None:
    pp = HeadroomNodePostprocessor(token_budget=1500)

    out = pp.postprocess_nodes(scored(nodes))

    assert llm_tokens(out) <= 1500
    assert out[0].node.node_id == "workflow-runs"  # without a query the retriever's best score leads


def test_huge_node_is_trimmed_to_the_budget_with_its_alerts(sample_logs_dir: Path) -> None:
    text = (sample_logs_dir / "BGL_2k.log").read_text()
    huge = NodeWithScore(node=TextNode(id_="bgl", text=text), score=0.8)

    out = HeadroomNodePostprocessor(token_budget=1000).postprocess_nodes(
        [huge], query_str="KERNDTLB data TLB error interrupt"
    )

    assert len(out) == 1 and llm_tokens(out) <= 1000
    assert "KERNDTLB" in out[0].node.get_content()
    assert headroom.retrieve(out[0].node.metadata["headroom_ccr_keys"][-1]) == text


def test_async_query_path_gives_the_same_prompt(index: VectorStoreIndex, recorder) -> None:
    engine = index.as_query_engine(
        llm=MockLLM(), similarity_top_k=8, node_postprocessors=[HeadroomNodePostprocessor(token_budget=2500)]
    )
    question = f"What was the conclusion of workflow run {FAILED_RUN}?"

    asyncio.run(engine.aquery(question))
    engine.query(question)

    # CustomLLM.acomplete delegates to complete(), so the async call dispatches the event twice
    prompts = {e.prompt for e in recorder.of(LLMCompletionStartEvent)}
    assert len(prompts) == 1 and str(FAILED_RUN) in prompts.pop()


def test_apostprocess_nodes_matches_the_sync_path(nodes) -> None:
    pp = HeadroomNodePostprocessor(token_budget=2000)
    bundle = QueryBundle("HDFS addStoredBlock blockMap")

    sync = pp.postprocess_nodes(scored(nodes), bundle)
    async_ = asyncio.run(pp.apostprocess_nodes(scored(nodes), bundle))

    assert [n.node.get_content() for n in sync] == [n.node.get_content() for n in async_]


def test_serialises_and_restores_like_other_components() -> None:
    pp = HeadroomNodePostprocessor(token_budget=4000, relevance_weight=0.7, config=HeadroomConfig(keep_turns=3))

    data = pp.to_dict()
    restored = HeadroomNodePostprocessor.from_dict(json.loads(json.dumps(data)))

    assert data["class_name"] == "HeadroomNodePostprocessor"
    assert restored.token_budget == 4000 and restored.relevance_weight == 0.7
    assert restored.config is not None and restored.config.keep_turns == 3


def test_internal_error_passes_nodes_through_and_is_counted(nodes, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated core failure")

    monkeypatch.setattr(postprocessor_module, "compress_documents", broken)
    given = scored(nodes)
    before = metrics.snapshot().get("errors.llama_index.postprocessor", 0)

    out = HeadroomNodePostprocessor(token_budget=100).postprocess_nodes(given, query_str="x")

    assert out == given
    assert metrics.snapshot()["errors.llama_index.postprocessor"] == before + 1


def test_without_ccr_no_node_is_left_out(nodes) -> None:
    pp = HeadroomNodePostprocessor(token_budget=1500, config=HeadroomConfig(ccr=CCRConfig(enabled=False)))

    out = pp.postprocess_nodes(scored(nodes), query_str="sshd")

    assert {n.node.node_id for n in out} == {n.node_id for n in nodes}
    assert pp.last_result is not None and not pp.last_result.budget_met


def test_queried_record_survives_in_a_corpus_json_node(corpus_dir: Path) -> None:
    path = corpus_dir / "json" / "Search.testSearchRepos.118.json"
    items = json.loads(path.read_text())["body"]["items"]
    target = items[len(items) // 2]
    others = [json_node(p) for p in sorted((corpus_dir / "json").glob("Artifact.*.json"))[:3]]
    given = [NodeWithScore(node=n, score=0.8) for n in [*others, json_node(path)]]

    out = HeadroomNodePostprocessor(token_budget=4000).postprocess_nodes(
        given, query_str=f"Tell me about the repository {target['full_name']}"
    )

    search = next(n for n in out if n.node.node_id == path.stem)
    assert target["full_name"] in search.node.get_content()
    assert str(target["id"]) in search.node.get_content()
    assert llm_tokens(out) <= 4000


def test_duplicates_of_a_node_left_out_are_listed_with_it(sample_logs_dir: Path) -> None:
    chunk = log_nodes(sample_logs_dir / "HDFS_2k.log", 40, 1)[0]
    twin = TextNode(id_="hdfs-copy", text=chunk.text + "\n")
    given = [NodeWithScore(node=chunk, score=0.9), NodeWithScore(node=twin, score=0.1)]

    out = HeadroomNodePostprocessor(token_budget=100, compress_nodes=False).postprocess_nodes(given, query_str="hdfs")

    (entry,) = out[-1].node.metadata["headroom_omitted"]
    assert entry["node_id"] == chunk.node_id
    assert [d["node_id"] for d in entry["duplicates"]] == ["hdfs-copy"]
    assert headroom.retrieve(entry["duplicates"][0]["ccr_key"]) == twin.text
