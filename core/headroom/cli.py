"""The ``headroom`` command: demo, compress, retrieve, stats, bench, proxy.

headroom demo                                                     # compress two bundled samples, see what was kept
headroom compress tool_output.json --query "which run failed?"   # compressed text on stdout
headroom retrieve hr_0123456789abcdef                             # the original, exactly
headroom stats                                                    # what the store holds
headroom bench                                                    # savings on the bundled samples
headroom proxy --port 8787                                        # the compressing HTTP proxy
headroom --version                                                # headroom-context 0.1.0

Bare ``headroom`` prints this help and exits 0. Errors are one line on stderr, ``headroom: error: ...``,
exit status 2; a bad flag value names the flag.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from headroom.about import DISTRIBUTION_NAME
from headroom.errors import ConfigurationError, HeadroomError

__all__ = ["main"]


def _read_input(source: str) -> str:
    if source == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise HeadroomError(f"cannot read {source}: {exc.strerror or exc}") from None
    return data.decode("utf-8", "surrogateescape")


def _as_messages(text: str, query: str | None, tool_name: str) -> tuple[list[dict[str, Any]], bool]:
    """A messages file is used as is; anything else becomes the output of one tool call."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            data = None
        if isinstance(data, list) and data and all(isinstance(m, dict) and "role" in m for m in data):
            return data, True
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("messages"), list):
            return data["messages"], True
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": query or f"Here is the output of {tool_name}."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_cli", "type": "function", "function": {"name": tool_name, "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_cli", "content": text},
    ]
    return messages, False


class _SaidBySummary(logging.Filter):
    """Drops the unknown-model log record while the command's own summary line says the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        from headroom.models import UNKNOWN_MODEL_LOG_KEY

        return not hasattr(record, UNKNOWN_MODEL_LOG_KEY)


@contextlib.contextmanager
def summary_says_unknown_model() -> Iterator[None]:
    """While compressing for a command that prints ``result.summary()``: say an unknown model once, there."""
    logger = logging.getLogger("headroom.models")
    said = _SaidBySummary()
    logger.addFilter(said)
    try:
        yield
    finally:
        logger.removeFilter(said)


def _cmd_compress(args: argparse.Namespace) -> int:
    from headroom.compress import compress
    from headroom.config import HeadroomConfig

    text = _read_input(args.file)
    messages, is_conversation = _as_messages(text, args.query, args.tool)
    config = HeadroomConfig(store_url=args.store_url) if args.store_url else HeadroomConfig()
    if args.store_url:
        from headroom.ccr.store import resolve_store_url

        resolve_store_url(config)  # a malformed --store-url is the caller's error, not a reason to fail open
    with summary_says_unknown_model():
        result = compress(
            messages, model=args.model, config=config, mode=args.mode, query=args.query if is_conversation else None
        )
    out: Any
    if is_conversation:
        out = json.dumps(result.messages, ensure_ascii=False, indent=None)
    else:
        out = result.messages[-1]["content"]
    if args.json:
        payload = result.to_dict()
        payload["output"] = result.messages if is_conversation else out
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    keys = f"; CCR keys: {', '.join(result.ccr_keys)}" if result.ccr_keys else ""
    reasons = f"; {result.passthrough_reasons[0]}" if result.passthrough_reasons and not result.tokens_saved else ""
    print(f"headroom: {result.summary()}{keys}{reasons}", file=sys.stderr)
    return 0


def _cmd_retrieve(args: argparse.Namespace) -> int:
    from headroom.ccr.retrieval import search_original
    from headroom.ccr.store import get_store
    from headroom.config import HeadroomConfig

    store = get_store(HeadroomConfig(), args.store_url)
    original = store.get(args.key)
    text = search_original(original, args.query) if args.query else original
    sys.stdout.write(text)
    if args.query and not text.endswith("\n"):
        sys.stdout.write("\n")
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from headroom import metrics
    from headroom.ccr.store import get_store
    from headroom.config import HeadroomConfig
    from headroom.providers.accounting import persisted_totals
    from headroom.proxy.prometheus import stats_json
    from headroom.proxy.stats import stored_totals

    config = HeadroomConfig()
    store = get_store(config, args.store_url)
    stats = store.stats()
    try:
        client, _rows = persisted_totals(store)
        proxy_totals = stored_totals(store.engine)
        by_source = _totals_by_source(store)
    except Exception as exc:  # the store opened but cannot be read: one sentence, not a traceback
        from headroom.ccr.engine import describe_error
        from headroom.errors import StoreError

        raise StoreError(f"cannot read the Headroom store {store.shown_url}: {describe_error(exc)}") from None
    proxy = stats_json(proxy_totals) if proxy_totals else None
    if args.json:
        print(
            json.dumps(
                {
                    **stats,
                    "by_source": by_source,
                    "client": client,
                    "proxy": proxy,
                    "process_counters": metrics.snapshot(),
                }
            )
        )
        return 0
    _print_stats(
        stats, by_source, client, shared_by=_shared_by(config, args.store_url), source=args.source, proxy=proxy
    )
    return 0


def _shared_by(config: Any, store_url: str | None) -> str:
    """Who else reads and writes this store: everyone on the same workspace, or on the same URL."""
    from sqlalchemy.engine import make_url

    url = store_url or config.store_url
    try:
        parsed = make_url(url)
    except Exception:  # an unusable URL is reported by get_store before this is reached
        return "every process using this store URL"
    database = parsed.database or ""
    if (
        parsed.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not Path(database).is_absolute()
    ):
        return f"every process using the workspace {config.workspace_dir} (HEADROOM_WORKSPACE_DIR)"
    return "every process using this store URL"


def _totals_by_source(store: Any) -> dict[str, dict[str, Any]]:
    """Requests, tokens and costs of the metrics table per ``source`` (client, proxy, ...)."""
    from sqlalchemy import func, select

    from headroom.ccr.schema import metrics_table

    m = metrics_table.c
    query = select(
        m.source,
        func.count(),
        func.coalesce(func.sum(m.tokens_before), 0),
        func.coalesce(func.sum(m.tokens_after), 0),
        func.coalesce(func.sum(m.cached_tokens), 0),
        func.coalesce(func.sum(m.cost_before), 0.0),
        func.coalesce(func.sum(m.cost_after), 0.0),
    ).group_by(m.source)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return {
        str(source): {
            "requests": int(n),
            "tokens_before": int(before),
            "tokens_after": int(after),
            "tokens_saved": int(before) - int(after),
            "cached_tokens": int(cached),
            "cost_before_usd": float(cost_before),
            "cost_after_usd": float(cost_after),
            "cost_saved_usd": float(cost_before) - float(cost_after),
        }
        for source, n, before, after, cached, cost_before, cost_after in sorted(rows, key=lambda r: str(r[0]))
    }


def _print_stats(
    stats: dict[str, Any],
    by_source: dict[str, dict[str, Any]],
    client: dict[str, Any],
    *,
    shared_by: str,
    source: str | None,
    proxy: dict[str, Any] | None = None,
) -> None:
    print(f"store              {stats['url']}")
    print(f"                   shared by {shared_by}; the figures are their total")
    print(
        f"CCR entries        {stats['entries']:,} ({stats['bytes'] / 1e6:.2f} MB), retrieved {stats['retrievals']:,} times"
    )
    totals = stats
    if source is not None:
        empty = {k: 0 for k in ("requests", "tokens_before", "tokens_after", "tokens_saved", "cached_tokens")}
        totals = by_source.get(source) or {
            **empty,
            "cost_before_usd": 0.0,
            "cost_after_usd": 0.0,
            "cost_saved_usd": 0.0,
        }
        print(f"requests recorded  {totals['requests']:,} with source {source!r} (all sources: {stats['requests']:,})")
    elif by_source:
        sources = ", ".join(f"{name} {row['requests']:,}" for name, row in by_source.items())
        first = next(iter(by_source))
        print(
            f"requests recorded  {stats['requests']:,} by source: {sources}; one source: headroom stats --source {first}"
        )
    else:
        print(f"requests recorded  {stats['requests']:,}")
    print(
        f"tokens             {totals['tokens_before']:,} -> {totals['tokens_after']:,} "
        f"(saved {totals['tokens_saved']:,}; {totals['cached_tokens']:,} read from provider caches)"
    )
    print(
        f"cost (USD)         {totals['cost_before_usd']:.4f} -> {totals['cost_after_usd']:.4f} "
        f"(saved {totals['cost_saved_usd']:.4f})"
    )
    if client["requests"] and source in (None, "client"):
        modes = ", ".join(f"{n} {m}" for m, n in sorted(client["by_mode"].items()))
        print(
            f"HeadroomClient     {client['requests']:,} calls ({modes}); {client['cache_hits']:,} semantic-cache hits; "
            f"spent {client['cost_usd']:.4f} USD; audit could save {client['potential_tokens_saved']:,} tokens"
        )
    if proxy is not None and source in (None, "proxy"):
        t = proxy["tokens"]
        print(
            f"headroom proxy     {proxy['requests']['total']:,} requests ({proxy['requests']['compressed']:,} compressed); "
            f"tokens {t['before']:,} -> {t['after']:,} (saved {t['saved']:,}); "
            f"{sum(proxy['errors'].values()):,} errors; spent {proxy['cost_usd']:.4f} USD"
        )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535 (0 picks a free one), got {text!r}")
    return value


def _dollars(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of US dollars, got {text!r}")
    return value


def _optimization_mode(text: str) -> str:
    from headroom.config import parse_optimization_mode
    from headroom.errors import ConfigurationError

    try:
        return parse_optimization_mode(text, "--mode")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(f"expected {exc.accepted}, got {text!r}") from None


def _cmd_proxy(args: argparse.Namespace) -> int:
    from headroom.proxy.server import serve
    from headroom.proxy.settings import ProxySettings

    settings = ProxySettings.load(
        host=args.host, port=args.port, mode=args.mode, workers=args.workers, stateless=args.stateless,
        budget_usd=args.budget, store_url=args.store_url, openai_upstream=args.openai_upstream,
        anthropic_upstream=args.anthropic_upstream,
    )  # fmt: skip
    return serve(settings)


def _add_proxy_parser(sub: Any) -> None:
    p = sub.add_parser(
        "proxy",
        help="run the OpenAI- and Anthropic-compatible proxy that compresses requests on the way through",
        description="Serve /v1/chat/completions (OpenAI), /v1/messages (Anthropic) and Headroom's "
        "/v1/compress and /v1/retrieve; every other path is passed through. Each option also comes "
        "from its environment variable; the command line wins. Needs the proxy extra.",
    )
    p.add_argument("--host", help="address to bind (HEADROOM_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=_port, help="port to bind (HEADROOM_PORT, default 8787; 0 picks a free one)")
    p.add_argument(
        "--mode",
        type=_optimization_mode,
        help="token: compress for the fewest tokens (default); cache: keep sent turns byte-stable for "
        "provider prompt caches (HEADROOM_MODE; legacy aliases accepted)",
    )
    p.add_argument(
        "--workers", type=_positive_int, help="worker processes sharing one store (HEADROOM_WORKERS, default 1)"
    )
    p.add_argument(
        "--stateless",
        action="store_true",
        default=None,
        help="keep the store in memory, write nothing to disk (HEADROOM_STATELESS)",
    )
    p.add_argument("--budget", type=_dollars, help="daily spend limit in USD over all workers (HEADROOM_BUDGET)")
    p.add_argument("--store-url", help="SQLAlchemy URL of the shared store (HEADROOM_STORE_URL)")
    p.add_argument(
        "--openai-upstream",
        help="base URL for OpenAI requests, the request path is appended (HEADROOM_OPENAI_UPSTREAM, "
        "default https://api.openai.com)",
    )
    p.add_argument(
        "--anthropic-upstream",
        help="base URL for Anthropic requests (HEADROOM_ANTHROPIC_UPSTREAM, default https://api.anthropic.com)",
    )
    p.set_defaults(func=_cmd_proxy)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headroom",
        description="Make LLM context smaller without losing what the model needs.",
        epilog="Start with: headroom demo",
    )
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION_NAME} {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from headroom.cli_demo import add_demo_parser

    add_demo_parser(sub)

    p = sub.add_parser(
        "compress",
        help="compress a tool output (JSON, log, ...) or a messages file",
        description="Compress FILE (or - for stdin): a JSON tool output, a log, any text, or a "
        "JSON list of chat messages. The compressed text goes to stdout, a one-line "
        "summary to stderr.",
    )
    p.add_argument("file", help="path, or - for standard input")
    p.add_argument("--query", help="the question the output should answer (keeps what it names)")
    p.add_argument(
        "--model", default="gpt-4o", type=model_name, help="model whose tokenizer and window apply (default gpt-4o)"
    )
    p.add_argument(
        "--mode",
        default="optimize",
        choices=["optimize", "audit", "simulate"],
        help="optimize (default) compresses; audit only measures; simulate stores nothing",
    )
    p.add_argument("--tool", default="tool_output", help="tool name for per-tool profiles (default tool_output)")
    p.add_argument("--json", action="store_true", help="machine-readable output: figures and the compressed output")
    p.add_argument("--store-url", help="SQLAlchemy URL of the CCR store (default from config)")
    p.set_defaults(func=_cmd_compress)

    p = sub.add_parser(
        "retrieve",
        help="print the original content stored under a CCR key",
        description="Print the original content of KEY exactly as it was before compression.",
    )
    p.add_argument("key", help="a CCR key such as hr_0123456789abcdef")
    p.add_argument("--query", help="print only the items or lines of the original that match")
    p.add_argument("--store-url", help="SQLAlchemy URL of the CCR store (default from config)")
    p.set_defaults(func=_cmd_retrieve)

    p = sub.add_parser(
        "stats",
        help="what the store holds and the totals saved",
        description="Entries and bytes in the CCR store, and totals of recorded requests. The store is "
        "shared: every process using the same workspace (HEADROOM_WORKSPACE_DIR, default ~/.headroom) or the "
        "same store URL reads and writes it, so the totals are theirs together; --source shows one source.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--store-url", help="SQLAlchemy URL of the store (default from config)")
    p.add_argument(
        "--source", help="figures of one source only (the metrics table's source column: client, proxy, ...)"
    )
    p.set_defaults(func=_cmd_stats)

    _add_proxy_parser(sub)

    try:
        from headroom.cli_bench import add_bench_parser
    except ImportError:  # pragma: no cover - the bench module ships with the package
        pass
    else:
        add_bench_parser(sub)
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION_NAME)
    except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
        from headroom import __version__

        return __version__


def model_name(text: str) -> str:
    """argparse type of ``--model``: any non-empty name (unknown names are accepted and said in the summary)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a model name such as gpt-4o, got an empty string")
    return text


# Configuration fields a flag sets: an error about the field names the flag the user typed.
_FLAG_OF_FIELD = {"store_url": "--store-url", "HeadroomConfig.store_url": "--store-url"}


def _as_flag_error(exc: ConfigurationError, args: argparse.Namespace) -> ConfigurationError:
    flag = _FLAG_OF_FIELD.get(exc.field)
    if flag is None or getattr(args, flag.lstrip("-").replace("-", "_"), None) is None:
        return exc
    return ConfigurationError(flag, exc.value, exc.accepted)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``headroom`` command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    func: Any = getattr(args, "func", None)
    if func is None and args.command == "bench":
        from headroom.cli_bench import run_bench

        func = run_bench
    try:
        return int(func(args) or 0)
    except ConfigurationError as exc:
        print(f"headroom: error: {_as_flag_error(exc, args)}", file=sys.stderr)
        return 2
    except HeadroomError as exc:
        print(f"headroom: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
