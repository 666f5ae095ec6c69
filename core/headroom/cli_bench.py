"""``headroom bench``: compress a directory of real files and print what it saved and kept.

The main CLI (``headroom.cli``) registers this subcommand with :func:`add_bench_parser` and
runs it with :func:`run_bench`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["add_bench_parser", "run_bench"]

_DESCRIPTION = """\
Run headroom.compress over a directory of files and print a table: tokens before/after,
reduction, the minified-JSON baseline, latency, MB/s of input on one core, and fidelity.

Each file becomes a tool call: a user question, an assistant tool call, and the tool
message with the file's content (for corpus JSON files, json.dumps of the response body).
JSON questions name one record from the middle of the main array (a name that is not a
number in quotation marks); log questions quote one line. Every question is asked twice: as
written, and with its quotation marks removed, as people type (the "question" column of the
summary; the per-file table shows the unquoted run's reduction and targets in two columns).
Fidelity ("targets kept") counts what must survive verbatim: the named record and every
record with a rare status/conclusion/state/type value (JSON); the quoted line and one
example of every shape of error/fatal/severe/exception line, of every other line reporting
a problem (failed, unable, denied, timed out, warning, ...), and of alert lines in labelled
logs such as BGL (logs). "ccr ok" means the CCR key restores the original exactly.

Timing: latency is the headroom.compress call, each file compressed cold (result and
token-count caches emptied first); MB/s is input bytes over that time on one core. All
files are compressed first, one after another, and checked afterwards (fidelity, exact
token counts, CCR round trip), so the checks do not run between the timed calls.
"tokenizer share" is the part of that time spent in the tokenizer inside the call;
"report counting MB/s" is the throughput of counting the request's tokens before and after
(cold, timed apart): what the exact figures in the table cost, inside the call or not.

By default the bundled samples are used; --corpus ../shared/corpus runs the full set.
The CCR store is a temporary SQLite file (your own store is not touched). --strict exits
with status 1 when a target is lost, a file errors or a benchmark goal is unmet.

--session runs the multi-turn session benchmarks instead: per-turn tokens and compression
time of a 20-turn agent loop over the full corpus, then what a 24-turn session of real API
listings costs with the provider's prompt-cache prices (--cost-model, --window), sent raw and
in token and cache mode, with the number of prefix rewrites (the bundled samples give an 8-turn
session)."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_bench_parser(subparsers: Any) -> None:
    """Register ``bench`` on the ``headroom`` CLI's subparsers (``argparse`` sub-parsers action)."""
    p = subparsers.add_parser(
        "bench",
        help="benchmark compression over a directory of files (bundled samples by default)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--corpus",
        metavar="DIR",
        type=Path,
        default=None,
        help="directory of *.json and *.log files, searched recursively (default: bundled samples)",
    )
    p.add_argument("--only", choices=("json", "logs"), default=None, help="benchmark only JSON files or only logs")
    p.add_argument("--model", default="gpt-4o", help="model whose tokenizer counts tokens (default: gpt-4o)")
    p.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        metavar="N",
        help="compress each file N times, each cold, and report the fastest run (default: 1)",
    )
    p.add_argument(
        "--as-written",
        action="store_true",
        help="ask each question only as written (skip the second run with its quotation marks removed)",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--summary-only", action="store_true", help="print only the summary table")
    p.add_argument("--no-progress", action="store_true", help="never draw the progress bar on stderr")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when a target is lost, a file errors, or a benchmark goal is unmet",
    )
    p.add_argument(
        "--session",
        action="store_true",
        help="run the multi-turn agent session benchmark instead (needs the full corpus)",
    )
    p.add_argument("--turns", type=int, default=20, help="turns of the session benchmark (default: 20)")
    p.add_argument(
        "--cost-model",
        default="claude-sonnet-4-5",
        help="model whose prices and prompt cache bill the session-cost replay (default: claude-sonnet-4-5)",
    )
    p.add_argument(
        "--window",
        type=_positive_int,
        default=128_000,
        help="context window of the session-cost replay in tokens (default: 128000)",
    )
    p.set_defaults(func=run_bench)


def _run_session(corpus: Path, turns: int, as_json: bool) -> Any:
    """The session benchmark's report: a dict for ``--json``, else its text table."""
    import dataclasses

    from headroom.session_bench import run_session_bench

    report = run_session_bench(corpus, turns=turns)
    if as_json:
        return dataclasses.asdict(report) if dataclasses.is_dataclass(report) else str(report)
    return report.format_table() if hasattr(report, "format_table") else str(report)


def _run_session_cost(directory: Path, args: argparse.Namespace) -> Any:
    """The session-cost replay (raw, token mode, cache mode): a dict for ``--json``, else its table."""
    import dataclasses

    from headroom.models import ModelRegistry
    from headroom.session_bench import build_records_session, records_session_files
    from headroom.session_cost import format_session_costs, session_costs

    files = records_session_files(directory / "json")
    if not files:
        raise ValueError(f"no API listings under {directory / 'json'}")
    session = build_records_session(files, 24 if len(files) >= 24 else 2 * len(files))
    costs = session_costs(session, model=args.cost_model, window=args.window)
    if args.json:
        return [{"label": c.label, "usd": c.usd, "rewrites": c.rewrites, **dataclasses.asdict(c)} for c in costs]
    return format_session_costs(costs, model=args.cost_model, window=args.window, registry=ModelRegistry())


def _session_main(directory: Path, args: argparse.Namespace) -> int:
    out: dict[str, Any] = {"corpus": str(directory)}
    texts = []
    try:
        out["session"] = _run_session(directory, args.turns, args.json)
        texts.append(str(out["session"]))
    except (OSError, ValueError, KeyError, IndexError) as exc:
        print(
            f"headroom bench: the agent-loop timing benchmark needs the full corpus (--corpus ../shared/corpus); "
            f"skipped on {directory} ({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
    try:
        out["session_cost"] = _run_session_cost(directory, args)
        texts.append(str(out["session_cost"]))
    except (OSError, ValueError, KeyError, IndexError) as exc:
        print(f"headroom bench: the session-cost replay could not run on {directory} ({exc})", file=sys.stderr)
    if len(out) == 1:
        return 1
    print(json.dumps(out, indent=2) if args.json else "\n\n".join(texts))
    return 0


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args``; return the process exit status."""
    from headroom.benchmark import ProgressBar, format_cases, format_summary, load_cases, run_bench, summarize, to_json
    from headroom.benchmark.corpus import default_samples_dir
    from headroom.config import HeadroomConfig

    directory = (args.corpus or default_samples_dir()).expanduser()
    if not directory.is_dir():
        hint = "" if args.corpus else " (the bundled samples are missing from this installation)"
        print(f"headroom bench: no such directory: {directory}{hint}", file=sys.stderr)
        return 2
    if args.session:
        return _session_main(directory, args)
    kinds = {"json": ("json",), "logs": ("log",), None: ("json", "log")}[args.only]
    cases, skipped = load_cases(directory, kinds=kinds)
    for line in skipped:
        print(f"headroom bench: skipped {line}", file=sys.stderr)
    if not cases:
        print(f"headroom bench: no *.json or *.log files under {directory}", file=sys.stderr)
        return 2
    progress = ProgressBar(enabled=False if args.no_progress or args.json else None)
    with tempfile.TemporaryDirectory(prefix="headroom-bench-") as workspace:
        config = HeadroomConfig(workspace_dir=workspace, stateless=False)
        results = run_bench(
            cases, model=args.model, config=config, on_case=progress, repeat=args.repeat, unquoted=not args.as_written
        )
        summaries = summarize(results)
        from headroom.ccr.store import get_store

        get_store(config).close()  # release the temporary SQLite file before it is deleted
    if args.json:
        print(
            json.dumps(
                to_json(results, extra={"corpus": str(directory), "model": args.model, "repeat": args.repeat}), indent=2
            )
        )
    else:
        if not args.summary_only:
            print(format_cases(results, markdown=args.markdown))
            print()
        print(format_summary(summaries, markdown=args.markdown))
        sys.stdout.flush()
        for r in results:
            if r.error:
                print(f"! {r.name}: {r.error}", file=sys.stderr)
    lost = any(not r.fidelity.complete for r in results)
    failed = any(r.error for r in results) or any(s.unmet() for s in summaries)
    return 1 if args.strict and (lost or failed) else 0
