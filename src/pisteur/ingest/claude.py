"""Claude Code session transcripts (``~/.claude/projects/<project>/<session>.jsonl`` and subagents).

The unit is the *exchange*: a human turn and everything the assistant did until the next human turn.
See docs/ingest.md for the rules (what starts a turn, what is folded, what is skipped).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pisteur.ingest import limits
from pisteur.ingest.base import register
from pisteur.ingest.claude_records import (
    AssistantRecord,
    Envelope,
    OtherRecord,
    Record,
    SummaryRecord,
    SystemRecord,
    UserRecord,
    parse,
)
from pisteur.ingest.claude_render import (
    classify_assistant,
    classify_user,
    system_command,
    truncate,
)
from pisteur.ingest.common import check_size
from pisteur.ingest.jsonl_lines import Line, count_lines_before, iter_lines
from pisteur.types import (
    KIND_EXCHANGE,
    KIND_SUMMARY,
    KIND_THINKING,
    KIND_TOOL_RESULT,
    ParseResult,
    Segment,
    SkipFile,
)


@dataclass
class _FileInfo:
    agent_id: str | None
    parent_session: str | None
    is_compact_agent: bool
    stem: str  # a main session file is named after its session id


@dataclass
class _Text:
    """Text of one segment being built, with anchors (char offset, line, uuid) of its contributors."""

    sep: str
    pieces: list[str] = field(default_factory=list)
    size: int = 0
    uuids: list[str] = field(default_factory=list)
    anchors: list[tuple[int, int, str | None]] = field(default_factory=list)
    last_role: str = ""
    truncated: int = 0  # messages cut at the message size limit

    def add(self, text: str, line: Line, uuid: str | None, role: str = "", sep: str | None = None) -> None:
        limit = limits.current().message_chars
        if len(text) > limit:  # a pasted log or a generated file of megabytes: keep the start
            text = truncate(text, limit)
            self.truncated += 1
        piece = ((self.sep if sep is None else sep) if self.pieces else "") + text
        self.anchors.append((self.size + len(piece) - len(text), line.no, uuid))
        self.pieces.append(piece)
        self.size += len(piece)
        self.last_role = role
        if uuid and uuid not in self.uuids:
            self.uuids.append(uuid)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass
class _Unit:
    """An open exchange (or a compaction agent's summary) being accumulated."""

    first: Line
    last: Line
    body: _Text = field(default_factory=lambda: _Text("\n"))
    thinking: _Text = field(default_factory=lambda: _Text("\n\n"))
    results: _Text = field(default_factory=lambda: _Text("\n\n"))
    assistant: _Text = field(default_factory=lambda: _Text("\n\n"))  # prose only (compaction agents)
    uuids: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    ts: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # session_id, project, git_branch, ...
    tool_lines: dict[str, str] = field(default_factory=dict)  # tool_use_id -> one-liner
    seen_blocks: set[int] = field(default_factory=set)
    last_command: str = ""


def file_info(path: Path) -> _FileInfo:
    stem = path.stem
    agent_id = stem[len("agent-") :] if stem.startswith("agent-") else None
    parent = path.parent.parent.name if agent_id and path.parent.name == "subagents" else None
    return _FileInfo(agent_id, parent, bool(agent_id and agent_id.startswith("acompact")), stem)


class _Builder:
    def __init__(self, info: _FileInfo) -> None:
        self.info = info
        self.segments: list[Segment] = []
        self.unit: _Unit | None = None
        self.fallback: dict[str, Any] = {}  # last seen session/cwd/branch, for records lacking them
        self.truncated = 0  # messages cut at the message size limit

    # -- meta -----------------------------------------------------------------------------------
    def _remember(self, env: Envelope) -> None:
        for name, val in (("session_id", env.session_id), ("project", env.cwd), ("git_branch", env.git_branch)):
            if val:
                self.fallback[name] = val
        if env.agent_id is not None:
            self.fallback["agent_id"] = env.agent_id

    def _meta(self, unit: _Unit, uuids: list[str], compact: bool) -> dict[str, Any]:
        f = {**self.fallback, **unit.fields}
        agent_id = f.get("agent_id") or self.info.agent_id
        parent = self.info.parent_session or (f.get("session_id") if agent_id else None)
        return {
            "session_id": f.get("session_id") or parent or (None if agent_id else self.info.stem),
            "project": f.get("project"),
            "git_branch": f.get("git_branch"),
            "ts_first": min(unit.ts) if unit.ts else None,
            "ts_last": max(unit.ts) if unit.ts else None,
            "uuids": list(dict.fromkeys(uuids)),
            "agent_id": agent_id,
            "is_sidechain": bool(f.get("is_sidechain") or agent_id),
            "parent_session": parent,
            "compact": compact,
            "tools": list(dict.fromkeys(unit.tools)),
        }

    # -- units ----------------------------------------------------------------------------------
    def open(self, line: Line) -> _Unit:
        if self.unit is None:
            self.unit = _Unit(first=line, last=line)
        return self.unit

    def touch(self, env: Envelope, line: Line, unit: _Unit) -> None:
        unit.last = line
        if env.uuid:
            unit.uuids.append(env.uuid)
        if env.timestamp:
            unit.ts.append(env.timestamp)
        for name, val in (("session_id", env.session_id), ("project", env.cwd), ("git_branch", env.git_branch)):
            if val and name not in unit.fields:
                unit.fields[name] = val
        if env.is_sidechain:
            unit.fields["is_sidechain"] = True
        if env.agent_id is not None and "agent_id" not in unit.fields:
            unit.fields["agent_id"] = env.agent_id

    def close(self) -> None:
        unit, self.unit = self.unit, None
        if unit is None:
            return
        self.truncated += sum(t.truncated for t in (unit.body, unit.thinking, unit.results, unit.assistant))
        span = {"line_start": unit.first.no, "line_end": unit.last.no}
        span |= {"byte_start": unit.first.start, "byte_end": unit.last.end}
        if self.info.is_compact_agent:
            outputs = [(unit.assistant, KIND_SUMMARY, unit.uuids)]
        else:
            outputs = [
                (unit.body, KIND_EXCHANGE, unit.uuids),
                (unit.thinking, KIND_THINKING, unit.thinking.uuids),
                (unit.results, KIND_TOOL_RESULT, unit.results.uuids),
            ]
        for acc, kind, uuids in outputs:
            text = acc.text
            if text.strip():
                meta = self._meta(unit, uuids, self.info.is_compact_agent)
                self.segments.append(Segment(text, kind, meta, **span, anchors=list(acc.anchors)))

    def summary(self, text: str, env: Envelope, line: Line, compact: bool, leaf_uuid: str | None = None) -> None:
        unit = _Unit(first=line, last=line)
        self.touch(env, line, unit)
        meta = self._meta(unit, unit.uuids, compact)
        if not compact and leaf_uuid is not None:
            meta["leaf_uuid"] = leaf_uuid
        self.segments.append(
            Segment(text, KIND_SUMMARY, meta, line.no, line.no, byte_start=line.start, byte_end=line.end)
        )

    # -- records --------------------------------------------------------------------------------
    def feed(self, rec: Record, line: Line) -> None:
        self._remember(rec.env)
        if isinstance(rec, SummaryRecord):
            if rec.summary.strip():
                self.summary(rec.summary.strip(), rec.env, line, compact=False, leaf_uuid=rec.leaf_uuid)
        elif isinstance(rec, AssistantRecord):
            self._assistant(rec, line)
        elif isinstance(rec, UserRecord):
            self._user(rec, line)
        elif isinstance(rec, SystemRecord):
            self._system(rec, line)
        elif self.unit is not None:  # noise and unknown types carry no conversation text
            self.unit.last = line

    def _system(self, rec: SystemRecord, line: Line) -> None:
        if rec.subtype == "compact_boundary":
            self.close()
            return
        command = system_command(rec)
        if command and self.unit is not None and command != self.unit.last_command:
            self._fold_command(rec.env, line, command)
        elif self.unit is not None:
            self.touch(rec.env, line, self.unit)

    def _assistant(self, rec: AssistantRecord, line: Line) -> None:
        unit = self.open(line)
        content = classify_assistant(rec, unit.seen_blocks)
        self.touch(rec.env, line, unit)
        uuid = rec.env.uuid
        if content.texts:
            body = "\n".join(content.texts)
            if unit.body.last_role == "assistant":
                unit.body.add(body, line, uuid, "assistant")
            else:
                unit.body.add("Assistant: " + body, line, uuid, "assistant")
        if content.prose:
            unit.assistant.add("\n".join(content.prose), line, uuid)
        for block in content.thinking:
            unit.thinking.add(block, line, uuid)
        for tool_id, name, one in content.tools:
            unit.tools.append(name)
            if tool_id:
                unit.tool_lines[tool_id] = one

    def _fold_command(self, env: Envelope, line: Line, command: str) -> None:
        unit = self.open(line)
        self.touch(env, line, unit)
        unit.body.add(f"[{command}]", line, env.uuid)
        unit.last_command = command

    def _user(self, rec: UserRecord, line: Line) -> None:
        content = classify_user(rec)
        if content.role == "compact_summary":
            self.close()
            if content.text:
                self.summary(content.text, rec.env, line, compact=True)
            return
        uuid = rec.env.uuid
        if content.role == "human" or (content.role == "command" and " " in content.text):
            self.close()
            unit = self.open(line)
            self.touch(rec.env, line, unit)
            unit.body.add("User: " + content.text, line, uuid, "user")
            if content.role == "command":
                unit.last_command = content.text
            return
        if content.role == "command":
            if self.unit is None or content.text != self.unit.last_command:
                self._fold_command(rec.env, line, content.text)
            else:
                self.touch(rec.env, line, self.unit)
            return
        if content.role == "tool_results" or content.results:
            unit = self.open(line)
            self.touch(rec.env, line, unit)
            for tool_id, text, is_error in content.results:
                if text.strip():
                    label = unit.tool_lines.get(tool_id, "[tool]") + (" [error]" if is_error else "")
                    unit.results.add(f"{label}\n{truncate(text.strip())}", line, uuid)
            if content.interjection:
                unit.body.add("User: " + content.interjection, line, uuid, "user")
            return
        if self.unit is not None:  # meta: covered by the exchange, not indexed as text
            self.touch(rec.env, line, self.unit)


@dataclass
class _Reading:
    """Counters and warnings of one read."""

    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # lines that are not records
    listed: int = 0  # of which described in a warning
    unknown: Counter[str] = field(default_factory=Counter)  # records of unknown type
    seen_any: bool = False
    partial: bool = False

    def bad(self, line: Line, why: str) -> None:
        self.skipped += 1
        if self.listed < 20:
            self.listed += 1
            self.warnings.append(f"line {line.no}: {why}, skipped")

    def finish(self, start_offset: int, truncated: int) -> None:
        if not self.seen_any and start_offset == 0:
            if self.skipped:
                raise SkipFile(f"no valid JSON line ({self.skipped} malformed)")
            raise SkipFile("no complete JSON line yet (file being written?)" if self.partial else "empty file")
        if self.skipped > self.listed:
            self.warnings.append(f"{self.skipped - self.listed} more malformed lines not listed")
        if self.unknown:
            kinds = ", ".join(f"{name} ×{n}" for name, n in self.unknown.most_common(5))
            self.warnings.append(f"{self.unknown.total()} record(s) of unknown type skipped ({kinds})")
        if truncated:
            limit = limits.current().message_chars
            self.warnings.append(f"{truncated} message(s) over {limit:,} characters truncated")


def _decode(raw: bytes, line: Line) -> Any:
    if line.start == 0 and raw.startswith(b"\xef\xbb\xbf"):  # UTF-8 BOM written by some editors
        raw = raw[3:]
    try:  # decoded here: json.loads on bytes would first guess the encoding of every line
        return json.loads(raw.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        return None


def _why(rec: Any) -> str:
    if isinstance(rec, dict):
        return "record type is not a string"
    return "not a JSON object" if rec is not None else "malformed JSON"


def read_session(path: Path, start_offset: int = 0) -> ParseResult:
    info = file_info(path)
    # Old CLI versions wrote subagent (sidechain) messages inline in the main file: they get their own
    # builder so that a Task prompt does not cut the main exchange in two.
    main, side = _Builder(info), _Builder(info)
    st = _Reading()
    resume = start_offset
    max_record = limits.current().record_mb * limits.MB
    try:
        check_size(path.stat().st_size)
        fh = path.open("rb")
    except OSError as exc:
        raise SkipFile(f"cannot open: {exc.strerror or exc}") from None
    with fh:
        first_no = count_lines_before(fh, start_offset) + 1 if start_offset else 1
        for line, raw, complete in iter_lines(fh, start_offset, first_no, max_record):
            rec = _decode(raw, line) if raw is not None else None
            if not complete and (raw is None or rec is None):
                st.partial = True
                st.warnings.append(f"line {line.no}: incomplete last line (file being written?), left for later")
                break
            resume = line.end
            record = parse(rec)
            if record is None:
                if raw is None:
                    st.bad(line, f"record over {max_record // limits.MB} MiB")
                elif raw.strip():
                    st.bad(line, _why(rec))
                if main.unit is not None:
                    main.unit.last = line
                continue
            st.seen_any = True
            if isinstance(record, OtherRecord) and record.type:  # a typeless object is ignored silently
                st.unknown[record.type] += 1
            inline_side = info.agent_id is None and record.env.is_sidechain
            (side if inline_side else main).feed(record, line)
        open_starts = [b.unit.first.start for b in (main, side) if b.unit is not None]
        if open_starts:
            resume = min(open_starts)
        main.close()
        side.close()
    st.finish(start_offset, main.truncated + side.truncated)
    if info.is_compact_agent and info.parent_session and _parent_exists(path):
        # The compaction agent's output is the parent session's compact summary: don't index it twice.
        return ParseResult([], st.warnings, st.skipped, resume_offset=resume)
    segments = sorted(main.segments + side.segments, key=lambda seg: seg.line_start or 0)  # stable sort
    return ParseResult(segments, st.warnings, st.skipped, resume_offset=resume)


def _parent_exists(path: Path) -> bool:
    session_dir = path.parent.parent
    return (session_dir.parent / f"{session_dir.name}.jsonl").exists()


@register
class ClaudeReader:
    name = "claude"
    extensions = (".jsonl",)
    redact_by_default = True  # sessions hold API keys and passwords read from .env files or printed by tools

    def probe(self, path: Path) -> str | None:
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        return read_session(path, start_offset)
