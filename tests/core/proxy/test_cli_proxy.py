"""``headroom proxy`` as a user starts it: banner, serving, Ctrl-C, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
from headroom.proxy.server import bind

from tests.support.proxy_server import proxy_process


def test_prints_how_to_point_clients_at_it_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    with proxy_process("--store-url", f"sqlite:///{tmp_path / 's.db'}") as proxy:
        assert httpx.get(f"{proxy.base_url}/livez").json()["status"] == "ok"
    process = proxy.process
    assert process is not None and process.stdout is not None
    printed = proxy.banner + process.stdout.read()
    assert process.returncode == 0
    assert f"listening on http://127.0.0.1:{proxy.port} (mode token, 1 worker" in printed
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{proxy.port}/v1" in printed
    assert f"ANTHROPIC_BASE_URL=http://127.0.0.1:{proxy.port}" in printed
    assert "Ctrl-C" in printed
    assert printed.rstrip().endswith("Headroom proxy stopped.")


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
    taken = bind("127.0.0.1", 0)
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "headroom.cli", "proxy", "--port", str(port),
             "--store-url", f"sqlite:///{tmp_path / 's.db'}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        taken.close()
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_headroom_stats_shows_what_the_proxy_did(tmp_path: Path) -> None:
    from headroom.proxy.stats import ProxyStats
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 's.db'}"
    stats = ProxyStats(create_engine(url))
    stats.add("headroom_proxy_requests_total", 3, endpoint="chat", provider="openai")
    stats.add("headroom_proxy_tokens_before_total", 9000, provider="openai")
    stats.add("headroom_proxy_tokens_after_total", 2000, provider="openai")
    stats.flush()
    done = subprocess.run([sys.executable, "-m", "headroom.cli", "stats", "--store-url", url],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "headroom proxy     3 requests (0 compressed); tokens 9,000 -> 2,000 (saved 7,000)" in done.stdout
    as_json = subprocess.run([sys.executable, "-m", "headroom.cli", "stats", "--json", "--store-url", url],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert json.loads(as_json.stdout)["proxy"]["tokens"]["saved"] == 7000
