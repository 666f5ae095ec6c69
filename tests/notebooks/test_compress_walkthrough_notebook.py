"""notebooks/compress_walkthrough.ipynb runs offline from the repo root and shows plots and rich tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "compress_walkthrough.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    ).execute()
    return nb


def _outputs(nb: nbformat.NotebookNode) -> list[dict[str, object]]:
    return [out for cell in nb.cells for out in cell.get("outputs", [])]


def _summary(nb: nbformat.NotebookNode) -> dict[str, object]:
    for out in _outputs(nb):
        for line in str(out.get("text", "")).splitlines():
            if line.startswith("HEADROOM_SUMMARY "):
                return json.loads(line.removeprefix("HEADROOM_SUMMARY "))  # type: ignore[no-any-return]
    raise AssertionError("the notebook printed no HEADROOM_SUMMARY line")


def test_runs_top_to_bottom_without_errors(executed: nbformat.NotebookNode) -> None:
    assert [o for o in _outputs(executed) if o.get("output_type") == "error"] == []


def test_plots_tokens_per_call_and_savings_by_transform(executed: nbformat.NotebookNode) -> None:
    images = [o for o in _outputs(executed) if "image/png" in o.get("data", {})]  # type: ignore[operator]
    assert len(images) == 2


def test_shows_a_compress_result_as_a_table(executed: nbformat.NotebookNode) -> None:
    html = [o["data"]["text/html"] for o in _outputs(executed) if "text/html" in o.get("data", {})]  # type: ignore[index,operator]
    assert any("<th>CompressResult</th>" in h and "of 30 items (1 error" in h for h in html)


def test_shows_the_kept_records_with_the_failed_run(executed: nbformat.NotebookNode) -> None:
    markdown = [o["data"]["text/markdown"] for o in _outputs(executed) if "text/markdown" in o.get("data", {})]  # type: ignore[index,operator]
    assert any("| 2802600146 | Lint | docs | **failure** |" in m for m in markdown)
    assert _summary(executed)["failed_run_kept"] is True


def test_the_retrieve_round_trip_restores_the_original(executed: nbformat.NotebookNode) -> None:
    assert _summary(executed)["original_restored"] is True


def test_the_session_is_smaller_with_headroom(executed: nbformat.NotebookNode) -> None:
    summary = _summary(executed)
    assert summary["calls"] == 6 and summary["tokens_after"] < summary["tokens_before"] / 3  # type: ignore[operator]


def test_committed_notebook_holds_its_executed_plots() -> None:
    committed = nbformat.read(NOTEBOOK, as_version=4)
    assert sum("image/png" in o.get("data", {}) for o in _outputs(committed)) == 2
