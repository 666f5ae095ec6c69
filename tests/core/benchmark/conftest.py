"""Benchmark cases built from the real sample files bundled with Headroom (always present)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from headroom.benchmark.corpus import BenchCase, case_from_json, case_from_log

CaseLoader = Callable[[Path, str], BenchCase]


def _load(directory: Path, name: str) -> BenchCase:
    text = (directory / name).read_text(encoding="utf-8")
    return case_from_json(name, text) if name.endswith(".json") else case_from_log(name, text)


@pytest.fixture(scope="session")
def load_case() -> CaseLoader:
    """``load_case(directory, "json/....json")``: the benchmark case of one real file."""
    return _load


@pytest.fixture(scope="session")
def workflow_runs(samples_dir: Path) -> BenchCase:
    """30 real GitHub workflow runs; one failed (a rare conclusion)."""
    return _load(samples_dir, "json/PullRequest2408.test_get_workflow_runs.85.json")


@pytest.fixture(scope="session")
def bgl(samples_dir: Path) -> BenchCase:
    """The real BGL supercomputer log: labelled alert lines and many error shapes."""
    return _load(samples_dir, "logs/BGL_2k.log")
