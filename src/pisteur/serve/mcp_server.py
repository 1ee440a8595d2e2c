"""pisteur as an MCP server (official ``mcp`` SDK): tools ``search``, ``read``, ``status``.

Transports: stdio (what Claude Code launches) and streamable HTTP (mounted at ``/mcp`` by the HTTP server,
see ``http_api.py``). The service (store + query model) is created once and stays loaded between calls.

stdout is the protocol on stdio, so nothing else may reach it: ``run_stdio`` keeps a private duplicate of
fd 1 for the wire and points fd 1 and ``sys.stdout`` at stderr *before* anything heavy is imported, so a
library that prints (or a C extension writing to fd 1) lands on stderr. Logging goes to stderr.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import Field

from pisteur.serve.audit import AuditError
from pisteur.serve.limits import MAX_QUERY_CHARS, check_query, valid_chunk_id
from pisteur.serve.models import (
    CompactSearchResponse,
    ReadResponse,
    RemoteSearchOptions,
    SearchFilters,
    StatusResponse,
)
from pisteur.serve.service import NoIndex, NotFound, Service

log = logging.getLogger("pisteur.serve.mcp")

INSTRUCTIONS = (
    "pisteur searches the user's past Claude Code sessions (and indexed French documents) by meaning and "
    "by words, French-first. Use `search` to find past exchanges (filters: project, session, date range, "
    "kind), then `read` with a hit id to see the exchange in context (neighbouring turns with before/after, "
    "long passages paginated). `status` tells what is indexed."
)


def _mcp_classes() -> tuple[type, type]:
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        try:  # mcp 1.x
            # mcp 2 keeps the fastmcp module without the class: checked against mcp 2, this line is dead
            from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef, attr-defined]
            from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef]
        except ImportError as exc:
            raise ImportError("the MCP server needs the serve extra: pip install 'pisteur[serve]'") from exc
    return MCPServer, ToolError


def _read_only() -> Any:
    try:
        from mcp.types import ToolAnnotations
    except ImportError:  # pragma: no cover
        return None
    return ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                           open_world_hint=False)


def build_server(service: Service) -> Any:
    MCPServer, ToolError = _mcp_classes()
    srv = MCPServer("pisteur", instructions=INSTRUCTIONS, log_level="WARNING")
    ro = _read_only()
    _add_search_tool(srv, service, ToolError, ro)
    _add_read_tool(srv, service, ToolError, ro)

    @srv.tool(name="status", title="Index status", annotations=ro,
              description="What is indexed (chunks, sources, model, last update) and the live indexer's state.")
    def status() -> StatusResponse:
        return service.status()

    return srv


def _add_search_tool(srv: Any, service: Service, ToolError: type[Exception], ro: Any) -> None:
    @srv.tool(
        name="search",
        title="Search past sessions and documents",
        description="Semantic + lexical search (French-first) over the indexed Claude Code sessions and "
        "documents. Returns compact hits: id (for `read`), score, kind, session id, project, timestamps, "
        "source file and a short snippet.",
        annotations=ro,
    )
    def search(
        query: Annotated[str, Field(description=f"what to look for, in French or English (at most "
                                            f"{MAX_QUERY_CHARS} characters)",
                                    json_schema_extra={"minLength": 1, "maxLength": MAX_QUERY_CHARS})],
        k: Annotated[int, Field(description="number of hits (1-50)", json_schema_extra={"minimum": 1, "maximum": 50})]
        = 8,
        project: Annotated[str | None, Field(description="substring of the project path")] = None,
        session: Annotated[str | None, Field(description="session id (prefix)")] = None,
        date_from: Annotated[str | None, Field(description="ISO date, inclusive, e.g. 2026-10-01")] = None,
        date_to: Annotated[str | None, Field(description="ISO date, inclusive")] = None,
        kind: Annotated[
            list[str] | None,
            Field(description="restrict to kinds: exchange, summary, tool_result, thinking, document, message"),
        ] = None,
        explain: Annotated[bool, Field(description="include per-hit scoring details")] = False,
        options: Annotated[
            RemoteSearchOptions | None,
            Field(description="expert pipeline options (mode, fusion, weights, rerank: offline or none...)"),
        ] = None,
    ) -> CompactSearchResponse:
        # bounds are checked here, not by pydantic, so that a client gets one readable line
        _in_range(ToolError, "k", k, 1, 50)
        try:
            check_query(query)
        except ValueError as exc:
            raise ToolError(str(exc)) from exc
        filters = SearchFilters(project=project, session=session, date_from=date_from, date_to=date_to,
                                kind=kind)
        try:
            overrides = options.overrides() if options is not None else {}
            full = service.search(query, k, filters, via="mcp", explain=explain, **overrides)
            return CompactSearchResponse.from_full(full, explain)
        except (NoIndex, ValueError, AuditError) as exc:
            raise ToolError(str(exc)) from exc


def _add_read_tool(srv: Any, service: Service, ToolError: type[Exception], ro: Any) -> None:
    @srv.tool(
        name="read",
        title="Read a hit in context",
        description="The exchange or passage of a hit id, with its message uuids and timestamps; "
        "`before`/`after` add that many neighbouring turns of the same session/file. Long results are "
        "paginated: pass `page` (see `pages`/`has_more`).",
        annotations=ro,
    )
    def read(
        id: Annotated[int, Field(description="hit id returned by `search`")],
        before: Annotated[int, Field(description="neighbouring turns before (0-20)",
                                     json_schema_extra={"minimum": 0, "maximum": 20})] = 0,
        after: Annotated[int, Field(description="neighbouring turns after (0-20)",
                                    json_schema_extra={"minimum": 0, "maximum": 20})] = 0,
        page: Annotated[int, Field(description="0-based page", json_schema_extra={"minimum": 0})] = 0,
        page_chars: Annotated[int, Field(description="characters per page (500-50000)",
                                         json_schema_extra={"minimum": 500, "maximum": 50000})] = 8000,
    ) -> ReadResponse:
        for name, value, lo, hi in (("before", before, 0, 20), ("after", after, 0, 20),
                                    ("page", page, 0, 10**9), ("page_chars", page_chars, 500, 50000)):
            _in_range(ToolError, name, value, lo, hi)
        if not valid_chunk_id(id):
            raise ToolError(f"no chunk with id {id}")
        try:
            resp = service.read(id, before=before, after=after, page=page, page_chars=page_chars)
        except (NoIndex, NotFound) as exc:
            raise ToolError(str(exc.args[0] if exc.args else exc)) from exc
        try:
            service.audit_read("mcp", resp)
        except AuditError as exc:
            raise ToolError(str(exc)) from exc
        return resp


def _in_range(error: type[Exception], name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise error(f"{name} must be between {lo} and {hi} (got {value})")


def lowlevel(srv: Any) -> Any:
    return getattr(srv, "_lowlevel_server", None) or srv._mcp_server
