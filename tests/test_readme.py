"""The README's code runs as written, and so does each reference page's (docs/*.md): every python and
shell block, in order, offline, each page from its own fresh copy of the repo.

The blocks run from a temporary copy of the repository (its tracked and untracked, not ignored
files; outside a git checkout, the tree without caches and build output), so commands that write files (``> smaller.json``) leave the clone alone; ``../shared``
beside the copy points at the real one, so corpus commands run when the corpus is there.
Network: HTTP(S) proxies point at a closed port on 127.0.0.1, and the OpenAI/Anthropic keys
are placeholders, so SDK clients can be built but any real API call fails. Blocks marked
``<!-- not-run: reason -->`` are skipped (CI runs the Quick start's set-up and test blocks in a
fresh venv instead: see .ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.readme_blocks import parse, quick_start_script

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = ["README.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md"))]
"""The pages whose blocks run: the README first, then every reference page."""


_NOT_COPIED = (".git", ".venv", "__pycache__", "*.egg-info", ".*_cache", ".benchmarks", "build", "dist", "*.db*")


def _copy_repo(target: Path) -> None:
    """The tracked and untracked, not ignored files (git), or the tree without build and cache directories."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (CI's copy of the repository)
        shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(*_NOT_COPIED), symlinks=True)
        return
    for name in listed.split("\0"):
        if name and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)


@pytest.fixture
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy for each page, so no page depends on files or a store another page left behind."""
    root = tmp_path_factory.mktemp("readme")
    copy = root / REPO.name
    _copy_repo(copy)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (root / "shared").symlink_to(shared.resolve(), target_is_directory=True)
    return copy


def _offline_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADROOM_")}
    blocked = "http://127.0.0.1:9"
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # headroom, python of this venv
            "HTTP_PROXY": blocked,
            "HTTPS_PROXY": blocked,
            "ALL_PROXY": blocked,
            "NO_PROXY": "127.0.0.1,localhost",
            "OPENAI_API_KEY": "sk-placeholder-readme-test",
            "ANTHROPIC_API_KEY": "sk-ant-placeholder-readme-test",
            "HEADROOM_WORKSPACE_DIR": str(home),
            "HEADROOM_CONFIG_DIR": str(home / "config"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def test_the_reference_pages_are_found() -> None:
    assert {"docs/configuration.md", "docs/long-sessions.md", "docs/proxy.md"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run_as_written(page: str, repo_copy: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "tests/support/readme_runner.py", page],
        cwd=repo_copy,
        env=_offline_env(tmp_path / "headroom-home"),
        capture_output=True,
        timeout=900,
        check=False,
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, output[-6000:]


def test_quick_start_creates_a_venv_installs_shows_a_saving_and_runs_the_tests() -> None:
    script = quick_start_script(README.read_text(encoding="utf-8"))
    for step in ("-m venv", "pip install -e", "headroom demo", "pytest"):
        assert step in script


def test_ci_runs_the_quick_start_read_by_the_same_parser() -> None:
    assert "tests/support/readme_blocks.py --quick-start" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_install_lines_name_the_distribution() -> None:
    text = README.read_text(encoding="utf-8")
    assert 'pip install "headroom[' not in text and "pip install 'headroom[" not in text
    assert 'pip install "headroom-context[' in text


def test_a_not_run_comment_marks_the_next_block_only() -> None:
    text = "## A\n\n<!-- not-run: needs an API key -->\n\n```python\nx = 1\n```\n\n```bash\necho hi\n```\n"
    first, second = parse(text)
    assert (first.not_run, first.runnable) == ("needs an API key", False)
    assert (second.not_run, second.runnable, second.section, second.line) == (None, True, "A", 9)


def test_blocks_without_a_language_or_of_other_languages_do_not_run() -> None:
    blocks = parse("```\nplain\n```\n\n```json\n{}\n```\n\n```text\nout\n```\n")
    assert [b.language for b in blocks] == ["json", "text"] and not any(b.runnable for b in blocks)


def test_quick_start_script_joins_only_its_shell_blocks() -> None:
    text = (
        "## Quick start\n\n```bash\na\n```\n\n```python\nb = 1\n```\n\n```bash\nc\n```\n\n## Next\n\n```bash\nd\n```\n"
    )
    assert quick_start_script(text) == "a\nc\n"
