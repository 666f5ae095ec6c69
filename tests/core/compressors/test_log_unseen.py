"""The log compressor on real logs outside the corpus, with questions typed the way people type them.

The data (tests/data/logs, see its README): this Debian machine's own dpkg.log and apt
term.log/history.log, a loghub Thunderbird excerpt, a pip build log and a pytest -v run
captured on this machine.
"""

from __future__ import annotations

from pathlib import Path

import headroom
import pytest
from headroom.benchmark.log_targets import line_shape
from headroom.compressors.base import CompressionContext
from headroom.compressors.log_compressor import LogCompressor
from headroom.config import HeadroomConfig
from headroom.content_config import ContentConfig, LogCompressorConfig
from headroom.tokens import get_counter

DATA = Path(__file__).resolve().parents[2] / "data" / "logs"
PROBLEM_WORDS = (
    "error", "fail", "unable", "cannot", "refused", "denied", "timeout", "timed out", "warning", "exception",
    "traceback", "panic",
)  # fmt: skip


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def compress(text: str, query: str = "", *, level: int = 0, **log_fields: object) -> str:
    config = HeadroomConfig(content=ContentConfig(log=LogCompressorConfig(**log_fields)))  # type: ignore[arg-type]
    ctx = CompressionContext(config=config, counter=get_counter("gpt-4o"), query=query, level=level)
    out = LogCompressor().compress(text, ctx)
    assert out is not None
    return out.text


def problem_shapes(text: str) -> dict[str, set[str]]:
    """Shape -> its lines, for every line that reports a problem in any of the words people use."""
    shapes: dict[str, set[str]] = {}
    for line in text.splitlines():
        if any(word in line.lower() for word in PROBLEM_WORDS):
            shapes.setdefault(line_shape(line), set()).add(line)
    return shapes


def missing_shapes(text: str, output: str) -> list[str]:
    kept = set(output.splitlines())
    return [shape[:120] for shape, lines in problem_shapes(text).items() if not lines & kept]


# -- problems reported under any level word -------------------------------------------------------


def test_keeps_every_shape_of_thunderbird_gmetad_warning_that_reports_a_failure() -> None:
    text = read("loghub-thunderbird-1201-1600.log")
    warnings = [shape for shape in problem_shapes(text) if "gmetad: Warning: we failed to resolve" in shape]
    assert len(warnings) == 3
    assert missing_shapes(text, compress(text)) == []


@pytest.mark.parametrize("name", ["debian-apt-term.log", "debian-dpkg.log", "pip-wheel-v.log", "pytest-v.log"])
def test_keeps_one_example_of_every_problem_shape_whatever_the_level_word(name: str) -> None:
    text = read(name)
    assert problem_shapes(text)
    assert missing_shapes(text, compress(text)) == []


def test_apt_denied_and_unable_lines_survive_among_package_installs() -> None:
    out = compress(read("debian-apt-term.log")).splitlines()
    assert "invoke-rc.d: policy-rc.d denied execution of start." in out
    assert "debconf: unable to initialize frontend: Dialog" in out


def test_a_failing_test_keeps_its_whole_traceback_in_pytest_output() -> None:
    text = read("pytest-v.log")
    failed = [line for line in text.splitlines() if line.startswith("FAILED ")]
    assert failed
    out = compress(text).splitlines()
    assert any(line in out for line in failed)


# -- questions in plain words ---------------------------------------------------------------------

UPGRADE = "2026-05-20 16:27:24 upgrade libc-bin:amd64 2.36-9+deb12u10 2.36-9+deb12u14"


@pytest.mark.parametrize(
    ("name", "question", "line"),
    [
        ("debian-dpkg.log", "when was libc-bin upgraded?", UPGRADE),
        ("debian-dpkg.log", "When was libc-bin upgraded", UPGRADE),
        ("debian-apt-term.log", "when did libc-bin get unpacked?", "Unpacking libc-bin (2.36-9+deb12u14) over (2.36-9+deb12u10) ..."),
        ("debian-apt-term.log", "what was denied by policy-rc.d on reload?", "invoke-rc.d: policy-rc.d denied execution of reload."),
        ("loghub-thunderbird-1201-1600.log", "any errors from gmetad?", None),
        ("loghub-thunderbird-1201-1600.log", "which data source did gmetad fail to resolve?", None),
        ("pip-wheel-v.log", "why is the project license deprecated?", None),
    ],
)  # fmt: skip
def test_a_plain_question_keeps_the_line_it_names(name: str, question: str, line: str | None) -> None:
    text = read(name)
    if line is None:
        words = {
            "gmetad": "gmetad: Warning: we failed to resolve data source name",
            "license": "BuildBackendWarning: `project.license` as a TOML table is deprecated",
        }
        needle = next(v for k, v in words.items() if k in question)
        line = next(x for x in text.splitlines() if needle in x)
    assert line in text.splitlines()
    assert line in compress(text, question, keep_first_lines=0, keep_last_lines=0).splitlines()


def test_a_plain_question_keeps_what_the_quoted_question_keeps() -> None:
    text = read("debian-dpkg.log")
    plain = compress(text, "When was libc-bin upgraded?").splitlines()
    quoted = compress(text, 'When was "libc-bin" upgraded?').splitlines()
    assert UPGRADE in plain and UPGRADE in quoted


def test_the_line_a_plain_question_names_ranks_first_when_its_name_is_everywhere() -> None:
    text = read("debian-dpkg.log")
    assert sum(1 for line in text.splitlines() if "libc-bin" in line) > 5
    out = compress(text, "when was libc-bin upgraded?", max_query_matches=1, keep_first_lines=0, keep_last_lines=0)
    assert UPGRADE in out.splitlines()
    assert 'more lines name "libc-bin"' in out


def test_without_a_question_the_upgrade_line_is_one_of_many_and_omitted() -> None:
    text = read("debian-dpkg.log")
    assert UPGRADE not in compress(text).splitlines()


@pytest.mark.corpus
def test_what_happened_to_node_17_keeps_the_lines_of_node_17(corpus_dir: Path) -> None:
    text = (corpus_dir / "logs" / "HPC_2k.log").read_text()
    node17 = [line for line in text.splitlines() if "node-17 " in line]
    assert len(node17) >= 3
    out = compress(text, "what happened to node 17?").splitlines()
    assert all(line in out for line in node17)


# -- compression levels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "question", "line"),
    [
        ("debian-dpkg.log", "when was libc-bin upgraded?", UPGRADE),
        ("debian-apt-term.log", "when did libc-bin get unpacked?", "Unpacking libc-bin (2.36-9+deb12u14) over (2.36-9+deb12u10) ..."),
    ],
)  # fmt: skip
def test_each_level_is_smaller_and_keeps_problem_shapes_and_the_named_line(name: str, question: str, line: str) -> None:
    text = read(name)
    outputs = [compress(text, question, level=level) for level in (0, 1, 2)]
    counter = get_counter("gpt-4o")
    sizes = [counter.count(o) for o in outputs]
    assert sizes[0] > sizes[1] > sizes[2]
    for out in outputs:
        assert missing_shapes(text, out) == []
        assert line in out.splitlines()


def test_level_two_says_in_one_line_what_else_the_log_held() -> None:
    out = compress(read("debian-dpkg.log"), level=2)
    summary = [line for line in out.splitlines() if line.startswith("[… besides these, ")]
    assert len(summary) == 1
    assert "ordinary lines of" in summary[0]


def test_every_level_stores_the_original_and_names_its_key() -> None:
    text = read("debian-apt-term.log")
    config = HeadroomConfig()
    for level in (0, 1, 2):
        ctx = CompressionContext(
            config=config, counter=get_counter("gpt-4o"), level=level, store=headroom.get_store(config)
        )
        out = LogCompressor().compress(text, ctx)
        assert out is not None and out.ccr_key is not None
        assert f'key="{out.ccr_key}"' in out.text.splitlines()[0]
        assert headroom.retrieve(out.ccr_key) == text
