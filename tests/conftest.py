"""Shared fixtures: the real corpus (skips when absent), bundled samples, an isolated store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ci_runs import failed_run, openai_messages, workflow_runs
from tests.support.postgres import ENV as ENV_POSTGRES
from tests.support.postgres import postgres_schema_url, postgres_url

__all__ = ["failed_run", "openai_messages", "postgres_schema_url", "postgres_url", "workflow_runs"]

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO.parent / "shared" / "corpus").resolve()
SAMPLES = REPO / "core" / "headroom" / "samples"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The full corpus beside the repo (../shared/corpus); CI always has it, a user's clone does not."""
    if not (CORPUS / "json").is_dir() or not (CORPUS / "logs").is_dir():
        pytest.skip("full corpus ../shared/corpus not present (CI provides it beside the clone)")
    return CORPUS


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The small real sample set shipped inside the package (always present)."""
    return SAMPLES


@pytest.fixture(autouse=True)
def _isolated_headroom_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Keep every test's store and config away from the user's ~/.headroom."""
    home = tmp_path_factory.mktemp("headroom-home")
    monkeypatch.setenv("HEADROOM_WORKSPACE_DIR", str(home))
    monkeypatch.setenv("HEADROOM_CONFIG_DIR", str(home / "config"))
    for name in list(os.environ):
        if name.startswith("HEADROOM_") and name not in ("HEADROOM_WORKSPACE_DIR", "HEADROOM_CONFIG_DIR", ENV_POSTGRES):
            monkeypatch.delenv(name, raising=False)
    yield
