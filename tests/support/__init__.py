"""Shared test helpers (importable as ``support`` because ``tests/`` is the pytest rootdir-conftest path).

``support.scripted_server`` holds :class:`ScriptedServer`, an OpenAI- and Anthropic-compatible
HTTP server on 127.0.0.1 that records every request and answers from a script.
"""
