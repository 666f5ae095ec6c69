"""CCR: compress, cache, retrieve. Originals of lossy compressions stay addressable by key."""

from headroom.ccr.retrieval import RETRIEVE_TOOL, RETRIEVE_TOOL_NAME, execute_retrieve_tool, search_original
from headroom.ccr.store import CCREntry, CCRStore, ccr_key, get_store, resolve_store_url

__all__ = [
    "RETRIEVE_TOOL",
    "RETRIEVE_TOOL_NAME",
    "CCREntry",
    "CCRStore",
    "ccr_key",
    "execute_retrieve_tool",
    "get_store",
    "resolve_store_url",
    "search_original",
]
