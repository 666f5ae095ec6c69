#!/usr/bin/env python
"""Compare Headroom with its peers on the same files, questions, fidelity checks and tokenizer.

Engines: Headroom (this repo), headroom-ai 0.42.0 (the package this project descends from),
TOON (toon-format, a lossless JSON re-encoding) and plain minified JSON. headroom-ai is also
imported as ``headroom``, so it lives in its own virtual environment and runs in a worker
subprocess of that environment's Python; the worker only compresses and times. Everything is
measured here, by the same code as ``headroom bench``: tokens with the core's exact counter
(o200k_base for gpt-4o) over the same three-message tool call, fidelity with the same checker.
Lossless re-encodings that are not JSON are decoded first, each by its own package's decoder:
TOON by ``toon_format.decode``, headroom-ai's dense ``[N]{schema}`` CSV blocks by its
``compaction_codec.expand_compacted``. Every engine compresses each file once, cold, after a
warm-up on synthetic data (headroom-ai keeps a result cache of its own, so repeated runs
would measure its cache); latency is the compress/encode call alone.

A development script: CI does not run it. Set up the peer environment once:

    python -m venv .peer-venv && .peer-venv/bin/pip install headroom-ai==0.42.0 toon-format

then, from the repository root:

    python scripts/bench_peers.py --corpus ../shared/corpus

``--peer-python`` (or ``HEADROOM_PEER_PYTHON``) points at another interpreter; by default
``.peer-venv/bin/python`` of the repository, then ``/work/peervenv/bin/python``, are tried.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SETUP = "python -m venv .peer-venv && .peer-venv/bin/pip install headroom-ai==0.42.0 toon-format"
_TIKTOKEN_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


# --------------------------------------------------------------------------------------------
# Worker: runs inside the peer environment. Imports only the peers' packages (``headroom`` here
# is headroom-ai), compresses each case once, cold, and writes outputs and timings as JSON.
# --------------------------------------------------------------------------------------------


def _tool_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "tool":
            content = message.get("content")
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def _peer_tables(output: str) -> list[Any]:
    """Records of headroom-ai's dense ``[N]{schema}`` CSV blocks, decoded by its own public decoder.

    headroom-ai re-encodes uniform arrays as CSV rows under a schema line, often inside a JSON
    string; its ``compaction_codec.expand_compacted`` turns such a block back into objects. Rows
    it replaced by a removal marker are left out (they are not in the prompt).
    """
    from headroom.transforms.compaction_codec import contains_removal_marker, expand_compacted, is_compacted

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return []

    candidates = [output]
    try:
        candidates += strings(json.loads(output))
    except ValueError:
        pass
    decoded: list[Any] = []
    for text in candidates:
        if not is_compacted(text):
            continue
        if contains_removal_marker(text):
            text = "\n".join(line for line in text.split("\n") if "<<ccr:" not in line and "__dropped:" not in line)
        records = expand_compacted(text)
        if records is not None:
            decoded.append(records)
    return decoded


def _worker(in_path: str, out_path: str, engines: list[str]) -> None:
    from importlib.metadata import version

    spec = json.loads(Path(in_path).read_text())
    rows: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    if "headroom-ai" in engines:
        from headroom import compress  # headroom-ai, in this environment

        versions["headroom-ai"] = version("headroom-ai")
        # Warm-up on synthetic data of both kinds, so lazy imports are not charged to the first file.
        warm = [{"id": i, "status": "ok" if i % 17 else "failed", "note": f"row {i}"} for i in range(60)]
        warm_log = "\n".join(f"2024-01-01 00:00:{i % 60:02d} INFO worker {i % 7} done" for i in range(300))
        for content in (json.dumps(warm), warm_log):
            compress(
                [
                    {"role": "user", "content": "which rows failed?"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {"id": "w1", "type": "function", "function": {"name": "warm_up", "arguments": "{}"}}
                        ],
                    },
                    {"role": "tool", "tool_call_id": "w1", "content": content},
                ],
                model="gpt-4o",
            )
        for case in spec["cases"]:
            started = time.perf_counter()
            try:
                result = compress(case["messages"], model="gpt-4o")
                elapsed = (time.perf_counter() - started) * 1000
                output = _tool_text(result.messages)
                rows.append(
                    {
                        "engine": "headroom-ai",
                        "name": case["name"],
                        "output": output,
                        "latency_ms": elapsed,
                        "transforms": list(result.transforms_applied),
                        "decoded": _peer_tables(output),
                    }
                )
            except Exception as exc:  # a peer crash is a measured outcome, not a script failure
                rows.append(
                    {
                        "engine": "headroom-ai",
                        "name": case["name"],
                        "output": _tool_text(case["messages"]),
                        "latency_ms": (time.perf_counter() - started) * 1000,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                )
    if "toon" in engines:
        import toon_format

        versions["toon"] = version("toon-format")
        toon_format.encode({"warm": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]})
        for case in spec["cases"]:
            if case.get("body") is None:
                continue  # TOON encodes JSON; logs have no TOON form
            started = time.perf_counter()
            text = toon_format.encode(case["body"])
            elapsed = (time.perf_counter() - started) * 1000
            rows.append(
                {
                    "engine": "toon",
                    "name": case["name"],
                    "output": text,
                    "latency_ms": elapsed,
                    "decoded": [toon_format.decode(text)],
                }
            )
    Path(out_path).write_text(json.dumps({"versions": versions, "rows": rows}))


# --------------------------------------------------------------------------------------------
# Parent: runs in Headroom's environment.
# --------------------------------------------------------------------------------------------


def _peer_python(explicit: str | None) -> Path | None:
    """The peer environment's Python: the one asked for, else the usual places (None if absent)."""
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    candidates = [
        os.environ.get("HEADROOM_PEER_PYTHON"),
        REPO / ".peer-venv" / "bin" / "python",
        "/work/peervenv/bin/python",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _tiktoken_cache(directory: Path) -> Path:
    """Headroom's bundled encodings under tiktoken's cache names, so the peer never downloads."""
    import hashlib

    import headroom

    bundled = Path(headroom.__file__).parent / "_tiktoken"
    for name, url in _TIKTOKEN_URLS.items():
        source = bundled / f"{name}.tiktoken"
        if source.is_file():
            (directory / hashlib.sha1(url.encode()).hexdigest()).write_bytes(source.read_bytes())
    return directory


def _run_worker(python: Path, cases: list[Any], engines: list[str], scratch: Path) -> dict[str, Any]:
    spec = {"cases": [{"name": c.name, "kind": c.kind, "messages": c.messages(), "body": c.body} for c in cases]}
    in_path, out_path = scratch / "cases.json", scratch / "peer-results.json"
    in_path.write_text(json.dumps(spec))
    home = scratch / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADROOM_", "PYTHON"))}
    env.update(
        {
            "HOME": str(home),  # the peer's own store and caches stay in the scratch directory
            "TIKTOKEN_CACHE_DIR": str(_tiktoken_cache(scratch)),
            "HEADROOM_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HEADROOM_TELEMETRY": "off",
            "DO_NOT_TRACK": "1",
        }
    )
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", str(in_path), str(out_path), ",".join(engines)]
    done = subprocess.run(cmd, env=env, cwd=str(scratch), capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"peer worker failed (exit {done.returncode}) with {python}:\n{tail}")
    return dict(json.loads(out_path.read_text()))


def _minified_rows(cases: list[Any], model: str) -> list[Any]:
    from headroom.benchmark import measure_engine_output

    rows = []
    for case in cases:
        if case.minified is None:
            continue
        started = time.perf_counter()
        text = json.dumps(json.loads(case.content), separators=(",", ":"))
        elapsed = (time.perf_counter() - started) * 1000
        rows.append(measure_engine_output(case, "minified JSON", text, elapsed, model=model))
    return rows


def _format_files(results: list[Any], engines: list[str], markdown: bool) -> str:
    by_name: dict[str, dict[str, Any]] = {}
    for r in results:
        by_name.setdefault(r.name, {})[r.engine] = r
    header = ["file", *(f"{e}: reduction / kept" for e in engines)]
    rows = []
    for name, per in by_name.items():
        cells = [name if len(name) <= 48 else name[:35] + "…" + name[-12:]]
        for e in engines:
            r = per.get(e)
            cells.append(
                "-"
                if r is None
                else f"{r.reduction:.1%} / {r.fidelity.kept}/{r.fidelity.total}" + (" !" if r.error else "")
            )
        rows.append(cells)
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(engines)) + "|"]
        return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        _worker(argv[1], argv[2], argv[3].split(","))
        return 0
    default_corpus = (REPO.parent / "shared" / "corpus").resolve()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help=f"directory of *.json / *.log files (default: {default_corpus} if present, else the bundled samples)",
    )
    parser.add_argument("--only", choices=("json", "logs"), default=None)
    parser.add_argument(
        "--peer-python", default=None, help="Python of the environment holding headroom-ai and toon-format"
    )
    parser.add_argument("--engines", default="headroom-ai,toon", help="peer engines to run (default: headroom-ai,toon)")
    parser.add_argument("--model", default="gpt-4o", help="model whose tokenizer counts (default: gpt-4o, o200k_base)")
    parser.add_argument("--files", action="store_true", help="also print the per-file comparison")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)

    from headroom.benchmark import ProgressBar, format_summary, load_cases, measure_engine_output, run_bench, summarize
    from headroom.benchmark.corpus import default_samples_dir
    from headroom.benchmark.report import to_json
    from headroom.config import HeadroomConfig

    python = _peer_python(args.peer_python)
    if python is None:
        print(
            "bench_peers: no peer environment found (headroom-ai 0.42.0 and toon-format, kept apart because\n"
            "headroom-ai is also imported as `headroom`). Create it from the repository root with:\n\n"
            f"    {SETUP}\n\nor pass --peer-python PATH.",
            file=sys.stderr,
        )
        return 2
    corpus = args.corpus or (default_corpus if default_corpus.is_dir() else default_samples_dir())
    kinds = {"json": ("json",), "logs": ("log",), None: ("json", "log")}[args.only]
    cases, skipped = load_cases(corpus, kinds=kinds)
    for line in skipped:
        print(f"bench_peers: skipped {line}", file=sys.stderr)
    if not cases:
        print(f"bench_peers: no *.json or *.log files under {corpus}", file=sys.stderr)
        return 2
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    with tempfile.TemporaryDirectory(prefix="headroom-peers-") as scratch_dir:
        scratch = Path(scratch_dir)
        config = HeadroomConfig(workspace_dir=str(scratch / "ours"))
        print(f"bench_peers: Headroom on {len(cases)} files of {corpus} ...", file=sys.stderr)
        results = run_bench(cases, model=args.model, config=config, on_case=ProgressBar(enabled=None))
        from headroom.ccr.store import get_store

        get_store(config).close()
        print(f"bench_peers: {', '.join(engines)} with {python} ...", file=sys.stderr)
        try:
            peer = _run_worker(python, cases, engines, scratch)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(
                f"bench_peers: {exc}\n\nIf the peer environment is incomplete, recreate it with:\n    {SETUP}",
                file=sys.stderr,
            )
            return 1
    by_name = {c.name: c for c in cases}
    versions = peer.get("versions", {})
    labels = {
        "headroom-ai": f"headroom-ai {versions.get('headroom-ai', '?')}",
        "toon": f"toon {versions.get('toon', '?')}",
    }
    for row in peer["rows"]:
        case = by_name[row["name"]]
        decoded = row.get("decoded", [])  # lossless encodings decoded to JSON by the peer's own decoder
        results.append(
            measure_engine_output(
                case,
                labels.get(row["engine"], row["engine"]),
                row["output"],
                row["latency_ms"],
                model=args.model,
                decoded=decoded,
                error=row.get("error"),
                transforms=row.get("transforms", ()),
            )
        )
    results.extend(_minified_rows(cases, args.model))
    order = ["headroom", *(labels.get(e, e) for e in engines), "minified JSON"]
    results.sort(key=lambda r: (order.index(r.engine) if r.engine in order else len(order), r.kind == "log"))
    if args.json:
        print(
            json.dumps(
                to_json(results, extra={"corpus": str(corpus), "model": args.model, "versions": versions}), indent=2
            )
        )
        return 0
    summaries = sorted(summarize(results), key=lambda s: (s.kind, order.index(s.engine) if s.engine in order else 99))
    print(format_summary(summaries, markdown=args.markdown, targets=False))
    if args.files:
        print()
        print(_format_files(results, order, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
