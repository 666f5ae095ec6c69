"""The diff compressor on real ``git log -p`` / ``git diff`` output of this repository and of a scratch repo."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from headroom.ccr import CCRStore, execute_retrieve_tool
from headroom.compressors.base import CompressionContext
from headroom.compressors.diff_compressor import DiffCompressor
from headroom.config import HeadroomConfig
from headroom.content_config import ContentConfig, DiffCompressorConfig
from headroom.tokens import get_counter

REPO = Path(__file__).resolve().parents[3]
_MARKER = re.compile(r"^  … (?:(\d+) unchanged lines \(L(\d+)-(\d+)\)|1 unchanged line \(L(\d+)\)) …$")


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def ctx_for(store: CCRStore | None = None, **fields: object) -> CompressionContext:
    config = HeadroomConfig(content=ContentConfig(diff=DiffCompressorConfig(**fields)))
    return CompressionContext(config=config, counter=get_counter("gpt-4o"), store=store)


@pytest.fixture(scope="module")
def wide_log() -> str:
    """Eight commits of the repo's history with 20 lines of context around each change.

    The history ends at a fixed commit, so commits made later (a branch adding whole new
    modules, which are all changed lines) do not change what this test compresses.
    """
    return git("log", "-p", "-U20", "-8", "981e6b9", "--", "core/headroom")


def test_keeps_every_header_hunk_header_and_changed_line(wide_log: str) -> None:
    out = DiffCompressor().compress(wide_log, ctx_for())
    assert out is not None
    kept = set(out.text.splitlines())
    must = [
        line for line in wide_log.splitlines()
        if line.startswith(("diff --git", "index ", "--- ", "+++ ", "@@ ", "+", "-", "commit ", "Author:"))
    ]  # fmt: skip
    assert must and all(line in kept for line in must)


def test_trims_unchanged_context_beyond_the_window(wide_log: str) -> None:
    narrow = DiffCompressor().compress(wide_log, ctx_for(context_lines=0))
    wide = DiffCompressor().compress(wide_log, ctx_for(context_lines=5))
    assert narrow is not None and wide is not None
    assert narrow.details["omitted_lines"] > wide.details["omitted_lines"] > 0
    counter = get_counter("gpt-4o")
    assert counter.count(narrow.text) < counter.count(wide_log) * 0.8


def test_trimmed_ranges_are_retrievable_by_line_numbers(wide_log: str) -> None:
    store = CCRStore("sqlite://")
    out = DiffCompressor().compress(wide_log, ctx_for(store=store))
    assert out is not None and out.ccr_key
    assert store.get(out.ccr_key) == wide_log
    marker = next(m for line in out.text.splitlines() if (m := _MARKER.match(line)) and m.group(1))
    start, end = int(marker.group(2)), int(marker.group(3))
    got = execute_retrieve_tool({"key": out.ccr_key, "lines": f"{start}-{end}"}, store).splitlines()
    assert len(got) == int(marker.group(1))
    assert all(line.startswith(" ") or line == "" for line in got)


@pytest.fixture(scope="module")
def lockfile_diff(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> str:
    """A real git diff of a scratch repo: a source file changed between two commits of this repo, and a lock file."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path_factory.mktemp("diffrepo")
    git("init", "-q", cwd=work)
    git("config", "user.email", "test@example.invalid", cwd=work)
    git("config", "user.name", "headroom test", cwd=work)
    first = git("rev-list", "--max-parents=0", "HEAD").split()[0]
    samples = sorted((samples_dir / "json").glob("*.json"))
    (work / "config.py").write_text(git("show", f"{first}:core/headroom/config.py"))
    (work / "package-lock.json").write_text(samples[0].read_text())
    git("add", "-A", cwd=work)
    git("commit", "-qm", "one", cwd=work)
    (work / "config.py").write_text((REPO / "core/headroom/config.py").read_text())
    (work / "package-lock.json").write_text(samples[1].read_text())
    git("commit", "-qam", "two", cwd=work)
    return git("diff", "-U10", "HEAD~1", cwd=work)


def test_collapses_a_lock_file_to_a_one_line_summary(lockfile_diff: str) -> None:
    out = DiffCompressor().compress(lockfile_diff, ctx_for())
    assert out is not None
    assert out.details["generated_files"] == 1
    assert re.search(
        r"^\[generated or vendored file package-lock\.json: \+\d+ -\d+ lines in \d+ hunks omitted", out.text, re.M
    )
    lock_lines = lockfile_diff.split("diff --git a/package-lock.json")[1].splitlines()[5:]
    assert not any(line in out.text.splitlines() for line in lock_lines if len(line) > 40)
    assert "diff --git a/config.py b/config.py" in out.text


def test_generated_file_patterns_are_configurable(lockfile_diff: str) -> None:
    out = DiffCompressor().compress(lockfile_diff, ctx_for(generated_file_patterns=[]))
    assert out is not None
    assert out.details["generated_files"] == 0


def test_never_replaces_a_stretch_shorter_than_its_marker(wide_log: str) -> None:
    out = DiffCompressor().compress(wide_log, ctx_for(context_lines=1))
    assert out is not None
    counts = [int(m.group(1) or 1) for line in out.text.splitlines() if (m := _MARKER.match(line))]
    assert counts and min(counts) >= 4


def test_small_disabled_or_protected_diffs_pass_through(wide_log: str) -> None:
    assert DiffCompressor().compress(wide_log, ctx_for(min_lines=10**6)) is None
    assert DiffCompressor().compress(wide_log, ctx_for(enabled=False)) is None
    protected = ctx_for()
    protected.lossless_only = True
    assert DiffCompressor().compress(wide_log, protected) is None


def test_compress_routes_a_diff_tool_result_to_the_diff_compressor(wide_log: str) -> None:
    import headroom

    messages = [
        {"role": "user", "content": "What changed recently in core/headroom?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "d1", "type": "function", "function": {"name": "git_log", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "d1", "content": wide_log},
    ]  # fmt: skip
    result = headroom.compress(messages, model="gpt-4o")
    assert "diff_compressor" in result.transforms_applied
    assert result.tokens_after < result.tokens_before
    assert headroom.retrieve(result.ccr_keys[0]) == wide_log
