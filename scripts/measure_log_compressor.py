"""Throughput and reduction of the log compressor alone over ../shared/corpus/logs (best of 5 runs).

Run from the repo root: python scripts/measure_log_compressor.py [../shared/corpus]
Counts tokens with the core's o200k counter (gpt-4o); the CCR store is in memory.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from headroom.benchmark.log_targets import log_targets
from headroom.ccr.store import CCRStore
from headroom.compressors.base import CompressionContext
from headroom.compressors.log_compressor import LogCompressor
from headroom.config import HeadroomConfig
from headroom.tokens import get_counter

corpus = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus") / "logs"
files = sorted(corpus.glob("*.log"))
texts = [f.read_text(encoding="utf-8") for f in files]
targets = [log_targets(t) for t in texts]
cfg = HeadroomConfig()
counter = get_counter("gpt-4o")
total_bytes = sum(len(t.encode()) for t in texts)
best = float("inf")
outputs: list[str] = []
for _ in range(5):
    store = CCRStore("sqlite://")
    outputs = []
    started = time.perf_counter()
    for text, tg in zip(texts, targets):
        out = LogCompressor().compress(
            text, CompressionContext(config=cfg, counter=counter, query=tg.question, store=store)
        )
        outputs.append(out.text if out else text)
    best = min(best, time.perf_counter() - started)
before = sum(counter.count(t) for t in texts)
after = sum(counter.count(o) for o in outputs)
kept = sum(1 for tg, o in zip(targets, outputs) for t in tg.targets if any(line and line in o for line in t.lines))
total = sum(len(tg.targets) for tg in targets)
print(
    f"{len(files)} logs, {total_bytes:,} bytes: tokens {before:,} -> {after:,} ({1 - after / before:.1%} fewer); "
    f"targets kept {kept}/{total}; {total_bytes / best / 1e6:.1f} MB/s (best of 5, {best * 1000:.0f} ms)"
)
