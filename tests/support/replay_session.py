"""Replay a records session through headroom.compress in this process; print one SHA-256 per request sent.

Used by the tests that run the same session in two processes sharing one store:
``python -m tests.support.replay_session JSON_DIR TURNS WINDOW MODE STORE_URL``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import headroom
from headroom.config import HeadroomConfig
from headroom.session_bench import build_records_session, conversation_until, records_session_files


def main(argv: list[str]) -> int:
    json_dir, turns, window, mode, store_url = argv
    session = build_records_session(records_session_files(Path(json_dir)), int(turns))
    config = HeadroomConfig(store_url=store_url, optimization_mode=mode, model_context_limits={"gpt-4o": int(window)})
    for t in range(len(session)):
        sent = headroom.compress(conversation_until(session, t), "gpt-4o", config=config, session_id="replay").messages
        print(hashlib.sha256(json.dumps(sent, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
