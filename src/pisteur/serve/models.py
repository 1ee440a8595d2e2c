"""Structured outputs shared by the MCP tools and the HTTP API (pydantic models, JSON-schema'd).

Every response carries ``origin = "pisteur"``: the live indexer recognises pisteur's own tool results by it
(and by the ``mcp__pisteur__*`` tool names) and never indexes them back (see ``serve/live.py``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Final, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from pisteur.retrieve.options import LIST_NAMES, RemoteRerank, SearchOptions, remote_names

ORIGIN: Final = "pisteur"

# Options that stay server-side configuration (paths, URLs, tuning of the server's own threads): a remote
# client asking for one gets a 422 that names the option and says nothing about the server's files.
SERVER_SIDE = "is server-side configuration: a remote client cannot set it"


def _remote_weights() -> type[BaseModel]:
    fields: dict[str, Any] = {n: (float | None, Field(None, ge=0.0, le=10.0)) for n in LIST_NAMES}
    return create_model("RemoteWeights", __config__=ConfigDict(extra="forbid"), **fields)


def _remote_options() -> type[BaseModel]:
    """The pydantic model of the options a remote client may set, derived from ``SearchOptions``: same
    names, types and bounds, help texts as descriptions; rerankers limited to local ones (no spec with a
    path or a URL); every field optional (unset: the server's value)."""
    hints = get_type_hints(SearchOptions)
    weights = _remote_weights()
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(SearchOptions):
        if f.name not in remote_names():
            continue
        kind: Any = {"rerank": RemoteRerank, "weights": weights}.get(f.name, hints[f.name])
        meta = f.metadata
        fields[f.name] = (kind | None, Field(None, description=meta["help"], ge=meta["ge"], le=meta["le"]))
    return create_model("RemoteSearchOptions", __base__=_RemoteBase, **fields)


class _RemoteBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _server_side(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = {f.name for f in dataclasses.fields(SearchOptions)}
            refused = sorted(k for k in data if k in known and k not in remote_names())
            if refused:
                raise ValueError(f"option(s) {', '.join(refused)} {SERVER_SIDE}")
        return data

    def overrides(self) -> dict[str, Any]:
        """The options the client set, as ``SearchOptions.merged`` takes them."""
        return self.model_dump(exclude_none=True)


if TYPE_CHECKING:  # the model built at import subclasses _RemoteBase: checkers see that class
    RemoteSearchOptions = _RemoteBase
else:
    RemoteSearchOptions = _remote_options()


class SearchFilters(BaseModel):
    project: str | None = Field(default=None, description="substring of the project path (Claude Code cwd)")
    session: str | None = Field(default=None, description="session id (prefix)")
    source: str | None = Field(default=None, description="substring of the source file path")
    date_from: str | None = Field(default=None, description="ISO date/time, inclusive (e.g. 2026-10-01)")
    date_to: str | None = Field(default=None, description="ISO date/time, inclusive")
    kind: list[str] | None = Field(
        default=None, description="chunk kinds: exchange, summary, tool_result, thinking, document, message"
    )

    def key(self) -> tuple[Any, ...]:
        return (self.project, self.session, self.source, self.date_from, self.date_to,
                tuple(sorted(self.kind)) if self.kind else None)


class SearchHit(BaseModel):
    id: int = Field(description="chunk id: pass it to `read`")
    rank: int
    score: float
    kind: str
    source: str = Field(description="source file")
    session_id: str | None = None
    project: str | None = None
    ts_first: str | None = None
    ts_last: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    title: str | None = None
    snippet: str = Field(description="a short excerpt around the best match")
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) character spans of matched words in `snippet`"
    )
    explain: dict[str, Any] | None = Field(default=None, description="which stages/expansions scored this hit")


class SearchResponse(BaseModel):
    origin: Literal["pisteur"] = ORIGIN
    query: str
    k: int
    hits: list[SearchHit]
    took_ms: float
    cached: bool = False
    generation: int = 0
    expansions: list[Any] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)


class CompactHit(BaseModel):
    """A hit as the MCP `search` tool returns it: what a model needs to decide what to `read`."""

    id: int = Field(description="chunk id: pass it to `read`")
    score: float
    kind: str
    source: str
    session_id: str | None = None
    project: str | None = None
    ts: str | None = Field(default=None, description="timestamp of the first message")
    lines: str | None = Field(default=None, description="line range in the source file")
    title: str | None = None
    snippet: str
    explain: dict[str, Any] | None = None


class CompactSearchResponse(BaseModel):
    origin: Literal["pisteur"] = ORIGIN
    query: str
    hits: list[CompactHit]
    took_ms: float
    cached: bool = False
    expansions: list[Any] | None = None

    @classmethod
    def from_full(cls, r: SearchResponse, explain: bool = False) -> CompactSearchResponse:
        hits = [
            CompactHit(
                id=h.id, score=round(h.score, 4), kind=h.kind, source=h.source, session_id=h.session_id,
                project=h.project, ts=h.ts_first, title=h.title, snippet=h.snippet,
                lines=(f"{h.line_start}-{h.line_end}" if h.line_start is not None else None),
                explain=h.explain if explain else None,
            )
            for h in r.hits
        ]
        return cls(query=r.query, hits=hits, took_ms=r.took_ms, cached=r.cached,
                   expansions=r.expansions if explain and r.expansions else None)


class Passage(BaseModel):
    id: int
    kind: str
    is_hit: bool = Field(description="true for the chunk that was asked for")
    text: str
    truncated: bool = Field(False, description="text continues on the next page")
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) spans of words matching `q` (when given) in `text`"
    )
    session_id: str | None = None
    uuids: list[str] = Field(default_factory=list, description="Claude Code message uuids in this passage")
    ts_first: str | None = None
    ts_last: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class ReadResponse(BaseModel):
    origin: Literal["pisteur"] = ORIGIN
    id: int
    source: str
    passages: list[Passage]
    page: int = Field(description="0-based page number")
    pages: int
    has_more: bool
    before: int
    after: int


class StatusResponse(BaseModel):
    origin: Literal["pisteur"] = ORIGIN
    index: str
    ready: bool
    model: str | None = None
    chunks: int = 0
    sources: int = 0
    bytes_on_disk: int = 0
    generation: int = 0
    chunks_by_kind: dict[str, int] = Field(default_factory=dict)
    last_update: str | None = None
    live: dict[str, Any] = Field(default_factory=dict, description="background indexer state and progress")
    cache: dict[str, Any] = Field(default_factory=dict)
    searches: int = 0
    error: str | None = None


class IndexResponse(BaseModel):
    origin: Literal["pisteur"] = ORIGIN
    started: bool
    message: str
    live: dict[str, Any] = Field(default_factory=dict)
