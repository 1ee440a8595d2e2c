"""What every HTTP request goes through before the app sees it (a pure ASGI middleware, ``Guard``).

- Host check on a loopback server (a DNS-rebinding page cannot read the index); the Host header is parsed
  by its grammar (RFC 3986 ``host[:port]``, IPv6 in brackets), so ``[::1]evil.com`` is not loopback.
- Bearer token off loopback (compared in constant time); failed attempts are counted per client and a
  client that fails too often is refused (429) for a while, whatever token it sends next.
- Per-client rate limit (token bucket), capped request bodies.
- Browser safety: a POST must be ``application/json`` (a cross-site form or ``text/plain`` POST is a "simple
  request" that a browser sends without asking) and an ``Origin``, when sent, must be this server's own.
- Security headers on every response, the guard's own refusals included.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from pisteur.serve.audit import REQUEST_CLIENT, Client, token_fingerprint

PUBLIC_PATHS = ("/", "/static/", "/favicon.ico")
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}  # Origin checked
BODY_METHODS = {"POST", "PUT", "PATCH"}  # must be JSON (an MCP client ends its session with a bodiless DELETE)
_REG_NAME = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=%-]*$")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise ValueError(
            f"refusing to listen on {host} without a bearer token: pass --token-file (or set PISTEUR_TOKEN), "
            "or bind to 127.0.0.1"
        )


def parse_host(header: str) -> str | None:
    """The host name of a Host header (``name``, ``1.2.3.4`` or ``[v6]``, lower-cased), or None when the
    header does not follow ``host[:port]``."""
    header = header.strip()
    if header.startswith("["):
        end = header.find("]")
        if end < 0:
            return None
        name, rest = header[: end + 1], header[end + 1:]
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return None
    else:
        name, sep, port = header.partition(":")
        rest = sep + port
        if not name or not _REG_NAME.match(name):
            return None
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return None
    return name.lower()


def host_is_loopback(header: str) -> bool:
    name = parse_host(header)
    return name is not None and is_loopback(name)


def origin_matches(origin: str, host_header: str) -> bool:
    """An Origin header names this server: same host[:port] as the request's Host."""
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host_header.strip().lower()


class TokenBucket:
    """Per-client token buckets: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def take(self, client: str) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens = self._level(client, now)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > 10_000:  # forget clients idle long enough to be full again
                idle = self.burst / self.rate
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < idle}
            return 0.0 if allowed else (1.0 - tokens) / self.rate

    def wait(self, client: str) -> float:
        """Seconds before ``take`` would succeed (0: now), without taking anything."""
        with self._lock:
            tokens = self._level(client, time.monotonic())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


Refusal = tuple[int, str, list[tuple[bytes, bytes]]]  # status, detail, extra headers


def _browser_refusal(method: str, headers: dict[str, str], host: str) -> Refusal | None:
    """What a browser must not do: write from another origin, post something else than JSON."""
    if method in UNSAFE_METHODS:
        origin = headers.get("origin")
        if origin is not None and not origin_matches(origin, host):
            return 403, "cross-origin request refused", []
    if method in BODY_METHODS:
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            return 415, "send the request body as application/json", []
    return None


class Guard:
    """Pure ASGI middleware: Host check, bearer token (failures rate-limited), browser checks on POST,
    body cap, per-client rate limit, security headers."""

    def __init__(self, app: Any, *, token: str | None, max_body: int, bucket: TokenBucket | None,
                 loopback_only: bool = False, auth_failures: TokenBucket | None = None) -> None:
        self.app, self.token, self.max_body, self.bucket = app, token, max_body, bucket
        self.loopback_only = loopback_only
        # 5 wrong tokens in a burst, then one more every 12 s (5 a minute) per client
        self.auth_failures = auth_failures or TokenBucket(rate=5 / 60, burst=5)

    def _refusal(self, scope: dict[str, Any], headers: dict[str, str], client: str) -> Refusal | None:
        path = scope.get("path", "")
        public = path == "/" or any(path.startswith(p) for p in PUBLIC_PATHS[1:])
        host = headers.get("host", "")
        if self.loopback_only and not host_is_loopback(host):
            # a page from another site whose name now resolves to 127.0.0.1 must not read the index
            return 421, "unexpected Host header for a loopback server", []
        if self.token and not public:
            refused = self._auth_refusal(self.token, headers, client)
            if refused is not None:
                return refused
        refused = _browser_refusal(scope.get("method", "GET"), headers, host)
        if refused is not None:
            return refused
        if self.bucket is not None and not public:
            wait = self.bucket.take(client)
            if wait > 0:
                return 429, "rate limit exceeded", [(b"retry-after", _secs(wait))]
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return 413, f"request body over {self.max_body} bytes", []
        return None

    def _auth_refusal(self, token: str, headers: dict[str, str], client: str) -> Refusal | None:
        """A missing or wrong bearer token; too many wrong ones from a client make it wait."""
        wait = self.auth_failures.wait(client)
        if wait > 0:
            return 429, "too many failed logins: try again later", [(b"retry-after", _secs(wait))]
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            if given:  # a missing token is the web page asking; a wrong one is a guess
                self.auth_failures.take(client)
            return 401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")]
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = (scope.get("client") or ("?", 0))[0]
        refusal = self._refusal(scope, headers, client)
        if refusal is not None:
            status, detail, extra = refusal
            return await _reply(send, status, {"detail": detail}, extra)
        # for the audit log: who is asking (the token is known good here, only its fingerprint is kept)
        REQUEST_CLIENT.set(Client(client, token_fingerprint(self.token) if self.token else None))
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
            if refused:  # once refused, whatever the app answers is dropped
                return
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": _with_security_headers(msg.get("headers", []))}
            await send(msg)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not refused:
                raise


def _secs(wait: float) -> bytes:
    return str(max(1, round(wait))).encode()


def _with_security_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    out = list(headers)
    have = {bytes(k).lower() for k, _ in out}
    out += [(k, v) for k, v in SECURITY_HEADERS if k not in have]
    return out


async def _reply(send: Any, status: int, body: dict[str, Any], extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": _with_security_headers(headers)})
    await send({"type": "http.response.body", "body": data})
