"""The fenced code blocks of the README (and of docs/*.md), read the one way both CI and tests/test_readme.py read them.

Standard library only: ``.ci/run`` calls it with the system Python before any virtual
environment exists (``python3 tests/support/readme_blocks.py --quick-start`` prints the Quick
start's shell commands, which CI then runs in a fresh copy of the repository).

Rules:
- A block is a fence of three backticks with a language (```python, ```bash); the section is the
  nearest ``## `` heading above it.
- An HTML comment ``<!-- not-run: REASON -->`` on the last non-blank line before a fence marks that
  block as not runnable by the README test (a real API key, a separate venv); CI still runs the
  Quick start's blocks, marked or not, because they are the set-up and the tests. The reference
  pages in docs/ follow the same rules; each runs in its own namespace.
- ``python`` blocks run in one namespace, in order, from the repository root; ``bash``/``sh``/
  ``shell``/``console`` blocks run with bash from the same directory.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SHELL_LANGUAGES", "Block", "parse", "quick_start_script"]

SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
QUICK_START = "Quick start"

_FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.+?)\s*-->$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    language: str
    code: str
    line: int
    """1-based line number of the opening fence."""
    section: str
    """Title of the enclosing ``## `` section ("" before the first)."""
    not_run: str | None = None
    """The reason given in a ``<!-- not-run: ... -->`` comment just before the block."""

    @property
    def runnable(self) -> bool:
        """A python or shell block that is not marked not-run."""
        return self.not_run is None and (self.language == "python" or self.language in SHELL_LANGUAGES)


def parse(text: str) -> list[Block]:
    """Every fenced block of ``text`` in order, with its section and not-run reason."""
    lines = text.splitlines()
    blocks: list[Block] = []
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        fence = _FENCE.match(line)
        if fence is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if fence.group(1):
            blocks.append(
                Block(fence.group(1), "\n".join(lines[i + 1 : end]) + "\n", i + 1, section, _reason(lines, i))
            )
        i = end + 1
    return blocks


def _reason(lines: list[str], fence_index: int) -> str | None:
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    match = _NOT_RUN.match(lines[j].strip()) if j >= 0 else None
    return match.group(1) if match else None


def quick_start_script(text: str) -> str:
    """The shell blocks under "## Quick start", joined in order: what CI runs in a fresh copy of the repo."""
    return "".join(b.code for b in parse(text) if b.section == QUICK_START and b.language in SHELL_LANGUAGES)


if __name__ == "__main__":
    if sys.argv[1:] != ["--quick-start"]:
        sys.exit("usage: readme_blocks.py --quick-start   (prints the README's Quick start commands)")
    readme = Path(__file__).resolve().parents[2] / "README.md"
    script = quick_start_script(readme.read_text(encoding="utf-8"))
    if not script.strip():
        sys.exit("README.md has no ```bash blocks under '## Quick start'")
    sys.stdout.write(script)
