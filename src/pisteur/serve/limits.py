"""Input limits shared by every front end (CLI search, HTTP API, MCP), checked before any work is done.

A query is embedded and analysed whole: without a cap, one 10 MB query kept a server busy for minutes and
grew it by gigabytes. 2,000 characters hold a long pasted paragraph; anything longer is refused.
"""

from __future__ import annotations

MAX_QUERY_CHARS = 2000
"""Longest query accepted, in characters."""
MAX_MCP_MESSAGE_BYTES = 1024 * 1024
"""Longest JSON-RPC message (one line) read from an MCP client over stdio."""
MAX_CHUNK_ID = 2**63 - 1
"""Chunk ids are SQLite integers: anything larger names no chunk."""


class QueryTooLong(ValueError):
    pass


def check_query(query: str) -> str:
    """The query, or QueryTooLong (a ValueError with a one-line message) when it is over the limit."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryTooLong(f"query too long: {len(query):,} characters (at most {MAX_QUERY_CHARS:,})")
    return query


def valid_chunk_id(chunk_id: int) -> bool:
    return 0 <= chunk_id <= MAX_CHUNK_ID
