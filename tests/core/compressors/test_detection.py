"""Content detection on real outputs: logs, JSON, git diffs, grep results, source, HTML, prose."""

from __future__ import annotations

import base64
import json
import pydoc
import subprocess
from pathlib import Path

import headroom
import pytest
from headroom.compressors.detection import ContentType, detect_content_type, strip_ansi

REPO = Path(__file__).resolve().parents[3]
LOG_NAMES = ["Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux", "Mac",
             "OpenSSH", "OpenStack", "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper"]  # fmt: skip


def run(*args: str) -> str:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True).stdout


@pytest.mark.corpus
@pytest.mark.parametrize("name", LOG_NAMES)
def test_detects_every_corpus_log_as_a_log(corpus_dir: Path, name: str) -> None:
    assert detect_content_type((corpus_dir / "logs" / f"{name}_2k.log").read_text()) is ContentType.LOG


def test_bracketed_log_lines_are_not_mistaken_for_json(samples_dir: Path) -> None:
    apache_like = "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok\n" * 50
    assert detect_content_type(apache_like) is ContentType.LOG


def test_detects_json_arrays_and_objects(samples_dir: Path) -> None:
    path = next((samples_dir / "json").glob("*.json"))
    body = json.loads(path.read_text())["body"]
    assert detect_content_type(json.dumps(body)) is ContentType.JSON
    assert detect_content_type(json.dumps(body, indent=2)) is ContentType.JSON


def test_detects_git_diffs_and_git_log_patches() -> None:
    # The oldest commits of the repo: the same text whatever is committed later.
    assert (
        detect_content_type(run("git", "log", "-p", "--reverse", "--", "core/headroom/config.py")) is ContentType.DIFF
    )
    root = run("git", "rev-list", "--max-parents=0", "HEAD").split()[0]
    assert detect_content_type(run("git", "show", root, "--", "core/headroom/compress.py")) is ContentType.DIFF


def test_detects_grep_results() -> None:
    assert detect_content_type(run("grep", "-rn", "def ", "core/headroom/ccr")) is ContentType.SEARCH
    assert detect_content_type(run("grep", "-rn", "-C", "1", "import", "core/headroom/ccr")) is ContentType.SEARCH


def test_detects_source_code() -> None:
    assert detect_content_type((REPO / "core/headroom/ccr/store.py").read_text()) is ContentType.CODE
    assert detect_content_type(run("cat", "-n", "core/headroom/relevance.py")) is ContentType.CODE


def test_detects_html_pages() -> None:
    page = pydoc.html.page("json", pydoc.html.document(json))
    assert detect_content_type(page) is ContentType.HTML


def test_detects_prose() -> None:
    text = headroom.compress.__doc__ or ""
    prose = "\n".join(
        line.strip() for line in text.splitlines() if line.strip() and ">>>" not in line and "..." not in line
    )
    assert detect_content_type(prose) is ContentType.PROSE


def test_markdown_with_code_fences_is_mixed() -> None:
    readme = (REPO / "core/headroom/samples/README.md").read_text()
    mixed = readme + "\n```python\n" + (REPO / "core/headroom/relevance.py").read_text()[:1500] + "\n```\n"
    assert detect_content_type(mixed) in (ContentType.MIXED, ContentType.PROSE)


def test_empty_binary_and_unknown_inputs() -> None:
    assert detect_content_type("") is ContentType.EMPTY
    assert detect_content_type(" \n\t\r\n") is ContentType.EMPTY
    garbage = bytes(range(256)).decode("latin-1") * 40
    assert detect_content_type(garbage) is ContentType.BINARY
    assert detect_content_type("x" * 10_000_000) is ContentType.UNKNOWN


def test_ansi_colour_codes_do_not_hide_the_kind(corpus_dir: Path) -> None:
    lines = (corpus_dir / "logs" / "Zookeeper_2k.log").read_text().splitlines()[:300]
    coloured = "\n".join(
        line.replace(" - INFO ", " - \x1b[32mINFO\x1b[0m ").replace(" - WARN ", " - \x1b[33mWARN\x1b[0m ")
        for line in lines
    )
    assert "\x1b[" in coloured
    assert detect_content_type(coloured) is ContentType.LOG
    assert strip_ansi(coloured) == "\n".join(lines)


def test_crlf_newlines_are_understood(corpus_dir: Path) -> None:
    text = (corpus_dir / "logs" / "HDFS_2k.log").read_text()
    assert detect_content_type(text.replace("\n", "\r\n")) is ContentType.LOG


def test_unknown_content_passes_through_compress_unchanged() -> None:
    blob = base64.encodebytes((REPO / "core/headroom/samples/README.md").read_bytes() * 4).decode()
    assert detect_content_type(blob) is ContentType.UNKNOWN
    messages = [
        {"role": "user", "content": "decode this attachment"},
        {"role": "tool", "tool_call_id": "x1", "content": blob},
    ]
    result = headroom.compress(messages, model="gpt-4o")
    assert result.messages[1]["content"] == blob
    assert any("unknown" in reason for reason in result.passthrough_reasons)


DATA = Path(__file__).resolve().parents[2] / "data" / "logs"


@pytest.mark.parametrize("name", ["debian-apt-term.log", "debian-dpkg.log", "debian-apt-history.log"])
def test_detects_package_manager_logs_with_or_without_timestamps(name: str) -> None:
    assert detect_content_type((DATA / name).read_text()) is ContentType.LOG


@pytest.mark.parametrize("name", ["pip-wheel-v.log", "pytest-v.log"])
def test_detects_build_and_test_runner_output_as_logs(name: str) -> None:
    assert detect_content_type((DATA / name).read_text()) is ContentType.LOG


def test_apt_term_log_goes_to_the_log_compressor() -> None:
    text = (DATA / "debian-apt-term.log").read_text()
    messages = [
        {"role": "user", "content": "did anything fail while installing packages?"},
        {"role": "tool", "tool_call_id": "c1", "content": text},
    ]
    result = headroom.compress(messages, model="gpt-4o")
    assert "log_compressor" in result.transforms_applied
    assert result.tokens_after < result.tokens_before * 0.3


def test_the_readme_and_module_docs_stay_prose_or_mixed() -> None:
    readme = (REPO / "README.md").read_text()
    assert detect_content_type(readme) in (ContentType.MIXED, ContentType.PROSE)
    sample_readme = (REPO / "core/headroom/samples/README.md").read_text()
    assert detect_content_type(sample_readme) in (ContentType.MIXED, ContentType.PROSE)
