"""Claude Code JSONL reader on real transcripts (tests/fixtures/claude, see SOURCE.md there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_paths import COMPACTED, LEGACY, ORPHAN_COMPACT, SHORT, SUBAGENTS, TOOL_HEAVY

from pisteur.ingest import read
from pisteur.ingest.anchors import narrow
from pisteur.types import KIND_EXCHANGE, KIND_SUMMARY, KIND_THINKING, KIND_TOOL_RESULT, SkipFile

META_KEYS = {
    "session_id", "project", "git_branch", "ts_first", "ts_last", "uuids", "agent_id", "is_sidechain",
    "parent_session", "compact", "tools",
}  # fmt: skip
NOT_HUMAN = ("<system-reminder>", "<local-command", "<command-name>", "Caveat:", "[Request interrupted")


def records(path: Path) -> list[tuple[int, dict]]:
    out = []
    for no, line in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append((no, rec))
    return out


def exchanges(path: Path, **kw):
    return [s for s in read(path, "claude", **kw).segments if s.kind == KIND_EXCHANGE]


def test_exchange_boundaries_tool_heavy() -> None:
    ex = exchanges(TOOL_HEAVY)
    # Two human turns in this session; the tool_result-only user lines (11, 17, 32, 33, 36, 38), the
    # interruption notices (18, 39), the /mcp command (21) and its stdout (22) start no turn.
    assert [(s.line_start, s.line_end) for s in ex] == [(4, 25), (26, 39)]
    first, second = ex
    assert first.text.startswith("User: start phoenix in background\nAssistant: [Bash] mix phx.server")
    assert "[/mcp]" in first.text and "Reconnected to tidewave" not in first.text
    assert second.text.startswith("User: scrolling back in xterm.js still does not work")
    for line in ("[WebSearch] xterm.js scroll not working embedded page captures scroll events",
                 "[Glob] assets/js/**/*.js", "[Read] /home/marco/projects/spotter/assets/js/app.js",
                 "[WebFetch] https://github.com/xtermjs/xterm.js/issues/1343"):  # fmt: skip
        assert line in [x.removeprefix("Assistant: ") for x in second.text.splitlines()]
    assert second.meta["tools"] == ["WebSearch", "Glob", "Read", "WebFetch"]
    assert "Web search results" not in second.text  # results are their own kind
    for s in ex:
        assert s.text.count("User: ") == 1
        assert not any(marker in s.text for marker in NOT_HUMAN)


def test_human_turn_lines_match_the_file() -> None:
    """Every exchange starts on a user line with plain human text (not meta, not tool results)."""
    for path in (TOOL_HEAVY, SHORT, COMPACTED):
        recs = dict(records(path))
        for seg in exchanges(path):
            rec = recs[seg.line_start]
            assert rec["type"] == "user" and not rec.get("isMeta") and not rec.get("isCompactSummary")
            content = rec["message"]["content"]
            if isinstance(content, list):
                assert any(b.get("type") == "text" for b in content)
                assert not any(b.get("type") == "tool_result" for b in content)


def test_meta_and_ranges() -> None:
    data = TOOL_HEAVY.read_bytes()
    recs = dict(records(TOOL_HEAVY))
    result = read(TOOL_HEAVY, "claude")
    assert result.skipped_lines == 0 and not result.warnings
    kinds = [s.kind for s in result.segments]
    assert kinds == [KIND_EXCHANGE, KIND_TOOL_RESULT, KIND_EXCHANGE, KIND_THINKING, KIND_TOOL_RESULT]
    by_range: dict[tuple[int, int], set[str]] = {}
    for seg in result.segments:
        by_range.setdefault((seg.line_start, seg.line_end), set()).update(seg.meta["uuids"])
    for seg in result.segments:
        assert META_KEYS <= set(seg.meta)
        assert seg.meta["session_id"] == "d6e0bada-1959-4eec-a9d2-0bfade768d8f" == TOOL_HEAVY.stem
        assert seg.meta["project"] == "/home/marco/projects/spotter"
        assert seg.meta["git_branch"] == "master"
        assert seg.meta["agent_id"] is None and seg.meta["parent_session"] is None
        assert seg.meta["is_sidechain"] is False and seg.meta["compact"] is False
        # byte range = exactly the covered lines
        covered = data[seg.byte_start : seg.byte_end]
        assert covered.endswith(b"\n") and covered.count(b"\n") == seg.line_end - seg.line_start + 1
        assert data[: seg.byte_start].count(b"\n") == seg.line_start - 1
        stamps = [r["timestamp"] for no, r in recs.items()
                  if seg.line_start <= no <= seg.line_end and r.get("uuid") in by_range[seg.line_start, seg.line_end]]
        assert seg.meta["ts_first"] == min(stamps) and seg.meta["ts_last"] == max(stamps)
    first = result.segments[0]
    assert first.meta["ts_first"] == recs[4]["timestamp"] == "2026-02-10T22:57:54.684Z"
    assert first.meta["uuids"][0] == recs[4]["uuid"]
    # the tool_result segment lists the uuids of the tool_result user lines only
    assert result.segments[1].meta["uuids"] == [recs[11]["uuid"], recs[17]["uuid"]]
    assert "REFUSED JOIN" in result.segments[1].text


@pytest.mark.parametrize("path", [TOOL_HEAVY, SHORT, COMPACTED])
def test_every_message_uuid_is_covered(path: Path) -> None:
    result = read(path, "claude")
    covered: set[str] = set()
    for seg in result.segments:
        covered.update(seg.meta["uuids"])
    expected = {
        rec["uuid"]
        for _, rec in records(path)
        if rec.get("type") in ("user", "assistant") and rec.get("uuid") and not rec.get("isMeta")
    }
    assert expected and expected <= covered
    for seg in result.segments:  # and an exchange covers only uuids from its own line range
        inside = {r.get("uuid") for no, r in records(path) if seg.line_start <= no <= seg.line_end}
        assert set(seg.meta["uuids"]) <= inside


def test_anchors_narrow_uuids_and_lines() -> None:
    ex = exchanges(TOOL_HEAVY)[1]
    assert ex.anchors and [a[0] for a in ex.anchors] == sorted(a[0] for a in ex.anchors)
    recs = dict(records(TOOL_HEAVY))
    for _offset, line, uuid in ex.anchors:
        assert recs[line].get("uuid") == uuid
    at = ex.text.index("[Read] /home/marco")
    part = narrow(ex, at, at + 20)
    assert part["uuids"] == [recs[34]["uuid"]] and part["line_start"] == part["line_end"] == 34
    whole = narrow(ex, 0, len(ex.text))
    assert whole["line_start"] == 26 and set(whole["uuids"]) <= set(ex.meta["uuids"])


def test_compaction_summary_and_command_turn() -> None:
    result = read(COMPACTED, "claude")
    summaries = [s for s in result.segments if s.kind == KIND_SUMMARY]
    assert len(summaries) == 1
    summary = summaries[0]
    assert summary.meta["compact"] is True
    assert summary.text.startswith("This session is being continued from a previous conversation")
    assert summary.line_start == summary.line_end == 43
    ex = [s for s in result.segments if s.kind == KIND_EXCHANGE]
    assert [s.text.split("\n", 1)[0] for s in ex] == [
        "User: Work on bead spotter-4te. Run bd show spotter-4te to see the issue details and bd ready to "
        "find available subtasks. Start with the first ready task.",
        "User: /compact and continue with the reamining tasks",
        "User: continue implementation",
    ]
    # the compact boundary (line 42) and the summary close the first exchange
    assert ex[0].line_end < 42 and ex[1].line_start > 43
    for s in ex:
        assert "This session is being continued" not in s.text and "Compacted" not in s.text
        assert s.meta["compact"] is False
        assert s.meta["git_branch"] == "spotter-4te"
    assert result.resume_offset == ex[-1].byte_start


def test_subagent_linked_to_parent() -> None:
    result = read(SUBAGENTS / "agent-aac57f5.jsonl", "claude")
    assert result.segments
    for seg in result.segments:
        assert seg.meta["agent_id"] == "aac57f5"
        assert seg.meta["parent_session"] == "ae4a77f8-aedd-4bc1-888f-c94edc91af04"
        assert seg.meta["session_id"] == "ae4a77f8-aedd-4bc1-888f-c94edc91af04"
        assert seg.meta["is_sidechain"] is True
    ex = [s for s in result.segments if s.kind == KIND_EXCHANGE]
    assert len(ex) == 1 and ex[0].text.startswith("User: Search hex.pm for the latest versions")


def test_compaction_agent_not_indexed_twice_but_orphan_kept(copy_to) -> None:
    # parent session present: the compaction agent's output is the parent's compact summary already
    assert read(SUBAGENTS / "agent-acompact-946d2b.jsonl", "claude").segments == []
    orphan = read(ORPHAN_COMPACT, "claude").segments
    assert len(orphan) == 1
    seg = orphan[0]
    assert seg.kind == KIND_SUMMARY and seg.meta["compact"] is True
    assert seg.meta["parent_session"] == "258c7280-ae70-4798-800f-63464d01a85d"
    assert seg.meta["agent_id"] == "acompact-fffbd0"
    assert "Your task is to create a detailed summary" not in seg.text  # the instruction is not indexed
    assert "spotter-gqc" in seg.text


def test_orphan_and_old_style_subagents(copy_to) -> None:
    src = SUBAGENTS / "agent-aac57f5.jsonl"
    orphan = copy_to(src, "proj/0000-missing-parent/subagents/agent-aac57f5.jsonl")
    segs = read(orphan, "claude").segments
    assert segs and all(s.meta["parent_session"] == "0000-missing-parent" for s in segs)
    old = copy_to(src, "proj/agent-aac57f5.jsonl")  # old layout: beside the sessions
    segs = read(old, "claude").segments
    assert segs and all(s.meta["agent_id"] == "aac57f5" for s in segs)
    assert all(s.meta["parent_session"] == "ae4a77f8-aedd-4bc1-888f-c94edc91af04" for s in segs)


def test_legacy_format_summary_and_malformed_lines() -> None:
    result = read(LEGACY / "edge_cases.jsonl", "claude")
    assert result.skipped_lines == 3  # "massive error", 42, [1]; a typeless object is ignored silently
    assert [w.split(":")[0] for w in result.warnings] == ["line 13", "line 15", "line 16"]
    summaries = [s for s in result.segments if s.kind == KIND_SUMMARY]
    assert len(summaries) == 1 and summaries[0].meta["compact"] is False
    assert summaries[0].text.startswith("Tested various edge cases")
    assert summaries[0].meta["leaf_uuid"] == "edge_011"
    ex = [s for s in result.segments if s.kind == KIND_EXCHANGE]
    firsts = [s.text.split("\n", 1)[0] for s in ex]
    assert "User: /test-command --verbose --output /tmp/test.log" in firsts  # command with arguments
    assert not any("Caveat" in s.text or "<local-command-stdout>" in s.text for s in ex)
    errors = [s for s in result.segments if s.kind == KIND_TOOL_RESULT]
    assert "[FailingTool] test_param=This tool will fail to demonstrate error handling [error]" in errors[0].text

    rep = read(LEGACY / "representative_messages.jsonl", "claude")
    ex = [s for s in rep.segments if s.kind == KIND_EXCHANGE]
    assert [s.meta["uuids"][0] for s in ex] == ["msg_001", "msg_003", "msg_007", "msg_011"]
    assert "[Edit] /tmp/decorator_example.py" in ex[1].text
    assert "[Bash] python /tmp/decorator_example.py" in ex[2].text


def _turn(uuid: str, text: str, ts: str) -> bytes:
    rec = {"type": "user", "uuid": uuid, "sessionId": "d6e0bada-1959-4eec-a9d2-0bfade768d8f",
           "cwd": "/home/marco/projects/spotter", "gitBranch": "master", "timestamp": ts,
           "message": {"role": "user", "content": text}}  # fmt: skip
    return json.dumps(rec).encode() + b"\n"


def _answer(uuid: str, text: str, ts: str) -> bytes:
    rec = {"type": "assistant", "uuid": uuid, "sessionId": "d6e0bada-1959-4eec-a9d2-0bfade768d8f",
           "timestamp": ts, "message": {"id": f"msg_{uuid}", "role": "assistant",
                                        "content": [{"type": "text", "text": text}]}}  # fmt: skip
    return json.dumps(rec).encode() + b"\n"


def test_resume_rebuilds_last_exchange_and_appended(copy_to) -> None:
    path = copy_to(TOOL_HEAVY, "p/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl")
    full = read(path, "claude")
    resume = full.resume_offset
    assert resume == [s for s in full.segments if s.kind == KIND_EXCHANGE][-1].byte_start
    tail = read(path, "claude", start_offset=resume)
    expected = [s for s in full.segments if s.byte_start >= resume]
    assert [(s.kind, s.text, s.line_start, s.line_end, s.byte_start, s.meta) for s in tail.segments] == [
        (s.kind, s.text, s.line_start, s.line_end, s.byte_start, s.meta) for s in expected
    ]
    # the assistant goes on in the last exchange, then a new human turn is appended
    with path.open("ab") as fh:
        fh.write(_answer("a-more", "Le défilement est corrigé.", "2026-02-10T23:10:00.000Z"))
        fh.write(_turn("u-new", "merci, lance les tests maintenant", "2026-02-10T23:11:00.000Z"))
        fh.write(_answer("a-new", "Tests lancés : 42 passent.", "2026-02-10T23:11:05.000Z"))
    again = read(path, "claude", start_offset=resume)
    ex = [s for s in again.segments if s.kind == KIND_EXCHANGE]
    assert len(ex) == 2
    assert ex[0].text.startswith(expected[0].text) and "Le défilement est corrigé." in ex[0].text
    assert ex[0].line_start == 26 and ex[0].line_end == 40 and "a-more" in ex[0].meta["uuids"]
    assert ex[1].text == "User: merci, lance les tests maintenant\nAssistant: Tests lancés : 42 passent."
    assert (ex[1].line_start, ex[1].line_end) == (41, 42)
    assert ex[1].meta["ts_first"] == "2026-02-10T23:11:00.000Z"
    assert again.resume_offset == ex[1].byte_start
    whole = read(path, "claude")  # the same as reading the whole grown file
    assert [s.text for s in whole.segments if s.byte_start >= resume] == [s.text for s in again.segments]


def test_partial_last_line_is_left_for_later(copy_to) -> None:
    path = copy_to(SHORT, "p/s.jsonl")
    line = _turn("u-late", "pourquoi le serveur ne démarre pas ?", "2026-02-10T21:20:00.000Z")
    with path.open("ab") as fh:
        fh.write(line[:40])  # a writer is in the middle of this line
    result = read(path, "claude")
    assert result.skipped_lines == 0
    assert all("u-late" not in s.meta["uuids"] for s in result.segments)
    assert result.resume_offset is not None and result.resume_offset <= SHORT.stat().st_size
    with path.open("ab") as fh:
        fh.write(line[40:])
    later = read(path, "claude", start_offset=result.resume_offset)
    assert any(s.text.startswith("User: pourquoi le serveur ne démarre pas ?") for s in later.segments)


def test_final_line_without_newline_but_complete_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    last = _answer("a1", "salut", "2026-01-01T00:00:01Z")[:-1]  # no final newline
    path.write_bytes(_turn("u1", "bonjour", "2026-01-01T00:00:00Z") + last)
    ex = exchanges(path)
    assert ex[0].text == "User: bonjour\nAssistant: salut" and ex[0].meta["uuids"] == ["u1", "a1"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02garbage\xff\xfe\n\x89PNG\r\n\x1a\n\x00\x00", "no valid JSON line"),
        (b"not json\n{broken\n", "no valid JSON line"),
        (b'{"type": "user", "message": {"content": "cut her', "no complete JSON line"),
    ],
)
def test_hopeless_jsonl_is_skipped(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(SkipFile, match=reason):
        read(path, "claude")


def test_malformed_lines_mid_file_are_counted(tmp_path: Path) -> None:
    lines = SHORT.read_bytes().splitlines(keepends=True)
    lines.insert(5, b'{"type": "assistant", "message": {"content": [\n')  # truncated JSON
    lines.insert(2, b"\xff\xfe binary \x00 junk\n")
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(lines))
    result = read(path, "claude")
    assert result.skipped_lines == 2 and len(result.warnings) == 2
    ex = [s for s in result.segments if s.kind == KIND_EXCHANGE]
    assert len(ex) == 1 and ex[0].text.startswith("User: mix phx.server doesnt seem to start")


def test_inline_sidechain_does_not_cut_the_main_exchange(tmp_path: Path) -> None:
    """Old CLI versions wrote Task subagent messages inline (isSidechain: true) in the main file."""

    def rec(kind: str, uuid: str, content, side: bool = False) -> bytes:
        msg = {"role": kind, "content": content}
        return json.dumps({"type": kind, "uuid": uuid, "isSidechain": side, "timestamp": "2025-06-01T10:00:00Z",
                           "message": msg}).encode() + b"\n"  # fmt: skip

    path = tmp_path / "0e1f-legacy.jsonl"  # records carry no sessionId: the file name is the session id
    path.write_bytes(
        rec("user", "u1", "trouve les appels à eval()")
        + rec("assistant", "a1", [{"type": "tool_use", "id": "t1", "name": "Task",
                                   "input": {"description": "chercher eval", "prompt": "cherche eval"}}])  # fmt: skip
        + rec("user", "s1", "cherche eval dans le dépôt", side=True)
        + rec("assistant", "s2", [{"type": "text", "text": "trouvé dans util.py"}], side=True)
        + rec("user", "u2", [{"type": "tool_result", "tool_use_id": "t1", "content": "util.py:12 eval(x)"}])
        + rec("assistant", "a2", [{"type": "text", "text": "Un seul appel, dans util.py."}])
    )
    segs = read(path, "claude").segments
    main = [s for s in segs if s.kind == KIND_EXCHANGE and not s.meta["is_sidechain"]]
    side = [s for s in segs if s.kind == KIND_EXCHANGE and s.meta["is_sidechain"]]
    assert len(main) == 1 and main[0].meta["uuids"] == ["u1", "a1", "u2", "a2"]
    assert "[Task] chercher eval" in main[0].text and "Un seul appel, dans util.py." in main[0].text
    assert len(side) == 1 and side[0].meta["uuids"] == ["s1", "s2"]
    assert all(s.meta["session_id"] == "0e1f-legacy" for s in segs)


def test_bom_and_deeply_nested_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + _turn("u1", "bonjour", "2026-01-01T00:00:00Z")
        + b"[" * 100_000 + b"]" * 100_000 + b"\n"
        + _answer("a1", "salut", "2026-01-01T00:00:01Z")
    )  # fmt: skip
    result = read(path, "claude")
    assert result.skipped_lines == 1 and result.warnings == ["line 2: malformed JSON, skipped"]
    assert [s.meta["uuids"] for s in result.segments] == [["u1", "a1"]]


def test_narrow_pieces_follow_a_chunker_split() -> None:
    from pisteur.ingest.anchors import narrow_pieces

    ex = exchanges(COMPACTED)[-1]
    lines = ex.text.split("\n")
    pieces = ["\n".join(lines[i : i + 4]).strip() for i in range(0, len(lines), 3)]  # overlapping pieces
    parts = narrow_pieces(ex, pieces)
    assert parts[0]["line_start"] == ex.line_start and parts[0]["uuids"][0] == ex.meta["uuids"][0]
    starts = [p["line_start"] for p in parts]
    assert starts == sorted(starts) and parts[-1]["line_end"] <= ex.line_end
    assert len(parts) == len(pieces)
    for part in parts:
        assert set(part["uuids"]) <= set(ex.meta["uuids"]) and part["uuids"]
        assert part["line_start"] <= part["line_end"]
    assert sum(len(p["uuids"]) for p in parts) < len(pieces) * len(ex.meta["uuids"])


def _key(seg) -> tuple:
    return (seg.kind, seg.text, seg.line_start, seg.line_end, seg.byte_start, seg.byte_end, seg.meta)


@pytest.mark.parametrize("source", [TOOL_HEAVY, COMPACTED, LEGACY / "edge_cases.jsonl"])
def test_growing_file_read_in_pieces_equals_one_read(tmp_path: Path, source: Path) -> None:
    """Whatever byte the writer had reached, keeping the segments before resume_offset and re-reading
    from it once the file has grown gives exactly the segments of a single read of the whole file."""
    data = source.read_bytes()
    whole = [_key(s) for s in read(source, "claude").segments]
    path = tmp_path / source.name
    step = max(1, len(data) // 9)
    cuts = sorted({(data.find(b"\n", i) + 1) or len(data) for i in range(0, len(data) - 1, step)})
    cuts += [c - 7 for c in cuts[:4] if c > 7]  # in the middle of a line too
    for cut in cuts:
        path.write_bytes(data[:cut])
        try:
            first = read(path, "claude")
        except SkipFile:
            kept, offset = [], 0
        else:
            offset = first.resume_offset
            kept = [_key(s) for s in first.segments if s.byte_start < offset]
        path.write_bytes(data)
        rest = [_key(s) for s in read(path, "claude", start_offset=offset).segments]
        assert kept + rest == whole, f"cut at byte {cut}"
