"""The ``headroom`` command: compress, retrieve, stats, bench.

headroom compress tool_output.json --query "which run failed?"   # compressed text on stdout
headroom retrieve hr_0123456789abcdef                             # the original, exactly
headroom stats                                                    # what the store holds
headroom bench                                                    # savings on the bundled samples
headroom proxy --port 8787                                        # the compressing HTTP proxy
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from headroom.errors import HeadroomError

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


def _cmd_compress(args: argparse.Namespace) -> int:
    from headroom.compress import compress
    from headroom.config import HeadroomConfig

    text = _read_input(args.file)
    messages, is_conversation = _as_messages(text, args.query, args.tool)
    config = HeadroomConfig(store_url=args.store_url) if args.store_url else HeadroomConfig()
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

    store = get_store(HeadroomConfig(), args.store_url)
    stats = store.stats()
    client, _rows = persisted_totals(store)
    proxy_totals = stored_totals(store.engine)
    proxy = stats_json(proxy_totals) if proxy_totals else None
    if args.json:
        print(json.dumps({**stats, "client": client, "proxy": proxy, "process_counters": metrics.snapshot()}))
        return 0
    print(f"store              {stats['url']}")
    print(
        f"CCR entries        {stats['entries']:,} ({stats['bytes'] / 1e6:.2f} MB), retrieved {stats['retrievals']:,} times"
    )
    print(f"requests recorded  {stats['requests']:,}")
    print(
        f"tokens             {stats['tokens_before']:,} -> {stats['tokens_after']:,} "
        f"(saved {stats['tokens_saved']:,}; {stats['cached_tokens']:,} read from provider caches)"
    )
    print(
        f"cost (USD)         {stats['cost_before_usd']:.4f} -> {stats['cost_after_usd']:.4f} "
        f"(saved {stats['cost_saved_usd']:.4f})"
    )
    if client["requests"]:
        modes = ", ".join(f"{n} {m}" for m, n in sorted(client["by_mode"].items()))
        print(
            f"HeadroomClient     {client['requests']:,} calls ({modes}); {client['cache_hits']:,} semantic-cache hits; "
            f"spent {client['cost_usd']:.4f} USD; audit could save {client['potential_tokens_saved']:,} tokens"
        )
    if proxy is not None:
        t = proxy["tokens"]
        print(
            f"headroom proxy     {proxy['requests']['total']:,} requests ({proxy['requests']['compressed']:,} compressed); "
            f"tokens {t['before']:,} -> {t['after']:,} (saved {t['saved']:,}); "
            f"{sum(proxy['errors'].values()):,} errors; spent {proxy['cost_usd']:.4f} USD"
        )
    return 0


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
        prog="headroom", description="Make LLM context smaller without losing what the model needs."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "compress",
        help="compress a tool output (JSON, log, ...) or a messages file",
        description="Compress FILE (or - for stdin): a JSON tool output, a log, any text, or a "
        "JSON list of chat messages. The compressed text goes to stdout, a one-line "
        "summary to stderr.",
    )
    p.add_argument("file", help="path, or - for standard input")
    p.add_argument("--query", help="the question the output should answer (keeps what it names)")
    p.add_argument("--model", default="gpt-4o", help="model whose tokenizer and window apply (default gpt-4o)")
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
        description="Entries and bytes in the CCR store, and totals of recorded requests.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--store-url", help="SQLAlchemy URL of the store (default from config)")
    p.set_defaults(func=_cmd_stats)

    _add_proxy_parser(sub)

    try:
        from headroom.cli_bench import add_bench_parser
    except ImportError:  # pragma: no cover - the bench module ships with the package
        pass
    else:
        add_bench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``headroom`` command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    func: Any = getattr(args, "func", None)
    if func is None and args.command == "bench":
        from headroom.cli_bench import run_bench

        func = run_bench
    try:
        return int(func(args) or 0)
    except HeadroomError as exc:
        print(f"headroom: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
