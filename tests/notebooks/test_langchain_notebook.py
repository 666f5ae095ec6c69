"""notebooks/langchain_agent.ipynb runs top to bottom, offline, from the repo root, and shows what it promises."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "langchain_agent.ipynb"


def _outputs(nb: nbformat.NotebookNode) -> str:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            data = out.get("data", {})
            texts.append(data.get("text/markdown", "") + data.get("text/html", ""))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    # Any request that is not to 127.0.0.1 goes to a closed port and fails: the notebook must not need it.
    blocked = "http://127.0.0.1:9"
    env = {
        "HTTP_PROXY": blocked,
        "HTTPS_PROXY": blocked,
        "ALL_PROXY": blocked,
        "NO_PROXY": "127.0.0.1,localhost",
        "HEADROOM_WORKSPACE_DIR": str(tmp_path_factory.mktemp("notebook-home")),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def test_notebook_runs_offline_top_to_bottom(executed: nbformat.NotebookNode) -> None:
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []


def test_notebook_shows_tokens_before_and_after_per_turn(executed: nbformat.NotebookNode) -> None:
    text = _outputs(executed)
    assert "| model call | sent without Headroom | sent with Headroom | saved |" in text
    assert "| **all** |" in text


def test_notebook_shows_a_retrieval_round_trip(executed: nbformat.NotebookNode) -> None:
    text = _outputs(executed)
    assert "'headroom_retrieve'" in text and "retrieval rounds: 1" in text


def test_notebook_compares_middlewares_and_summarises_the_handler(executed: nbformat.NotebookNode) -> None:
    text = _outputs(executed)
    for name in ("ContextEditingMiddleware", "SummarizationMiddleware", "HeadroomMiddleware"):
        assert f"| {name} |" in text
    assert "prompt tokens" in text and "fewer" in text


def test_notebook_plots_tokens_per_model_call(executed: nbformat.NotebookNode) -> None:
    images = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1


def test_notebook_shows_the_handler_summary_as_a_table(executed: nbformat.NotebookNode) -> None:
    html = [
        o["data"]["text/html"] for c in executed.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})
    ]
    assert any(h.startswith("<table><thead><tr><th>Headroom</th><th>total</th>") for h in html)
