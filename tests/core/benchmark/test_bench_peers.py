"""scripts/bench_peers.py without a peer environment: it must say how to create one."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench_peers.py"


@pytest.fixture(scope="module")
def bench_peers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_peers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_peer_environment_prints_the_setup_command(
    bench_peers: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = bench_peers.main(["--peer-python", str(tmp_path / "no-venv" / "bin" / "python")])

    assert status == 2
    assert "python -m venv .peer-venv && .peer-venv/bin/pip install headroom-ai==0.42.0 toon-format" in (
        capsys.readouterr().err
    )
