"""Serving MCP over stdio (what Claude Code starts), robust to what arrives on stdin.

- stdout is the protocol, so nothing else may reach it: ``run_stdio`` keeps a private duplicate of fd 1 for
  the wire and points fd 1 and ``sys.stdout`` at stderr before anything heavy is imported, so a library that
  prints (or a C extension writing to fd 1) lands on stderr. Logging goes to stderr.
- Every line from the client is checked before the SDK sees it: a line over ``MAX_MCP_MESSAGE_BYTES`` is
  dropped as it is read (memory stays bounded) and answered with a JSON-RPC "Invalid Request"; a line that
  is not JSON gets "Parse error" (-32700), one that is not a JSON-RPC 2.0 message "Invalid Request" (-32600).
  (The SDK alone logs such lines and answers nothing: the client would wait forever.)
- The initialize handshake is answered before the index and the model load: the service starts (live
  indexer, warm-up) on the first message after ``initialize``, so a client connects in well under a second.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from pisteur.serve.limits import MAX_MCP_MESSAGE_BYTES

TOO_LONG = object()
PARSE_ERROR, INVALID_REQUEST = -32700, -32600


class LineReader:
    """Lines of a file descriptor, each at most ``max_bytes``; a longer one is skipped as it streams in
    (``TOO_LONG`` is returned for it) so it never sits whole in memory. ``None`` at end of input."""

    def __init__(self, fd: int, max_bytes: int = MAX_MCP_MESSAGE_BYTES, block: int = 65536) -> None:
        self.fd, self.max, self.block = fd, max_bytes, block
        self.buf = bytearray()
        self.eof = False

    def next_line(self) -> bytes | object | None:
        skipping = False
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[: nl + 1]
                return TOO_LONG if skipping or len(line) > self.max else line
            if len(self.buf) > self.max:
                skipping = True
                self.buf.clear()
            if self.eof:
                rest, self.buf = bytes(self.buf), bytearray()
                if skipping:
                    return TOO_LONG
                return rest if rest.strip() else None
            chunk = os.read(self.fd, self.block)
            if chunk:
                self.buf += chunk
            else:
                self.eof = True


class CheckedStdin:
    """What ``stdio_server`` iterates over: the client's lines that are JSON-RPC messages; the others are
    answered with a JSON-RPC error through ``send_error`` (set once the write stream exists)."""

    def __init__(self, reader: LineReader, on_message: Callable[[dict[str, Any]], None]) -> None:
        import anyio

        self.reader, self.on_message = reader, on_message
        self.write_stream: Any = None
        self.ready = anyio.Event()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        import anyio
        from mcp import types
        from pydantic import ValidationError

        while True:
            line = await anyio.to_thread.run_sync(self.reader.next_line)
            if line is None:
                return
            if line is TOO_LONG:
                await self._error(None, INVALID_REQUEST, f"Invalid Request: message over {self.reader.max} bytes")
                continue
            assert isinstance(line, bytes)
            text = line.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                await self._error(None, PARSE_ERROR, "Parse error: the message is not valid JSON")
                continue
            try:
                types.jsonrpc_message_adapter.validate_python(obj, by_name=False)
            except ValidationError:
                rid = obj.get("id") if isinstance(obj, dict) else None
                rid = rid if isinstance(rid, int | str) and not isinstance(rid, bool) else None
                await self._error(rid, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")
                continue
            self.on_message(obj)
            yield text + "\n"

    async def _error(self, rid: int | str | None, code: int, message: str) -> None:
        from mcp import types
        from mcp.shared.message import SessionMessage

        await self.ready.wait()
        err = types.JSONRPCError(jsonrpc="2.0", id=rid, error=types.ErrorData(code=code, message=message))
        await self.write_stream.send(SessionMessage(err))


def _wire_stdout() -> io.TextIOWrapper:
    """Keep fd 1 for the protocol only: return a writer on a private copy of it and send fd 1 and
    ``sys.stdout`` to stderr for everything else."""
    sys.stdout.flush()
    wire_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return io.TextIOWrapper(os.fdopen(wire_fd, "wb", buffering=0), encoding="utf-8", write_through=True)


def run_stdio(service_factory: Callable[[], Any], stdin_fd: int = 0) -> None:
    """Serve MCP on stdin/stdout. ``service_factory`` builds the service after stdout is guarded."""
    wire = _wire_stdout()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="pisteur %(levelname)s %(message)s")
    import anyio
    from mcp.server.stdio import stdio_server

    from pisteur.serve.mcp_server import build_server, lowlevel

    service = service_factory()
    low = lowlevel(build_server(service))
    started = threading.Event()

    def start_after_handshake(msg: dict[str, Any]) -> None:
        if msg.get("method") != "initialize" and not started.is_set():
            started.set()
            service.start()

    stdin = CheckedStdin(LineReader(stdin_fd), start_after_handshake)

    async def main() -> None:
        # stdio_server only iterates its stdin asynchronously, which CheckedStdin provides
        async with stdio_server(stdin=stdin, stdout=anyio.wrap_file(wire)) as (  # type: ignore[arg-type]
                read_stream, write_stream):
            stdin.write_stream = write_stream
            stdin.ready.set()
            await low.run(read_stream, write_stream, low.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        service.close()
