"""Shared test helpers, imported as ``tests.support`` (pyproject puts the repo root on ``pythonpath``).

``tests.support.scripted_server`` holds :class:`ScriptedServer`, an OpenAI- and Anthropic-compatible
HTTP server on 127.0.0.1 that records every request and answers from a script::

    from tests.support.scripted_server import ScriptedServer, text_reply, tool_call_reply
"""
