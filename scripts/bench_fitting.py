"""Context fitting at scale: time to fit conversations of 10k to 100k messages into a 128k window.

Each conversation is an agent loop over the bundled sshd log: a question, a tool call, 3-12 log
lines as the result, a short answer, repeated. Fitting replays every request point and compacts
at each overflow, so its work should grow linearly with the number of messages; the last column
shows the time per thousand messages staying flat.

    python scripts/bench_fitting.py            # 10k, 20k, 50k, 100k messages
    python scripts/bench_fitting.py 200000     # other sizes
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from headroom.ccr.store import CCRStore
from headroom.conversation.fitting import fit_to_window
from headroom.tokens import get_counter

SAMPLE = Path(__file__).resolve().parents[1] / "core" / "headroom" / "samples" / "logs" / "OpenSSH_2k.log"


def conversation(n_messages: int) -> list[dict[str, Any]]:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    out: list[dict[str, Any]] = [{"role": "system", "content": "You read sshd logs and answer briefly."}]
    t = 0
    while len(out) < n_messages:
        start = (t * 37) % (len(lines) - 12)
        chunk = "\n".join(lines[start : start + 3 + t % 10])
        call = {"id": f"c{t}", "type": "function", "function": {"name": "read_log", "arguments": f'{{"at": {start}}}'}}
        out += [
            {"role": "user", "content": f"What happens around line {start}?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{t}", "content": chunk},
            {"role": "assistant", "content": f"Around line {start}: authentication attempts."},
        ]
        t += 1
    return out[:n_messages] if out[n_messages - 1]["role"] != "assistant" or True else out


def main(sizes: list[int]) -> None:
    counter = get_counter("gpt-4o")
    print(f"{'messages':>9} {'tokens':>11} {'after':>8} {'compactions':>11} {'seconds':>8} {'ms/1k msgs':>10}")
    for n in sizes:
        messages = conversation(n)
        store = CCRStore("sqlite://")
        started = time.perf_counter()
        result = fit_to_window(messages, limit=124_000, target=64_000, counter=counter, store=store)
        seconds = time.perf_counter() - started
        report = result.report
        print(
            f"{n:>9,} {report['tokens_before']:>11,} {report['tokens_after']:>8,} {report['compactions']:>11,} "
            f"{seconds:>8.2f} {seconds * 1000 / (n / 1000):>10.1f}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 20_000, 50_000, 100_000])
