"""The README and the reference pages (docs/*.md) stay true to the repository they describe.

Their code runs in tests/test_readme.py; here: every relative link points at a file that exists
and, with ``#anchor``, at a heading of that file (GitHub's anchors), and the field tables of
docs/configuration.md list exactly the fields of the configuration models, with their defaults.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path

import pytest
from headroom import (
    CacheAlignerConfig,
    CacheOptimizerConfig,
    CCRConfig,
    HeadroomConfig,
    PrefixFreezeConfig,
    SmartCrusherConfig,
    ToolProfile,
)
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CONFIGURATION = REPO / "docs" / "configuration.md"

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```")


def _prose(text: str) -> str:
    """The text outside fenced code blocks (a link inside code is not a link)."""
    kept, inside = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            kept.append(line)
    return "\n".join(kept)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower-cased, punctuation removed, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", _prose(page.read_text()), re.M)}


def _links(page: Path) -> list[str]:
    return [m.group(1) for m in _LINK.finditer(_prose(page.read_text(encoding="utf-8")))]


def test_github_anchor_drops_punctuation_and_keeps_double_hyphens() -> None:
    assert github_anchor("Python: `compress()` and `retrieve()`") == "python-compress-and-retrieve"
    assert github_anchor("TypeScript / Node") == "typescript--node"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_point_at_existing_files_and_headings(page: Path) -> None:
    broken = []
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue  # an absolute URL: not checked offline
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no file {path}")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {target.name}")
    assert broken == []


def test_every_reference_page_is_linked_from_the_readme() -> None:
    linked = {link.partition("#")[0] for link in _links(REPO / "README.md")}
    assert {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")} <= linked


def _table_rows(section: str) -> dict[str, list[str]]:
    """field name -> the other cells of its row, from the first table under ``## `section```."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    start = text.index(f"## `{section}`")
    end = text.find("\n## ", start + 1)
    rows: dict[str, list[str]] = {}
    for line in text[start : end if end != -1 else None].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


_SCALARS = (bool, int, float, str, type(None))


@pytest.mark.parametrize(
    "model",
    [
        HeadroomConfig,
        SmartCrusherConfig,
        ToolProfile,
        CacheAlignerConfig,
        CacheOptimizerConfig,
        CCRConfig,
        PrefixFreezeConfig,
    ],
    ids=lambda m: m.__name__,
)
def test_configuration_page_lists_every_field_with_its_default(model: type[BaseModel]) -> None:
    rows = _table_rows(model.__name__)
    assert list(rows) == list(model.model_fields)
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, enum.Enum):
            default = default.value
        if isinstance(default, _SCALARS) and name not in ("workspace_dir", "config_dir"):
            assert rows[name][0] == f"`{default!r}`", name


def test_configuration_page_names_the_environment_variable_of_each_field_that_has_one() -> None:
    rows = _table_rows("HeadroomConfig")
    variables = {name: cells[1].strip("`") for name, cells in rows.items() if cells[1]}
    assert variables["keep_turns"] == "HEADROOM_KEEP_TURNS" and variables["optimization_mode"] == "HEADROOM_MODE"
    env_module = (REPO / "core" / "headroom" / "env.py").read_text(encoding="utf-8")
    assert all(f'"{variable}"' in env_module for variable in variables.values())
