"""Run a page's code blocks as written, in order, from the current directory (a copy of the repository).

``python tests/support/readme_runner.py [PAGE]`` executes every runnable block of ``PAGE``
(``README.md`` by default, or a reference page such as ``docs/proxy.md``; see
:mod:`readme_blocks` for the rules): python blocks in one shared namespace, as a reader pasting
them into one interpreter started at the repository root would; shell blocks with
``bash -e -o pipefail``. Blocks that use ``../shared/corpus`` run only when it is present.
Each block is announced as ``=== PAGE:LINE language ===``; the first failure ends the run
with status 1 and names its line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from readme_blocks import SHELL_LANGUAGES, Block, parse

CORPUS_PATH = "../shared/corpus"


def _skip_reason(block: Block, have_corpus: bool) -> str | None:
    if block.not_run is not None:
        return f"not-run: {block.not_run}"
    if not block.runnable:
        return "not code"
    if CORPUS_PATH in block.code and not have_corpus:
        return f"{CORPUS_PATH} is absent"
    return None


def run(page: Path) -> int:
    """Run the blocks of ``page`` from the current directory; 0 when every runnable block succeeded."""
    sys.path.insert(0, os.getcwd())  # as `python` started at the repository root sees it
    namespace: dict[str, object] = {"__name__": "__readme__"}
    have_corpus = Path(CORPUS_PATH, "json").is_dir()
    ran = 0
    name = page.as_posix()
    for block in parse(page.read_text(encoding="utf-8")):
        skip = _skip_reason(block, have_corpus)
        if skip is not None:
            if block.language == "python" or block.language in SHELL_LANGUAGES:
                print(f"=== {name}:{block.line} {block.language}: skipped ({skip}) ===", flush=True)
            continue
        print(f"=== {name}:{block.line} {block.language} ===", flush=True)
        ran += 1
        started = time.perf_counter()
        if block.language == "python":
            try:
                exec(compile(block.code, f"{name}:{block.line}", "exec"), namespace)
            except BaseException:
                traceback.print_exc()
                print(f"{name}: the block at line {block.line} failed", flush=True)
                return 1
            sys.stdout.flush()
            sys.stderr.flush()
        else:
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.code], check=False)
            if done.returncode != 0:
                print(f"{name}: the block at line {block.line} failed with status {done.returncode}", flush=True)
                return 1
        print(f"=== {name}:{block.line} done in {time.perf_counter() - started:.1f} s ===", flush=True)
    print(f"=== {name}: {ran} blocks ran ===", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit("usage: readme_runner.py [PAGE]   (README.md by default)")
    sys.exit(run(Path(sys.argv[1] if len(sys.argv) == 2 else "README.md")))
