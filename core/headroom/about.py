"""What this package is called where people install it, and its version.

The import name is ``headroom``; the distribution on the package index is ``headroom-context``
(``headroom`` and ``headroom-ai`` there are other projects, and ``headroom-ai`` installs the same
import name, so the two cannot share an environment). Messages that tell a user what to install
take the name from here.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION_NAME", "install_hint"]

DISTRIBUTION_NAME = "headroom-context"


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra`` of this distribution, e.g. ``pip install "headroom-context[postgres]"``."""
    return f'pip install "{DISTRIBUTION_NAME}[{extra}]"'
