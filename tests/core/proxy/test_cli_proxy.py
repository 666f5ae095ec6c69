"""``headroom proxy`` as a user starts it: banner, serving, Ctrl-C, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.proxy_server import proxy_process


def test_prints_where_it_listens_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    with proxy_process("--store-url", f"sqlite:///{tmp_path / 's.db'}", "--mode", "cache") as proxy:
        assert httpx.get(f"{proxy.base_url}/livez").json() == {"status": "ok"}
        process = proxy.process
    assert process is not None
    out = process.stdout.read() if process.stdout else ""
    assert process.returncode == 0
    assert "Headroom proxy stopped." in out


def test_banner_says_how_to_point_clients_at_it(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "headroom.cli",
        "proxy",
        "--port",
        "0",
        "--store-url",
        f"sqlite:///{tmp_path / 's.db'}",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
    finally:
        proc.send_signal(2)
        proc.wait(timeout=20)
    banner = "".join(lines)
    port = banner.split("listening on http://127.0.0.1:", 1)[1].split(" ", 1)[0]
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in banner
    assert f"ANTHROPIC_BASE_URL=http://127.0.0.1:{port}" in banner
    assert "mode token" in banner and "Ctrl-C" in banner


def test_a_bad_environment_value_is_one_clear_sentence() -> None:
    env = {"HEADROOM_PORT": "eighty", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "headroom.cli", "proxy"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "headroom: error: invalid value 'eighty' for HEADROOM_PORT: accepted an integer from 1 to 65535"
    )


def test_a_bad_option_names_the_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "headroom.cli", "proxy", "--mode", "audit"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--mode" in result.stderr and "'token' or 'cache'" in result.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with proxy_process("--store-url", f"sqlite:///{tmp_path / 's.db'}") as proxy:
        result = subprocess.run(
            [sys.executable, "-m", "headroom.cli", "proxy", "--port", str(proxy.port),
             "--store-url", f"sqlite:///{tmp_path / 's2.db'}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{proxy.port}" in result.stderr
