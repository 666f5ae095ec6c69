"""notebooks/llama_index_query.ipynb runs top to bottom, offline, and shows what the README claims."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("llama_index.core")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "llama_index_query.ipynb"


@pytest.fixture(scope="module")
def summary() -> dict[str, object]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    ).execute()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                if line.startswith("HEADROOM_SUMMARY "):
                    return json.loads(line.removeprefix("HEADROOM_SUMMARY "))
    raise AssertionError("the notebook's last cell printed no HEADROOM_SUMMARY line")


def test_notebook_context_fits_the_budget(summary: dict[str, object]) -> None:
    assert summary["context_tokens_sent"] <= summary["token_budget"] < summary["context_tokens_retrieved"]


def test_notebook_prompt_keeps_the_failed_workflow_run(summary: dict[str, object]) -> None:
    assert summary["failed_run_in_prompt"] is True


def test_notebook_restores_an_original_from_its_key(summary: dict[str, object]) -> None:
    assert summary["original_restored"] is True


def test_notebook_chat_wrapper_compresses_the_tool_output(summary: dict[str, object]) -> None:
    assert summary["chat_tokens_after"] < summary["chat_tokens_before"]
    assert summary["chat_failed_run_kept"] is True
