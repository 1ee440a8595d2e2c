"""Typed Claude Code records: tolerant parsing, unknown types counted, reader output pinned on the fixtures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pisteur.ingest import discover, read
from pisteur.ingest.claude_records import (
    AssistantRecord,
    NoiseRecord,
    OtherRecord,
    SummaryRecord,
    SystemRecord,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserRecord,
    parse,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
GOLDEN = json.loads((FIXTURES / "claude_golden" / "segments.json").read_text())


def test_each_record_type_has_its_model() -> None:
    user = parse({"type": "user", "uuid": "u", "sessionId": "s", "cwd": "/p", "isSidechain": True,
                  "message": {"content": [{"type": "text", "text": "bonjour"},
                                          {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}})
    assert isinstance(user, UserRecord) and user.env.uuid == "u" and user.env.is_sidechain
    assert user.content == [TextBlock("bonjour"), ToolResultBlock("t1", "ok", False)]
    asst = parse({"type": "assistant", "message": {"id": "m1", "content": [{"type": "tool_use", "id": "t1",
                                                                            "name": "Bash", "input": {}}]}})
    assert isinstance(asst, AssistantRecord) and asst.message_id == "m1"
    assert isinstance(asst.content[0], ToolUseBlock) and asst.content[0].name == "Bash"
    assert isinstance(parse({"type": "system", "subtype": "compact_boundary"}), SystemRecord)
    summary = parse({"type": "summary", "summary": "résumé", "leafUuid": "x"})
    assert isinstance(summary, SummaryRecord) and summary.leaf_uuid == "x"
    assert isinstance(parse({"type": "file-history-snapshot"}), NoiseRecord)
    other = parse({"type": "hologram", "uuid": "h"})
    assert isinstance(other, OtherRecord) and other.type == "hologram"


@pytest.mark.parametrize("obj", [42, "x", [1], None, {"type": ["user"]}, {"type": 3}])
def test_what_is_not_a_record(obj: object) -> None:
    assert parse(obj) is None


def test_fields_of_the_wrong_type_take_their_defaults() -> None:
    rec = parse({"type": "user", "uuid": 7, "timestamp": ["x"], "sessionId": None, "agentId": {},
                 "message": {"content": [3, None, {"type": "text", "text": 5}, "brut"]}})
    assert isinstance(rec, UserRecord)
    assert rec.env.uuid is None and rec.env.timestamp == "" and rec.env.agent_id is None
    assert rec.content == [TextBlock(""), TextBlock("brut")]
    rec = parse({"type": "assistant", "message": "not a dict"})
    assert isinstance(rec, AssistantRecord) and rec.content == []


def test_unknown_record_types_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    lines = [{"type": "user", "uuid": "u1", "message": {"content": "bonjour"}},
             {"type": "hologram", "uuid": "h1", "payload": {"text": "ne pas indexer"}},
             {"type": "hologram", "uuid": "h2"},
             {"type": "assistant", "uuid": "a1", "message": {"content": [{"type": "text", "text": "salut"}]}}]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = read(path, "claude")
    (seg,) = result.segments
    assert "ne pas indexer" not in seg.text and seg.meta["uuids"] == ["u1", "a1"]
    assert result.warnings == ["2 record(s) of unknown type skipped (hologram ×2)"]


def _digest(path: Path) -> dict[str, object]:
    result = read(path, "claude")
    segs = [{"kind": s.kind, "text_sha1": hashlib.sha1(s.text.encode()).hexdigest(), "uuids": s.meta.get("uuids"),
             "lines": [s.line_start, s.line_end], "bytes": [s.byte_start, s.byte_end],
             "anchors_sha1": hashlib.sha1(json.dumps([list(a) for a in s.anchors or []] if s.anchors else None)
                                          .encode()).hexdigest()} for s in result.segments]
    return {"segments": segs, "skipped_lines": result.skipped_lines, "resume_offset": result.resume_offset}


def test_reader_output_on_the_fixtures_is_pinned() -> None:
    root = FIXTURES / "claude"
    files = [p for p, reader in discover([root])[0] if reader == "claude"]
    assert {str(p.relative_to(root)) for p in files} == set(GOLDEN)
    for path in files:
        assert _digest(path) == GOLDEN[str(path.relative_to(root))], path.name
