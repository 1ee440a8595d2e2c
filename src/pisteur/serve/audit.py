"""Audit log for forensic use: who searched what, when, with which filters, how many hits, which hits were
opened — from the CLI, the HTTP API and MCP alike.

Off by default; on with ``--audit PATH`` (``serve``, ``mcp``, ``search``) or ``PISTEUR_AUDIT=PATH``.

Format: append-only JSON Lines, one record per event, file created 0600. Tamper-evident by a hash chain:
every record holds ``prev``, the SHA-256 of the previous line's bytes (64 zeros for the first), and
``hash``, the SHA-256 of its own canonical JSON without ``hash``. ``verify`` recomputes both and names the
first line that was edited, deleted, inserted or moved. A chain cannot show that its *last* lines were cut
off: ``verify`` prints the head hash, to be noted down (or countersigned) outside the machine.

"Who": the OS user running the process, the front end (``cli``, ``http``, ``mcp``), and over HTTP the
client address and a fingerprint of the bearer token (``sha256:`` + 12 hex digits of its hash; never the
token itself). Appends from several processes are serialised by an exclusive ``flock`` on the file.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import getpass
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = "PISTEUR_AUDIT"
GENESIS = "0" * 64
_TAIL = 64 * 1024


@dataclass(frozen=True)
class Client:
    """Who is behind a request, as far as the server can tell."""

    address: str | None = None
    token: str | None = None  # a fingerprint, never the token


REQUEST_CLIENT: contextvars.ContextVar[Client | None] = contextvars.ContextVar("pisteur_client", default=None)


def token_fingerprint(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): the uid says it
        return f"uid:{os.getuid()}"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _last_line(f: Any) -> bytes | None:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size == 0:
        return None
    f.seek(max(0, size - _TAIL))
    tail = f.read().rstrip(b"\n")
    return tail.rsplit(b"\n", 1)[-1]


def _seq_of(line: bytes | None) -> int:
    """The sequence number of a record line (-1 for none; a damaged line counts as one more record)."""
    if not line:
        return -1
    try:
        return int(json.loads(line).get("seq", -1))
    except (ValueError, TypeError, AttributeError):
        return -1


class AuditError(RuntimeError):
    """The audit log cannot be written: the search is refused rather than left unrecorded."""


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()

    def append(self, event: str, via: str, **fields: Any) -> dict[str, Any]:
        """Append one record (``event``: search, read, ...) and return it; AuditError if it cannot."""
        client = REQUEST_CLIENT.get()
        record: dict[str, Any] = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event, "user": os_user(), "via": via, "pid": os.getpid(),
        }
        if client is not None:
            record["client"] = client.address
            if client.token:
                record["token"] = client.token
        record.update({k: v for k, v in fields.items() if v is not None})
        try:
            self._write(record)
        except OSError as exc:
            raise AuditError(f"cannot write the audit log {self.path}: {exc.strerror or exc}") from exc
        return record

    def _write(self, record: dict[str, Any]) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with self._lock, os.fdopen(fd, "r+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                last = _last_line(f)
                record["seq"] = _seq_of(last) + 1
                record["prev"] = _digest(last) if last else GENESIS
                record["hash"] = _digest(_canonical(record))
                f.seek(0, os.SEEK_END)
                f.write(_canonical(record) + b"\n")
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def search(self, via: str, query: str, k: int, filters: dict[str, Any], ids: list[int]) -> None:
        self.append("search", via, query=query, k=k, filters={a: b for a, b in filters.items() if b} or None,
                    hits=len(ids), ids=ids)

    def read(self, via: str, chunk_id: int, source: str | None = None) -> None:
        self.append("read", via, id=chunk_id, source=source)


def from_setting(path: Path | str | None = None) -> AuditLog | None:
    """The audit log named by ``path`` or, failing that, by ``$PISTEUR_AUDIT``; None when off."""
    chosen = path or os.environ.get(ENV) or None
    return AuditLog(Path(chosen)) if chosen else None


@dataclass
class Verdict:
    ok: bool
    records: int
    head: str | None = None  # SHA-256 of the last line: note it down to detect a cut-off tail later
    bad_line: int | None = None  # 1-based
    reason: str | None = None


def records(path: Path) -> Iterator[dict[str, Any]]:
    with Path(path).open("rb") as f:
        for raw in f:
            if raw.strip():
                with contextlib.suppress(ValueError):
                    rec = json.loads(raw)
                    if isinstance(rec, dict):
                        yield rec


def verify(path: Path) -> Verdict:
    """Check the chain line by line; the first line that breaks it is reported."""
    prev = GENESIS
    n = 0
    with Path(path).open("rb") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip(b"\n")
            bad = _check_line(line, prev, n - 1)
            if bad:
                return Verdict(False, n - 1, bad_line=n, reason=bad)
            prev = _digest(line)
    return Verdict(True, n, head=prev if n else None)


def _check_line(line: bytes, prev: str, seq: int) -> str | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return "not a JSON record"
    if not isinstance(rec, dict) or "hash" not in rec:
        return "not an audit record"
    own = rec.pop("hash")
    if _digest(_canonical(rec)) != own:
        return "record was edited (its hash does not match its content)"
    if rec.get("prev") != prev:
        return "chain broken: the previous record was edited, deleted or moved"
    if rec.get("seq") != seq:
        return f"sequence number {rec.get('seq')} where {seq} was expected (a record was deleted or moved)"
    return None
