"""``headroom demo``: a newcomer's first command. Compress two real tool outputs and show what was kept.

The samples ship inside the package (a GitHub API response listing 30 workflow runs, one of
them failed, and a 2,000-line sshd log), so the demo needs no data, key or network. Each goes
through :func:`headroom.compress` as the output of one tool call, with the question an agent
would have asked; the demo prints the before/after summary, the records and lines kept, and
the command that brings the original back from the CCR store, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["add_demo_parser", "run_demo"]

_ERROR_LINE = re.compile(r"error|fail|break-in|invalid", re.IGNORECASE)


@dataclass(frozen=True)
class _Sample:
    path: str
    title: str
    tool: str
    question: str


_SAMPLES = (
    _Sample(
        "json/PullRequest2408.test_get_workflow_runs.85.json",
        "GitHub Actions workflow runs (a recorded GitHub API response)",
        "list_workflow_runs",
        "Which workflow run failed?",
    ),
    _Sample(
        "logs/OpenSSH_2k.log",
        "an sshd log of 2,000 lines (loghub)",
        "read_auth_log",
        "Was there a break-in attempt?",
    ),
)


def add_demo_parser(subparsers: Any) -> None:
    """Register ``demo`` on the ``headroom`` CLI's sub-parsers."""
    from headroom.cli import model_name

    p = subparsers.add_parser(
        "demo",
        help="compress two bundled real tool outputs and show the saving and what was kept",
        description="Compress two tool outputs bundled with Headroom (GitHub workflow runs as JSON, an sshd "
        "log) as an agent would send them, and print tokens before/after, what was kept, and how to get "
        "the original back. Writes the originals to the CCR store, so headroom retrieve KEY works afterwards.",
    )
    p.add_argument("--model", default="gpt-4o", type=model_name, help="model whose tokenizer and prices apply")
    p.add_argument("--store-url", help="SQLAlchemy URL of the CCR store (default from config)")
    p.set_defaults(func=run_demo)


def _messages(sample: _Sample, output: str) -> list[dict[str, Any]]:
    call = {"id": "call_demo", "type": "function", "function": {"name": sample.tool, "arguments": "{}"}}
    return [
        {"role": "user", "content": sample.question},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_demo", "content": output},
    ]


def _kept_records(compressed: str) -> list[str]:
    """The workflow runs SmartCrusher kept: id, workflow name and conclusion of each."""
    data = json.loads(compressed)
    items = data.get("workflow_runs", []) if isinstance(data, dict) else data
    return [
        f"run {item['id']} {item.get('name')!s}: {item.get('conclusion')}"
        for item in items
        if isinstance(item, dict) and "id" in item
    ]


def _kept_lines(compressed: str, limit: int = 3) -> list[str]:
    """A few of the error and alert lines the log compressor kept verbatim."""
    lines = [
        line
        for line in compressed.splitlines()
        if line and not line.startswith(("[headroom", "  ^", "…")) and _ERROR_LINE.search(line)
    ]
    return lines[:limit]


def run_demo(args: argparse.Namespace) -> int:
    """Compress the bundled samples and print, for each, the summary, what was kept and the retrieve command."""
    from headroom.cli import summary_says_unknown_model
    from headroom.config import HeadroomConfig

    config = HeadroomConfig(store_url=args.store_url) if args.store_url else HeadroomConfig()
    with summary_says_unknown_model():
        _demo(args.model, config)
    return 0


def _demo(model: str, config: Any) -> None:
    from importlib.resources import files

    from headroom.ccr.store import get_store
    from headroom.compress import compress
    from headroom.display import kept_description, summarize
    from headroom.models import ModelRegistry

    print(f"Headroom compresses two real tool outputs bundled with it, as an agent would send them to {model}.")
    assumption = ModelRegistry.for_config(config).get(model).assumption()
    if assumption:  # said once here rather than in every summary below
        print(assumption[:1].upper() + assumption[1:] + ".")
    samples = files("headroom") / "samples"
    keys: list[str] = []
    for number, sample in enumerate(_SAMPLES, 1):
        raw = (samples / sample.path).read_text(encoding="utf-8")
        output = json.dumps(json.loads(raw)["body"]) if sample.path.endswith(".json") else raw
        result = compress(_messages(sample, output), model=model, config=config)
        compressed = result.messages[-1]["content"]
        print(f"\n{number}. {sample.title}, {len(output):,} characters, asked {sample.question!r}")
        print(f"   {summarize(result, model_note=False)}")
        if result.reports:
            print(f"   {kept_description(result.reports[0])}, verbatim:")
            shown = _kept_records(compressed) if sample.path.endswith(".json") else _kept_lines(compressed)
            for line in shown:
                print(f"     {line}")
        keys.extend(result.ccr_keys)
    print(f"\nNothing is lost: the originals are in the CCR store ({get_store(config).url}).")
    if keys:
        print(f"Get one back, byte for byte:  headroom retrieve {keys[0]}")
    print('Try your own tool output:     headroom compress FILE --query "your question"')
    sys.stdout.flush()
