"""Token counting: exact with tiktoken where a public tokenizer exists, a documented estimate elsewhere.

Encodings are resolved offline and never downloaded: first ``TIKTOKEN_CACHE_DIR`` (tiktoken's
own cache convention), then the copies bundled with Headroom, then llama-index-core's. The file
is read where it lies (nothing is copied or written, no environment variable is set), so token
counting works in a read-only or stateless process. When no file is found the counter says so
once in the log and estimates.

Which tokenizer:
- ``o200k_base``: gpt-4o, gpt-4.1, gpt-5, o1/o3/o4 and their dated or fine-tuned variants.
- ``cl100k_base``: gpt-4, gpt-3.5-turbo, text-embedding-3 (older OpenAI models).
- Claude and other models with no public tokenizer: ``ceil(o200k_count * 1.1)``. Anthropic's
  tokenizer yields roughly 5-15% more tokens than o200k on English and JSON; the estimate errs
  on the high side so windows are not overrun.
- No encoding file at all: ``ceil(utf8_bytes / 3.6)`` (a typical bytes-per-token ratio for
  code and JSON under o200k).

Counting never raises for content: a text tiktoken cannot encode (its Rust core panics on some
pathological inputs) is counted by the byte estimate, logged once and counted under the metric
``errors.tokens.encoder``. Counts are cached by content hash, so re-counting an agent's history
costs a dictionary lookup.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
import re
import threading
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

from headroom import metrics

__all__ = ["TokenCounter", "count_message_tokens", "count_tokens", "encoding_name_for", "get_counter"]

log = logging.getLogger("headroom.tokens")

_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
_BUNDLED = Path(__file__).parent / "_tiktoken"
_CLAUDE_FACTOR = 1.1
_BYTES_PER_TOKEN = 3.6
# Per-message framing of the chat format (role, separators), as OpenAI documents for its models.
MESSAGE_OVERHEAD = 3
REPLY_PRIMING = 3

_LONG_RUN_LEN = 512
# Runs of letters, symbols, digits or horizontal whitespace this long are counted in pieces: BPE is
# quadratic inside one pre-token, and tiktoken's split pattern overflows its regex stack (a panic)
# on about a million spaces in a row.
_LONG_RUN = re.compile(r"[^\W\d_]{512,}|[^\w\s]{512,}|\d{512,}|[^\S\r\n]{512,}")

_encodings: dict[str, Any] = {}
_missing: set[str] = set()
_load_lock = threading.Lock()


def encoding_name_for(model: str) -> str | None:
    """The tiktoken encoding of ``model``, or None when it has no public tokenizer."""
    name = model.lower().removeprefix("ft:").split("/")[-1]
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")):
        return "o200k_base"
    if name.startswith(("gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada")):
        return "cl100k_base"
    return None


def _candidate_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        dirs.append(Path(os.environ["TIKTOKEN_CACHE_DIR"]))
    dirs.append(_BUNDLED)
    try:
        import importlib.util

        spec = importlib.util.find_spec("llama_index.core")
        if spec and spec.origin:
            dirs.append(Path(spec.origin).parent / "_static" / "tiktoken_cache")
    except (ImportError, ValueError):
        pass
    return dirs


def _find_file(encoding: str) -> Path | None:
    cache_key = hashlib.sha1(_URLS[encoding].encode()).hexdigest()
    for d in _candidate_dirs():
        for candidate in (d / cache_key, d / f"{encoding}.tiktoken"):
            if candidate.is_file():
                return candidate
    return None


def _read_ranks(path: Path, expected_hash: str | None) -> dict[bytes, int]:
    """The BPE ranks of a ``.tiktoken`` file (one ``base64-token rank`` pair a line), read in place.

    tiktoken's own loader reads through its download cache and writes a copy there, so Headroom
    parses the file itself: nothing is copied, nothing written, no environment variable touched.
    """
    data = path.read_bytes()
    if expected_hash and hashlib.sha256(data).hexdigest() != expected_hash:
        raise ValueError(f"{path} does not match tiktoken's published sha256 {expected_hash}")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _encoding_spec(encoding: str, path: Path) -> dict[str, Any]:
    """tiktoken's definition of ``encoding`` (split pattern, special tokens) with the ranks read from ``path``.

    The definition is tiktoken's own constructor, run with :func:`_read_ranks` in place of its
    downloading loader (a copy of the function with other globals: nothing shared is patched).
    """
    import tiktoken_ext.openai_public as public

    constructor = getattr(public, encoding)
    if "load_tiktoken_bpe" not in constructor.__code__.co_names:
        raise RuntimeError(f"this tiktoken's {encoding}() no longer reads its ranks with load_tiktoken_bpe")

    def bundled_ranks(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        return _read_ranks(path, expected_hash)

    scope = {**vars(public), "load_tiktoken_bpe": bundled_ranks}
    spec: dict[str, Any] = types.FunctionType(constructor.__code__, scope, encoding)()
    return spec


def _load_encoding(encoding: str) -> Any | None:
    """The tiktoken Encoding, built from a local file only; None (logged once) if there is none."""
    if encoding in _encodings:
        return _encodings[encoding]
    if encoding in _missing:
        return None
    with _load_lock:
        if encoding in _encodings:
            return _encodings[encoding]
        path = _find_file(encoding)
        if path is None:
            _missing.add(encoding)
            log.warning(
                "no local %s encoding file found; token counts are estimates (bytes / %.1f)", encoding, _BYTES_PER_TOKEN
            )
            return None
        import tiktoken

        try:
            enc = tiktoken.Encoding(**_encoding_spec(encoding, path))
        except Exception as exc:  # a corrupt file or an unexpected tiktoken: estimate rather than fail
            _missing.add(encoding)
            log.warning("could not load %s from %s (%s); token counts are estimates", encoding, path, exc)
            return None
        _encodings[encoding] = enc
        return enc


_encoder_failed = False


def _estimate_after_failure(text: str, exc: BaseException) -> int:
    """The byte estimate of a text tiktoken could not encode; the first failure is logged, each counted."""
    global _encoder_failed
    metrics.increment("errors.tokens.encoder")
    if not _encoder_failed:
        _encoder_failed = True
        log.warning(
            "tiktoken failed on a text of %d characters (%s: %s); such texts are counted as bytes / %.1f",
            len(text),
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            _BYTES_PER_TOKEN,
        )
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / _BYTES_PER_TOKEN)


class TokenCounter:
    """Counts tokens of text for one model; thread-safe, cached by content hash."""

    def __init__(self, model: str, cache_size: int = 65_536) -> None:
        self.model = model
        self.encoding_name = encoding_name_for(model)
        self._scale = 1.0 if self.encoding_name else _CLAUDE_FACTOR
        self._enc = _load_encoding(self.encoding_name or "o200k_base")
        self._cache: OrderedDict[bytes, int] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def scale(self) -> float:
        """Factor applied to o200k counts for models without a public tokenizer (1.0 otherwise)."""
        return self._scale

    def upper_bound(self, text: str) -> int:
        """A number ``count(text)`` never exceeds, without tokenizing: one token per UTF-8 byte at most,
        times the model's factor (Claude's counts are o200k's scaled up)."""
        return math.ceil(len(text.encode("utf-8", "surrogatepass")) * self._scale)

    @property
    def exact(self) -> bool:
        """True when counts come from the model's own public tokenizer."""
        return self.encoding_name is not None and self._enc is not None

    def count(self, text: str) -> int:
        """Tokens in ``text`` (exact for OpenAI models, estimated otherwise; see module docs)."""
        if not text:
            return 0
        if len(text) < 64:
            return self._count_uncached(text)
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        n = self._count_uncached(text)
        with self._lock:
            self._cache[key] = n
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return n

    def _count_uncached(self, text: str) -> int:
        if self._enc is None:
            return math.ceil(len(text.encode("utf-8", "surrogatepass")) / _BYTES_PER_TOKEN)
        n = 0
        pos = 0
        if len(text) > _LONG_RUN_LEN:
            # BPE is quadratic inside one pre-token: cut very long letter or symbol runs
            # (base64 blobs, "=====" rules) into pieces; ordinary text is counted exactly.
            for m in _LONG_RUN.finditer(text):
                n += self._encode_len(text[pos : m.start()])
                run = m.group(0)
                n += sum(self._encode_len(run[i : i + 256]) for i in range(0, len(run), 256))
                pos = m.end()
        n += self._encode_len(text[pos:])
        return n if self._scale == 1.0 else math.ceil(n * self._scale)

    def _encode_len(self, text: str) -> int:
        if not text or self._enc is None:
            return 0
        try:
            try:
                return len(self._enc.encode_ordinary(text))
            except (UnicodeEncodeError, ValueError):
                return len(self._enc.encode_ordinary(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # tiktoken's Rust core can panic (pyo3's PanicException is a BaseException)
            return _estimate_after_failure(text, exc)

    def count_messages(self, messages: list[dict[str, Any]]) -> int:
        """Tokens of a chat request: contents, tool calls and the chat format's framing."""
        total = REPLY_PRIMING if messages else 0
        for message in messages:
            total += MESSAGE_OVERHEAD + sum(self.count(piece) for piece in message_pieces(message))
        return total


def message_pieces(message: dict[str, Any]) -> list[str]:
    """The texts of a message that reach the model: role, content parts, tool calls, names.

    Counted piece by piece so each piece's count is cached on its own: a tool output already
    counted while compressing is not tokenised again when the whole request is counted.
    """
    import json

    parts: list[str] = [str(message.get("role", ""))]
    content = message.get("content")
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif part.get("type") == "tool_result" and isinstance(part.get("content"), (str, list)):
                    inner = part["content"]
                    if isinstance(inner, str):
                        parts.append(inner)
                    else:
                        for sub in inner:
                            if isinstance(sub, dict) and isinstance(sub.get("text"), str):
                                parts.append(sub["text"])
                            else:
                                parts.append(json.dumps(sub, ensure_ascii=False, default=str))
                elif part.get("type") not in ("image_url", "image", "input_audio"):
                    parts.append(json.dumps(part, ensure_ascii=False, default=str))
            elif isinstance(part, str):
                parts.append(part)
    elif content is not None:
        parts.append(str(content))
    if message.get("tool_calls"):
        parts.append(json.dumps(message["tool_calls"], ensure_ascii=False, default=str))
    if message.get("name"):
        parts.append(str(message["name"]))
    return parts


_counters: dict[str, TokenCounter] = {}
_counters_lock = threading.Lock()


def get_counter(model: str) -> TokenCounter:
    """The shared counter of ``model`` (one per model name, created on first use)."""
    counter = _counters.get(model)
    if counter is None:
        with _counters_lock:
            counter = _counters.setdefault(model, TokenCounter(model))
    return counter


def count_tokens(text: str, model: str = "gpt-4o") -> int:
    """Tokens of ``text`` for ``model``.

    >>> count_tokens("hello world", "gpt-4o")
    2
    """
    return get_counter(model).count(text)


def count_message_tokens(messages: list[dict[str, Any]], model: str = "gpt-4o") -> int:
    """Tokens of a list of OpenAI-format chat messages for ``model``."""
    return get_counter(model).count_messages(messages)
