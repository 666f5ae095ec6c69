"""Constants shared by the HeadroomClient tests (importable, unlike conftest)."""

from __future__ import annotations

from tests.support.ci_runs import QUESTION  # noqa: F401  (the client tests import it from here)

TOOLS_OPENAI = [
    {
        "type": "function",
        "function": {
            "name": "list_workflow_runs",
            "description": "List the GitHub Actions workflow runs of a repository.",
            "parameters": {"type": "object", "properties": {"repo": {"type": "string"}}, "required": ["repo"]},
        },
    }
]
TOOLS_ANTHROPIC = [
    {
        "name": "list_workflow_runs",
        "description": "List the GitHub Actions workflow runs of a repository.",
        "input_schema": {"type": "object", "properties": {"repo": {"type": "string"}}, "required": ["repo"]},
    }
]
