"""What the benchmark quotes from a log and which lines it requires to survive."""

from __future__ import annotations

from pathlib import Path

from headroom.benchmark.corpus import BenchCase
from headroom.benchmark.log_targets import is_error_line, is_problem_line, line_shape, log_targets


def test_lines_differing_in_numbers_and_addresses_share_a_shape(samples_dir: Path) -> None:
    lines = (samples_dir / "logs" / "HDFS_2k.log").read_text().splitlines()
    served = [line for line in lines if "Got exception while serving" in line]

    assert len(served) > 2 and len({line_shape(line) for line in served}) == 1


def test_different_messages_have_different_shapes(bgl: BenchCase) -> None:
    lines = bgl.content.splitlines()
    tlb = next(line for line in lines if line.endswith("data TLB error interrupt"))
    storage = next(line for line in lines if line.endswith("data storage interrupt"))

    assert line_shape(tlb) != line_shape(storage)


def test_every_bgl_alert_line_is_in_an_alert_target(bgl: BenchCase) -> None:
    alerts = {line.strip() for line in bgl.content.splitlines() if line.split(" ", 1)[0] != "-"}
    covered = {line for t in bgl.targets if t.kind == "alert_shape" for line in t.lines}

    assert alerts and covered == alerts


def test_every_error_line_is_in_an_error_target(bgl: BenchCase) -> None:
    errors = {line.strip() for line in bgl.content.splitlines() if is_error_line(line)}
    covered = {line for t in bgl.targets if t.kind == "error_shape" for line in t.lines}

    assert errors and covered == errors


def test_unlabelled_log_has_no_alert_targets(samples_dir: Path) -> None:
    hdfs = log_targets((samples_dir / "logs" / "HDFS_2k.log").read_text())

    assert hdfs.alert_lines == 0 and not [t for t in hdfs.targets if t.kind == "alert_shape"]


def test_question_quotes_a_line_from_the_middle(bgl: BenchCase) -> None:
    quoted = next(t for t in bgl.targets if t.kind == "quoted_line")
    line_number = bgl.content.splitlines().index(quoted.lines[0]) + 1

    assert f'"{quoted.lines[0]}"' in bgl.question
    assert 900 <= line_number <= 1100


def test_error_words_match_in_any_case_and_inside_class_names() -> None:
    assert is_error_line("java.io.IOException: Connection reset")
    assert is_error_line("RAS KERNEL FATAL data storage interrupt")
    assert not is_error_line("Served block blk_-1 to /10.0.0.1")


def test_the_unquoted_question_pastes_the_same_line_without_quotation_marks(bgl: BenchCase) -> None:
    quoted = next(t for t in bgl.targets if t.kind == "quoted_line").lines[0]

    assert bgl.unquoted().question == bgl.question.replace(f'"{quoted}"', quoted)
    assert '"' not in bgl.unquoted().question.replace(quoted, "")


def test_problem_lines_in_other_words_are_targets_once(samples_dir: Path) -> None:
    ssh = log_targets((samples_dir / "logs" / "OpenSSH_2k.log").read_text())
    problem = [t for t in ssh.targets if t.kind == "problem_shape"]
    errors = {line for t in ssh.targets if t.kind == "error_shape" for line in t.lines}

    assert problem and all(is_problem_line(line) for t in problem for line in t.lines)
    assert not errors & {line for t in problem for line in t.lines}


def test_problem_words_include_warnings_refusals_and_timeouts() -> None:
    assert is_problem_line("gmetad: Warning: we failed to resolve data source name an14")
    assert is_problem_line("invoke-rc.d: policy-rc.d denied execution of start.")
    assert is_problem_line("Connection timed out")
    assert not is_problem_line("Setting up libc-bin (2.36-9+deb12u14) ...")
