"""pisteur as an MCP server (official ``mcp`` SDK): tools ``search``, ``read``, ``status``.

Transports: stdio (what Claude Code launches) and streamable HTTP (mounted at ``/mcp`` by the HTTP server,
see ``http_api.py``). The service (store + query model) is created once and stays loaded between calls.

stdout is the protocol on stdio, so nothing else may reach it: ``run_stdio`` keeps a private duplicate of
fd 1 for the wire and points fd 1 and ``sys.stdout`` at stderr *before* anything heavy is imported, so a
library that prints (or a C extension writing to fd 1) lands on stderr. Logging goes to stderr.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from typing import Annotated, Any

from pydantic import Field

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
            from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef]
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

    @srv.tool(
        name="search",
        title="Search past sessions and documents",
        description="Semantic + lexical search (French-first) over the indexed Claude Code sessions and "
        "documents. Returns compact hits: id (for `read`), score, kind, session id, project, timestamps, "
        "source file and a short snippet.",
        annotations=ro,
    )
    def search(
        query: Annotated[str, Field(description="what to look for, in French or English")],
        k: Annotated[int, Field(ge=1, le=50, description="number of hits")] = 8,
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
            RemoteSearchOptions | None,  # type: ignore[valid-type]
            Field(description="expert pipeline options (mode, fusion, weights, rerank: offline or none...)"),
        ] = None,
    ) -> CompactSearchResponse:
        filters = SearchFilters(project=project, session=session, date_from=date_from, date_to=date_to,
                                kind=kind)
        try:
            overrides = options.overrides() if options is not None else {}
            full = service.search(query, k, filters, via="mcp", explain=explain, **overrides)
            return CompactSearchResponse.from_full(full, explain)
        except (NoIndex, ValueError) as exc:
            raise ToolError(str(exc)) from exc

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
        before: Annotated[int, Field(ge=0, le=20, description="neighbouring turns before")] = 0,
        after: Annotated[int, Field(ge=0, le=20, description="neighbouring turns after")] = 0,
        page: Annotated[int, Field(ge=0, description="0-based page")] = 0,
        page_chars: Annotated[int, Field(ge=500, le=50000, description="characters per page")] = 8000,
    ) -> ReadResponse:
        try:
            return service.read(id, before=before, after=after, page=page, page_chars=page_chars)
        except (NoIndex, NotFound) as exc:
            raise ToolError(str(exc.args[0] if exc.args else exc)) from exc

    @srv.tool(name="status", title="Index status", annotations=ro,
              description="What is indexed (chunks, sources, model, last update) and the live indexer's state.")
    def status() -> StatusResponse:
        return service.status()

    return srv


def lowlevel(srv: Any) -> Any:
    return getattr(srv, "_lowlevel_server", None) or srv._mcp_server


def _wire_stdout() -> io.TextIOWrapper:
    """Keep fd 1 for the protocol only: return a writer on a private copy of it and send fd 1 and
    ``sys.stdout`` to stderr for everything else."""
    sys.stdout.flush()
    wire_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return io.TextIOWrapper(os.fdopen(wire_fd, "wb", buffering=0), encoding="utf-8", write_through=True)


def run_stdio(service_factory: Any) -> None:
    """Serve MCP on stdin/stdout. ``service_factory`` builds the service after stdout is guarded."""
    wire = _wire_stdout()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="pisteur %(levelname)s %(message)s")
    import anyio
    from mcp.server.stdio import stdio_server

    service: Service = service_factory()
    srv = build_server(service)
    low = lowlevel(srv)

    async def main() -> None:
        async with stdio_server(stdout=anyio.wrap_file(wire)) as (read_stream, write_stream):
            await low.run(read_stream, write_stream, low.create_initialization_options())

    service.start()
    try:
        anyio.run(main)
    finally:
        service.close()
