"""Benchmark ``headroom proxy``: the latency it adds, and the requests per second it sustains.

    python scripts/bench_proxy.py                 # everything (about 2 minutes)
    python scripts/bench_proxy.py --quick         # fewer requests, for a smoke run
    python scripts/bench_proxy.py --json out.json # the figures as JSON too

What it starts, each in its own process, all on 127.0.0.1: the scripted OpenAI-compatible
upstream of the tests (``tests/support/scripted_server.py``, keeping connections open as a
provider's API does), and ``headroom proxy --workers N``
in front of it (its store a SQLite file in a temporary directory). This process is the client.

1. Added latency: each request sent alternately straight to the upstream and through the
   proxy (so both series see the same machine load); added = proxy minus direct, at p50 and
   p99 (p99 differences include the noise of both series). The proxy's own measure,
   ``x-headroom-added-ms``, and the CPU time the proxy process spent per request are reported
   beside it. Requests: a small one the pipeline leaves
   unchanged, a 40-turn conversation it leaves unchanged (48 KB), and a real 378 KB tool
   output it compresses (served from the pipeline's cache after the first time, as in an
   agent loop that re-sends its history), each as JSON and as a stream.
2. Requests per second, small unchanged requests, at 1 and 2 workers: closed loop with 16
   concurrent clients (the most the machine gets through, upstream included), and an open
   loop at a fixed 200 requests/s for 5 s (at most 64 connections; does the proxy keep up, what
   latency does it add, and how many cores does it keep busy at that rate?). The direct
   upstream is measured the same way for comparison.

The client, the upstream and the proxy share the machine's cores, so the figures are a floor
for the proxy on a machine of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "core" / "headroom" / "samples" / "json" / "PullRequest2408.test_get_workflow_runs.85.json"


def _requests() -> dict[str, dict[str, Any]]:
    runs = json.loads(SAMPLE.read_text())["body"]["workflow_runs"]
    call = {"id": "call_1", "type": "function", "function": {"name": "list_workflow_runs", "arguments": "{}"}}
    large = [
        {"role": "user", "content": "Which workflow run failed?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(runs)},
    ]
    turns: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful assistant."}]
    for i, run in enumerate(runs[:20]):
        turns.append({"role": "user", "content": f"Tell me about run {run['id']} ({run['name']}), please."})
        summary = {k: run[k] for k in ("id", "name", "head_branch", "status", "conclusion", "created_at", "html_url")}
        turns.append(
            {"role": "assistant", "content": f"Run {i}: " + json.dumps(summary) + " " + "Details follow. " * 60}
        )
    turns.append({"role": "user", "content": "Which of them failed?"})
    return {
        "small (unchanged)": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello."}]},
        "40 turns, 48 KB (unchanged)": {"model": "gpt-4o", "messages": turns},
        "378 KB tool output (compressed)": {"model": "gpt-4o", "messages": large},
    }


@contextmanager
def _process(command: list[str], pattern: str, env: dict[str, str] | None = None) -> Iterator[tuple[int, int]]:
    """Start ``command``; yield the port it prints (first match of ``pattern``) and its pid; stop it with SIGINT."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.Popen(
        command, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(pattern, line)
            if found:
                yield int(found.group(1)), proc.pid
                break
        else:
            raise RuntimeError(f"{command[:4]} exited before printing its port")
    finally:
        proc.send_signal(2)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _upstream() -> Any:
    code = (
        "import time\n"
        "from tests.support.scripted_server import ScriptedServer\n"
        "srv = ScriptedServer(keep_alive=True).start()\n"
        "print('port', srv.port, flush=True)\n"
        "while True: time.sleep(3600)\n"
    )
    return _process([sys.executable, "-c", code], r"port (\d+)")


def _proxy(upstream: int, workers: int, store: Path) -> Any:
    base = f"http://127.0.0.1:{upstream}"
    command = [sys.executable, "-m", "headroom.cli", "proxy", "--port", "0", "--workers", str(workers),
               "--store-url", f"sqlite:///{store}", "--openai-upstream", base, "--anthropic-upstream", base]  # fmt: skip
    return _process(command, r"listening on http://127\.0\.0\.1:(\d+)")


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its children (the uvicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _wait_live(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the proxy did not become live")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _one(client: httpx.Client, url: str, payload: bytes) -> tuple[float, float | None]:
    """Wall milliseconds of one request read to its end, and the proxy's x-headroom-added-ms (if any)."""
    started = time.perf_counter()
    with client.stream("POST", url, content=payload, headers={"content-type": "application/json"}) as response:
        for _chunk in response.iter_raw():
            pass
        assert response.status_code == 200, response.status_code
        header = response.headers.get("x-headroom-added-ms")
    return (time.perf_counter() - started) * 1000, float(header) if header is not None else None


def latency(upstream: int, proxy: int, proxy_pid: int, n: int) -> list[dict[str, Any]]:
    """Each request sent alternately straight to the upstream and through the proxy, ``n`` times."""
    rows = []
    direct_url = f"http://127.0.0.1:{upstream}/v1/chat/completions"
    proxy_url = f"http://127.0.0.1:{proxy}/v1/chat/completions"
    with httpx.Client(timeout=60) as client:
        for name, body in _requests().items():
            for stream in (False, True):
                payload = json.dumps({**body, "stream": True} if stream else body).encode()
                for _ in range(5):  # warm: the first compression of new content, the connections
                    _one(client, direct_url, payload)
                    _one(client, proxy_url, payload)
                direct, through, own = [], [], []
                cpu = 0.0
                for _ in range(n):
                    direct.append(_one(client, direct_url, payload)[0])
                    before = cpu_seconds(proxy_pid)
                    wall, added = _one(client, proxy_url, payload)
                    cpu += cpu_seconds(proxy_pid) - before
                    through.append(wall)
                    own.append(added if added is not None else float("nan"))
                rows.append({
                    "request": name, "stream": stream, "n": n,
                    "direct_p50_ms": statistics.median(direct), "direct_p99_ms": _pct(direct, 0.99),
                    "proxy_p50_ms": statistics.median(through), "proxy_p99_ms": _pct(through, 0.99),
                    "added_p50_ms": statistics.median(through) - statistics.median(direct),
                    "added_p99_ms": _pct(through, 0.99) - _pct(direct, 0.99),
                    "own_p50_ms": statistics.median(own), "own_p99_ms": _pct(own, 0.99),
                    "proxy_cpu_ms_per_request": cpu / n * 1000,
                })  # fmt: skip
    return rows


SMALL = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello."}]}).encode()


async def _closed_loop(url: str, concurrency: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                response = await client.post(url, content=SMALL, headers={"content-type": "application/json"})
                if response.status_code == 200:
                    done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


async def _open_loop(url: str, rate: float, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one() -> None:
            nonlocal failures
            started = time.perf_counter()
            try:
                response = await client.post(url, content=SMALL, headers={"content-type": "application/json"})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1

        tasks = []
        begin = time.perf_counter()
        total = int(rate * seconds)
        for i in range(total):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    return {
        "offered_rps": rate, "completed_rps": len(latencies) / elapsed, "failures": failures,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": _pct(latencies, 0.99) if latencies else float("nan"),
    }  # fmt: skip


def throughput(upstream: int, proxy: int, proxy_pid: int, seconds: float, rate: float) -> dict[str, Any]:
    direct = f"http://127.0.0.1:{upstream}/v1/chat/completions"
    through = f"http://127.0.0.1:{proxy}/v1/chat/completions"
    asyncio.run(_closed_loop(through, 4, 1.0))  # warm the connection pools
    out: dict[str, Any] = {
        "closed_loop_direct_rps": asyncio.run(_closed_loop(direct, 16, seconds)),
        "closed_loop_proxy_rps": asyncio.run(_closed_loop(through, 16, seconds)),
        "open_loop_direct": asyncio.run(_open_loop(direct, rate, seconds)),
    }
    before, started = cpu_seconds(proxy_pid), time.perf_counter()
    out["open_loop_proxy"] = asyncio.run(_open_loop(through, rate, seconds))
    used, elapsed = cpu_seconds(proxy_pid) - before, time.perf_counter() - started
    done = out["open_loop_proxy"]["completed_rps"] * elapsed
    out["open_loop_proxy"]["proxy_cores_busy"] = used / elapsed
    out["open_loop_proxy"]["proxy_cpu_ms_per_request"] = used / done * 1000 if done else float("nan")
    return out


def _print_latency(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| request | stream | direct p50 / p99 ms | through proxy p50 / p99 ms | added p50 / p99 ms "
        "| x-headroom-added-ms p50 / p99 | proxy CPU ms / request |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['request']} | {'yes' if r['stream'] else 'no'} | {r['direct_p50_ms']:.2f} / {r['direct_p99_ms']:.2f} "
              f"| {r['proxy_p50_ms']:.2f} / {r['proxy_p99_ms']:.2f} | {r['added_p50_ms']:.2f} / {r['added_p99_ms']:.2f} "
              f"| {r['own_p50_ms']:.2f} / {r['own_p99_ms']:.2f} | {r['proxy_cpu_ms_per_request']:.2f} |")  # fmt: skip


def _print_throughput(results: dict[int, dict[str, Any]], rate: float) -> None:
    print(
        f"\n| workers | closed loop, 16 clients: direct / through proxy rps | open loop at {rate:g}/s, direct: "
        "completed rps, p50 / p99 ms | through proxy: completed rps, p50 / p99 ms | proxy cores busy, CPU ms / request |"
    )
    print("|---:|---:|---:|---:|---:|")
    for workers, r in results.items():
        d, p = r["open_loop_direct"], r["open_loop_proxy"]
        print(f"| {workers} | {r['closed_loop_direct_rps']:.0f} / {r['closed_loop_proxy_rps']:.0f} "
              f"| {d['completed_rps']:.0f}, {d['p50_ms']:.2f} / {d['p99_ms']:.2f} "
              f"| {p['completed_rps']:.0f}, {p['p50_ms']:.2f} / {p['p99_ms']:.2f}"
              + (f" ({p['failures']} failed)" if p["failures"] else "")
              + f" | {p['proxy_cores_busy']:.2f}, {p['proxy_cpu_ms_per_request']:.2f} |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and shorter runs (a smoke test)")
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per latency series (300)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run (5 s)")
    parser.add_argument("--rate", type=float, default=200.0, help="offered rate of the open-loop run (200/s)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    n, seconds = (30, 1.5) if args.quick else (args.requests, args.seconds)
    load = os.getloadavg()[0]
    print(f"bench_proxy: {os.cpu_count()} cores, load average {load:.2f} at start")
    out: dict[str, Any] = {"load_average_at_start": load}
    with tempfile.TemporaryDirectory() as tmp, _upstream() as (upstream, _):
        with _proxy(upstream, 1, Path(tmp) / "one.db") as (proxy, pid):
            _wait_live(proxy)
            out["latency"] = latency(upstream, proxy, pid, n)
            _print_latency(out["latency"])
            results = {1: throughput(upstream, proxy, pid, seconds, args.rate)}
        with _proxy(upstream, 2, Path(tmp) / "two.db") as (proxy, pid):
            _wait_live(proxy)
            results[2] = throughput(upstream, proxy, pid, seconds, args.rate)
        out["throughput"] = results
        _print_throughput(results, args.rate)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
