"""``headroom bench`` through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from headroom.cli import main


@pytest.fixture
def small_corpus(samples_dir: Path, tmp_path: Path) -> Path:
    """Two real files: one GitHub API response, one loghub log."""
    for name in ("json/CodeScanAlert.testMultipleAlerts.25.json", "logs/OpenSSH_2k.log"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(samples_dir / name, tmp_path / name)
    return tmp_path


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert all(option in out for option in ("--corpus", "--json", "--only", "--session", "--strict", "--as-written"))


def test_json_output_has_a_row_per_file_and_question_and_a_summary_per_kind_and_question(
    small_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["bench", "--corpus", str(small_corpus), "--json"])

    data = json.loads(capsys.readouterr().out)
    assert status == 0
    names = ["json/CodeScanAlert.testMultipleAlerts.25.json", "logs/OpenSSH_2k.log"]
    assert [(f["name"], f["question"]) for f in data["files"]] == [
        *((n, "as written") for n in names),
        *((n, "unquoted") for n in names),
    ]
    assert [(s["kind"], s["question"]) for s in data["summary"]] == [
        ("json", "as written"),
        ("json", "unquoted"),
        ("log", "as written"),
        ("log", "unquoted"),
    ]


def test_as_written_asks_each_question_once(small_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "--corpus", str(small_corpus), "--json", "--as-written"])

    data = json.loads(capsys.readouterr().out)
    assert status == 0
    assert {f["question"] for f in data["files"]} == {"as written"}
    assert len(data["files"]) == 2


def test_unquoted_log_question_keeps_every_target(small_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["bench", "--corpus", str(small_corpus), "--json", "--only", "logs"])

    data = json.loads(capsys.readouterr().out)
    plain = next(f for f in data["files"] if f["question"] == "unquoted")
    assert plain["fidelity"]["kept"] == plain["fidelity"]["total"] > 1


def test_table_output_names_each_file_and_the_targets(small_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["bench", "--corpus", str(small_corpus), "--only", "logs", "--no-progress"])

    out = capsys.readouterr().out
    assert "logs/OpenSSH_2k.log" in out and "CodeScanAlert" not in out
    assert "benchmark target" in out
    assert "unquoted: targets kept" in out and "unquoted" in out.splitlines()[-1]


def test_missing_directory_exits_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "--corpus", str(tmp_path / "nowhere")])

    assert status == 2 and "no such directory" in capsys.readouterr().err


def test_unparseable_json_file_is_skipped_with_a_reason(small_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (small_corpus / "json" / "truncated.json").write_text('{"source": "x", "body": [{"id": 1}')

    status = main(["bench", "--corpus", str(small_corpus), "--json"])

    captured = capsys.readouterr()
    assert status == 0 and "skipped json/truncated.json" in captured.err
    assert len(json.loads(captured.out)["files"]) == 4  # two files, each asked as written and unquoted


@pytest.mark.corpus
def test_session_flag_runs_the_session_benchmark(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "--corpus", str(corpus_dir), "--session", "--turns", "3", "--json"])

    data = json.loads(capsys.readouterr().out)
    assert status == 0 and len(data["session"]["rows"]) == 3
