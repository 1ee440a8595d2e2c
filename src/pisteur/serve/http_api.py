"""The HTTP server: JSON API (FastAPI, schema at /openapi.json; no /docs page, which would load Swagger from a
CDN), the web page, /metrics, MCP at /mcp.

Safe by default: bound to 127.0.0.1; any other address needs a bearer token (refused otherwise). Every request
first goes through ``guard.Guard`` (Host check against DNS rebinding, token and failed-login limit, JSON-only
POST with an Origin check, body cap, per-client rate limit, security headers). The page itself holds no
data, so it is served without the token; it asks for one when the API answers 401.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Annotated, Any

from pisteur.serve.audit import AuditError
from pisteur.serve.guard import Guard, TokenBucket, check_bind, is_loopback
from pisteur.serve.limits import MAX_QUERY_CHARS, valid_chunk_id
from pisteur.serve.models import (
    IndexResponse,
    ReadResponse,
    RemoteSearchOptions,
    SearchFilters,
    SearchResponse,
    StatusResponse,
)
from pisteur.serve.service import NoIndex, NotFound, Service

try:
    from fastapi import Body, FastAPI, HTTPException, Query
    from fastapi.responses import FileResponse, PlainTextResponse
    from pydantic import BaseModel, Field
    from starlette.staticfiles import StaticFiles
except ImportError as exc:  # pragma: no cover
    raise ImportError("the HTTP server needs the serve extra: pip install 'pisteur[serve]'") from exc

DEFAULT_MAX_BODY = 64 * 1024


class SearchRequest(BaseModel):
    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(10, ge=1, le=100)
    filters: SearchFilters = Field(default_factory=SearchFilters)
    explain: bool = True
    options: RemoteSearchOptions = Field(
        default_factory=RemoteSearchOptions,
        description="pipeline options (expert); paths, URLs and server tuning are refused (422)",
    )


def create_app(
    service: Service,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    web: bool = True,
    mcp: bool = True,
    max_body: int = DEFAULT_MAX_BODY,
    rate: float = 20.0,
    burst: int = 40,
) -> Any:
    """The ASGI app. ``rate`` <= 0 disables the rate limit."""
    check_bind(host, token)
    mcp_srv = None
    mcp_app = None
    if mcp:
        from pisteur.serve.mcp_server import build_server

        mcp_srv = build_server(service)
        mcp_app = _mcp_http_app(mcp_srv, host)
    # no /docs nor /redoc: FastAPI's pages load Swagger/ReDoc from a CDN; the schema stays at /openapi.json
    app = FastAPI(title="pisteur", version="0.1.0", lifespan=_lifespan(service, mcp_srv), docs_url=None,
                  redoc_url=None,
                  description="Local-first, French-first semantic search: API behind the web page and MCP.")
    _add_search_routes(app, service)
    _add_index_routes(app, service)
    if web:
        _add_web_page(app)
    if mcp_app is not None:
        app.mount("/", mcp_app)  # last: serves /mcp (streamable HTTP)

    bucket = TokenBucket(rate, burst) if rate > 0 else None
    return Guard(app, token=token, max_body=max_body, bucket=bucket, loopback_only=is_loopback(host))


def _lifespan(service: Service, mcp_srv: Any) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """Start the service (and the MCP session manager) with the app, close it when the app stops."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        service.start()
        try:
            if mcp_srv is not None:
                async with mcp_srv.session_manager.run():
                    yield
            else:
                yield
        finally:
            service.close()

    return lifespan


def _filters(project: str | None, session: str | None, source: str | None, date_from: str | None,
             date_to: str | None, kind: list[str] | None) -> SearchFilters:
    kinds = [x for k in kind or [] for x in k.split(",") if x] or None
    return SearchFilters(project=project or None, session=session or None, source=source or None,
                         date_from=date_from or None, date_to=date_to or None, kind=kinds)


def _search(service: Service, q: str, k: int, f: SearchFilters, explain: bool, options: dict[str, Any]
            ) -> SearchResponse:
    try:
        return service.search(q, k, f, via="http", explain=explain, **options)
    except (NoIndex, AuditError) as exc:
        raise HTTPException(503, str(exc)) from exc
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, str(exc)) from exc


def _add_search_routes(app: Any, service: Service) -> None:
    """/api/search (GET with query parameters, POST with a JSON body) and /api/read."""

    @app.get("/api/search", response_model=SearchResponse, tags=["search"])
    def api_search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="the query")],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        project: str | None = None,
        session: str | None = None,
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        kind: Annotated[list[str] | None, Query(description="kind (repeat or comma-separated)")] = None,
        explain: bool = True,
    ) -> SearchResponse:
        return _search(service, q, k, _filters(project, session, source, date_from, date_to, kind), explain, {})

    @app.post("/api/search", response_model=SearchResponse, tags=["search"])
    def api_search_post(req: Annotated[SearchRequest, Body()]) -> SearchResponse:
        return _search(service, req.q, req.k, req.filters, req.explain, req.options.overrides())

    @app.get("/api/read", response_model=ReadResponse, tags=["search"])
    def api_read(
        id: int,
        before: Annotated[int, Query(ge=0, le=50)] = 0,
        after: Annotated[int, Query(ge=0, le=50)] = 0,
        page: Annotated[int, Query(ge=0)] = 0,
        page_chars: Annotated[int, Query(ge=200, le=100_000)] = 8000,
        q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description="highlight these words")] = None,
    ) -> ReadResponse:
        if not valid_chunk_id(id):
            raise HTTPException(404, f"no chunk with id {id}")
        try:
            resp = service.read(id, before=before, after=after, page=page, page_chars=page_chars, q=q)
        except NoIndex as exc:
            raise HTTPException(503, str(exc)) from exc
        except NotFound as exc:
            raise HTTPException(404, str(exc.args[0] if exc.args else exc)) from exc
        try:
            service.audit_read("http", resp)
        except AuditError as exc:
            raise HTTPException(503, str(exc)) from exc
        return resp


def _add_index_routes(app: Any, service: Service) -> None:
    """/api/status, /api/index (start the live indexer) and /metrics (Prometheus)."""

    @app.get("/api/status", response_model=StatusResponse, tags=["index"])
    def api_status() -> StatusResponse:
        return service.status()

    @app.post("/api/index", response_model=IndexResponse, tags=["index"])
    def api_index() -> IndexResponse:
        return service.trigger_index()

    @app.get("/metrics", response_class=PlainTextResponse, tags=["index"])
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(service.prometheus(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _add_web_page(app: Any) -> None:
    web_dir = resources.files("pisteur.serve").joinpath("web")

    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(str(web_dir.joinpath("index.html")), media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=str(web_dir)), name="static")


def _mcp_http_app(srv: Any, host: str) -> Any:
    kwargs: dict[str, Any] = {"streamable_http_path": "/mcp"}
    try:
        from mcp.server.transport_security import TransportSecuritySettings

        if is_loopback(host):
            kwargs["transport_security"] = TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"],
                allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
            )
        else:  # the bearer token guards it
            kwargs["transport_security"] = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        return srv.streamable_http_app(**kwargs, host=host)
    except TypeError:  # mcp 1.x: settings live on the server
        srv.settings.streamable_http_path = "/mcp"
        return srv.streamable_http_app()


def serve(app: Any, host: str = "127.0.0.1", port: int = 8765, log_level: str = "warning") -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
