"""The HTTP server: JSON API (FastAPI, OpenAPI at /openapi.json), the web page, /metrics, MCP at /mcp.

Safe by default: bound to 127.0.0.1, where requests must name a loopback Host (a DNS-rebinding page cannot
read the index); any other address needs a bearer token (refused otherwise). Request bodies are capped and
each client gets a token bucket (requests/s with a burst). The page itself holds no
data, so it is served without the token; it asks for one when the API answers 401.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import threading
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated, Any

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
PUBLIC_PATHS = ("/", "/static/", "/favicon.ico")


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise ValueError(
            f"refusing to listen on {host} without a bearer token: pass --token (or set PISTEUR_TOKEN), "
            "or bind to 127.0.0.1"
        )


class TokenBucket:
    """Per-client token buckets: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > 10_000:
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """Pure ASGI middleware: Host check on loopback (DNS rebinding), bearer token, body cap, rate limit."""

    def __init__(self, app: Any, *, token: str | None, max_body: int, bucket: TokenBucket | None,
                 loopback_only: bool = False) -> None:
        self.app, self.token, self.max_body, self.bucket = app, token, max_body, bucket
        self.loopback_only = loopback_only

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        public = path == "/" or any(path.startswith(p) for p in PUBLIC_PATHS[1:])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.loopback_only and _host_name(headers.get("host", "")).lower() not in LOOPBACK_HOSTS:
            # a page from another site whose name now resolves to 127.0.0.1 must not read the index
            return await _reply(send, 421, {"detail": "unexpected Host header for a loopback server"})
        if self.token and not public:
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return await _reply(send, 401, {"detail": "missing or wrong bearer token"},
                                    [(b"www-authenticate", b"Bearer")])
        if self.bucket is not None and not public:
            client = (scope.get("client") or ("?", 0))[0]
            wait = self.bucket.take(client)
            if wait > 0:
                return await _reply(send, 429, {"detail": "rate limit exceeded"},
                                    [(b"retry-after", str(max(1, round(wait))).encode())])
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await _reply(send, 413, {"detail": f"request body over {self.max_body} bytes"})
        seen, refused = 0, False

        async def capped_receive() -> dict[str, Any]:
            nonlocal seen, refused
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body and not refused:
                    refused = True
                    await _reply(send, 413, {"detail": f"request body over {self.max_body} bytes"})
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: dict[str, Any]) -> None:
            if not refused:  # once refused, whatever the app answers is dropped
                await send(msg)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not refused:
                raise


async def _reply(send: Any, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class SearchRequest(BaseModel):
    q: str = Field(min_length=1, max_length=2000)
    k: int = Field(10, ge=1, le=100)
    filters: SearchFilters = Field(default_factory=SearchFilters)
    explain: bool = True
    options: RemoteSearchOptions = Field(  # type: ignore[valid-type]
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

    app = FastAPI(title="pisteur", version="0.1.0", lifespan=lifespan,
                  description="Local-first, French-first semantic search: API behind the web page and MCP.")

    def _filters(project: str | None, session: str | None, source: str | None, date_from: str | None,
                 date_to: str | None, kind: list[str] | None) -> SearchFilters:
        kinds = [x for k in kind or [] for x in k.split(",") if x] or None
        return SearchFilters(project=project or None, session=session or None, source=source or None,
                             date_from=date_from or None, date_to=date_to or None, kind=kinds)

    def _search(q: str, k: int, f: SearchFilters, explain: bool, options: dict[str, Any]) -> SearchResponse:
        try:
            return service.search(q, k, f, via="http", explain=explain, **options)
        except NoIndex as exc:
            raise HTTPException(503, str(exc)) from exc
        except (ValueError, TypeError) as exc:
            raise HTTPException(400, str(exc)) from exc

    @app.get("/api/search", response_model=SearchResponse, tags=["search"])
    def api_search(
        q: Annotated[str, Query(min_length=1, max_length=2000, description="the query")],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        project: str | None = None,
        session: str | None = None,
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        kind: Annotated[list[str] | None, Query(description="kind (repeat or comma-separated)")] = None,
        explain: bool = True,
    ) -> SearchResponse:
        return _search(q, k, _filters(project, session, source, date_from, date_to, kind), explain, {})

    @app.post("/api/search", response_model=SearchResponse, tags=["search"])
    def api_search_post(req: Annotated[SearchRequest, Body()]) -> SearchResponse:
        return _search(req.q, req.k, req.filters, req.explain, req.options.overrides())

    @app.get("/api/read", response_model=ReadResponse, tags=["search"])
    def api_read(
        id: int,
        before: Annotated[int, Query(ge=0, le=50)] = 0,
        after: Annotated[int, Query(ge=0, le=50)] = 0,
        page: Annotated[int, Query(ge=0)] = 0,
        page_chars: Annotated[int, Query(ge=200, le=100_000)] = 8000,
        q: Annotated[str | None, Query(max_length=2000, description="highlight these words")] = None,
    ) -> ReadResponse:
        try:
            return service.read(id, before=before, after=after, page=page, page_chars=page_chars, q=q)
        except NoIndex as exc:
            raise HTTPException(503, str(exc)) from exc
        except NotFound as exc:
            raise HTTPException(404, str(exc.args[0] if exc.args else exc)) from exc

    @app.get("/api/status", response_model=StatusResponse, tags=["index"])
    def api_status() -> StatusResponse:
        return service.status()

    @app.post("/api/index", response_model=IndexResponse, tags=["index"])
    def api_index() -> IndexResponse:
        return service.trigger_index()

    @app.get("/metrics", response_class=PlainTextResponse, tags=["index"])
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(service.prometheus(), media_type="text/plain; version=0.0.4; charset=utf-8")

    if web:
        web_dir = resources.files("pisteur.serve").joinpath("web")

        @app.get("/", include_in_schema=False)
        def index_page() -> FileResponse:
            return FileResponse(str(web_dir.joinpath("index.html")), media_type="text/html; charset=utf-8")

        app.mount("/static", StaticFiles(directory=str(web_dir)), name="static")

    if mcp_app is not None:
        app.mount("/", mcp_app)  # last: serves /mcp (streamable HTTP)

    bucket = TokenBucket(rate, burst) if rate > 0 else None
    return Guard(app, token=token, max_body=max_body, bucket=bucket, loopback_only=is_loopback(host))


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
