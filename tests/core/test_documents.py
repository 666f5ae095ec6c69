"""headroom.documents: a retrieved set compressed, de-duplicated and fitted to a budget, losing nothing."""

from __future__ import annotations

from pathlib import Path

import headroom
import pytest
from headroom.documents import compress_documents
from headroom.errors import InvalidArgumentError


@pytest.fixture
def chunks(samples_dir: Path) -> list[str]:
    out = []
    for name in ("HDFS_2k.log", "OpenSSH_2k.log", "Hadoop_2k.log"):
        lines = (samples_dir / "logs" / name).read_text().splitlines(keepends=True)
        out += ["".join(lines[i : i + 60]) for i in (0, 60)]
    return out


def test_empty_set_gives_empty_result() -> None:
    result = compress_documents([], query="x", token_budget=10)

    assert result.outcomes == () and result.budget_met and result.omission_note is None


def test_small_set_within_budget_is_unchanged(chunks: list[str]) -> None:
    result = compress_documents(chunks[:2], query="blk", token_budget=1_000_000, compress=False)

    assert not result.changed and [o.text for o in result.outcomes] == chunks[:2]


def test_budget_is_met_counting_overhead(chunks: list[str]) -> None:
    result = compress_documents(chunks, query="sshd", token_budget=2000, overhead_tokens=[25] * len(chunks))

    assert result.tokens_after + result.note_tokens <= 2000 and result.budget_met


def test_the_relevant_document_is_kept_over_better_scored_ones(chunks: list[str]) -> None:
    scores = [0.9, 0.9, 0.5, 0.5, 0.9, 0.9]  # the OpenSSH chunks score worst

    result = compress_documents(chunks, query="sshd Failed password", scores=scores, token_budget=2500)

    kept = [o.index for o in result.outcomes if o.kept]
    assert 2 in kept or 3 in kept


def test_every_left_out_document_is_named_and_restorable(chunks: list[str]) -> None:
    ids = [f"chunk-{i}" for i in range(len(chunks))]

    result = compress_documents(chunks, query="namenode", ids=ids, token_budget=1500, compress=False)

    assert result.left_out
    for o in result.left_out:
        assert ids[o.index] in (result.omission_note or "")
        assert headroom.retrieve(o.ccr_keys[-1]) == chunks[o.index]


def test_near_duplicate_keeps_the_better_scored_copy(chunks: list[str]) -> None:
    texts = [chunks[0] + "trailing line\n", chunks[0], chunks[2]]

    result = compress_documents(texts, query="", scores=[0.2, 0.9, 0.5], compress=False)

    assert [o.action for o in result.outcomes] == ["duplicate", "unchanged", "unchanged"]
    assert result.outcomes[0].duplicate_of == 1
    assert headroom.retrieve(result.outcomes[0].ccr_keys[0]) == texts[0]


def test_documents_without_text_are_kept_and_cost_their_overhead(chunks: list[str]) -> None:
    result = compress_documents([None, *chunks], overhead_tokens=[85] + [0] * len(chunks), token_budget=1200)

    assert result.outcomes[0].action == "no_text" and result.outcomes[0].kept
    assert result.budget_met


def test_mismatched_scores_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="one entry per text"):
        compress_documents(["a", "b"], scores=[1.0])
