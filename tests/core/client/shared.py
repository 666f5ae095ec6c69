"""Constants shared by the HeadroomClient tests (importable, unlike conftest)."""

from __future__ import annotations

QUESTION = "Which workflow runs of PhishBench failed, and on which branch?"

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
