"""Generate a realistic Claude Code history of N MB and/or an N-message French SMS/chat export, for the scale
benchmark (``bench/scale_index.py``).

    python bench/scale_history.py OUT --mb 16                   # OUT/claude/projects/<project>/<session>.jsonl
    python bench/scale_history.py OUT --mb 200 --months 12 --projects 8
    python bench/scale_history.py OUT --messages 100000         # OUT/sms/export-NNN.csv

**Claude Code history**, derived from the real fixture sessions in ``bench/data/claude-sessions`` (MIT): each
generated session re-uses the records of one fixture session — the whole file or a slice starting at a user
turn — with every uuid (message, parent, session, tool-use ids written as uuids) replaced by a new one,
consistently within the session and its subagent files; agent ids renewed; timestamps shifted so that sessions
spread over ``--months`` months, newest last; the project name rotated (it appears in paths, branch names,
module names and task ids) over ``--projects`` projects. Record shapes are untouched: main sessions, subagent
files (``<session>/subagents/agent-*.jsonl``), compaction agents and compaction summaries, progress records.
The layout is ``~/.claude/projects``'s: ``projects/<cwd with / as ->/<session id>.jsonl``.

**SMS/chat export**: a CSV as phone extraction tools write them (``;``-separated, French headers: date,
expéditeur, destinataire, conversation, message) built from hand-written French templates whose words are
replaced, at random, by the SMS forms and acronyms of the product's own dictionaries
(``src/pisteur/retrieve/dictionaries``: ``sms.toml``, ``acronyms.toml``). No real message is used.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import DATA_DIR, BenchError
from _sms_templates import write_sms_export

FIXTURES = DATA_DIR / "claude-sessions"
PROJECTS = ("spotter", "atlas", "ledger", "relay", "orbit", "quill", "harbor", "tundra", "lantern", "mosaic")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TS_RE = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"')
START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


@dataclass
class SourceSession:
    """One fixture session: its main file's lines (None for an orphan subagent folder) and subagent files."""

    name: str
    lines: list[str] | None
    subagents: dict[str, list[str]] = field(default_factory=dict)  # file name -> lines
    agent_ids: list[str] = field(default_factory=list)
    first_ts: datetime | None = None


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _first_ts(lines: Sequence[str]) -> datetime | None:
    for line in lines:
        m = TS_RE.search(line)
        if m:
            return _parse_ts(m.group(1))
    return None


def load_sources(root: Path) -> list[SourceSession]:
    """Every fixture session under ``root`` (main files and ``<id>/subagents/*.jsonl``)."""
    if not root.is_dir():
        raise BenchError(f"{root} is not a folder of Claude Code sessions")
    out: dict[str, SourceSession] = {}
    for f in sorted(root.glob("*.jsonl")):
        lines = f.read_text(encoding="utf-8").splitlines()
        out[f.stem] = SourceSession(f.stem, lines, first_ts=_first_ts(lines))
    for f in sorted(root.glob("*/subagents/*.jsonl")):
        sid = f.parent.parent.name
        src = out.setdefault(sid, SourceSession(sid, None))
        lines = f.read_text(encoding="utf-8").splitlines()
        src.subagents[f.name] = lines
        src.agent_ids.append(f.stem.removeprefix("agent-"))
        src.first_ts = src.first_ts or _first_ts(lines)
    if not out:
        raise BenchError(f"no *.jsonl session under {root}")
    return list(out.values())


def _session_id(src: SourceSession) -> str:
    """The session id the records carry (a fixture file may be named otherwise, e.g. short.jsonl)."""
    for line in src.lines or next(iter(src.subagents.values()), []):
        m = re.search(r'"sessionId":"([^"]+)"', line)
        if m:
            return m.group(1)
    return src.name


def _user_turns(lines: Sequence[str]) -> list[int]:
    """Indexes of the lines that open a human turn (a user record whose content is a plain string)."""
    return [i for i, line in enumerate(lines) if '"type":"user"' in line and '"content":"' in line]


class Rewriter:
    """Rewrites the lines of one generated session: new uuids and agent ids, shifted times, renamed project."""

    def __init__(self, rng: random.Random, shift: timedelta, project: str, agent_ids: Sequence[str]) -> None:
        self.rng, self.shift = rng, shift
        self.uuids: dict[str, str] = {}
        self.agents = {a: self._agent_id(a) for a in agent_ids}
        self.project = project
        self.cap = project.capitalize()

    def _agent_id(self, old: str) -> str:
        hex6 = "".join(self.rng.choice("0123456789abcdef") for _ in range(6))
        return f"acompact-{hex6}" if old.startswith("acompact") else f"a{hex6}"

    def map_uuid(self, old: str) -> str:
        if old not in self.uuids:
            self.uuids[old] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return self.uuids[old]

    def _uuid(self, m: re.Match[str]) -> str:
        return self.map_uuid(m.group(0))

    def _ts(self, m: re.Match[str]) -> str:
        t = _parse_ts(m.group(1)) + self.shift
        return '"' + t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z" + '"'

    def line(self, text: str) -> str:
        text = UUID_RE.sub(self._uuid, text)
        text = TS_RE.sub(self._ts, text)
        for old, new in self.agents.items():
            text = text.replace(old, new)
        text = text.replace("/home/marco/", "/home/USER/")
        if self.project != "spotter":
            text = text.replace("spotter", self.project).replace("Spotter", self.cap)
        return text


def project_dir(lines: Sequence[str]) -> str:
    """Claude Code's folder name for a session: its cwd with every non-alphanumeric character as ``-``."""
    for line in lines:
        m = re.search(r'"cwd":"([^"]+)"', line)
        if m:
            return re.sub(r"[^A-Za-z0-9]", "-", m.group(1))
    return "-home-USER-projects-unknown"


def pick_lines(src: SourceSession, rng: random.Random) -> tuple[list[str], dict[str, list[str]]]:
    """The records of one generated session: the whole fixture (half the time) or a slice from a user turn."""
    assert src.lines is not None
    lines, subs = src.lines, dict(src.subagents)
    turns = _user_turns(lines)
    if rng.random() < 0.5 and len(turns) > 1:
        start = rng.choice(turns[1:])
        lines = lines[start:]
        subs = {k: v for k, v in subs.items() if rng.random() < 0.5}
    return lines, subs


@dataclass
class Plan:
    mb: float
    months: int
    projects: int
    seed: int


def generate_sessions(sources: Sequence[SourceSession], plan: Plan) -> Iterator[tuple[str, list[str]]]:
    """Yield (relative path, lines) of generated files until about ``plan.mb`` MB are produced."""
    rng = random.Random(plan.seed)
    target, done, n = plan.mb * 1e6, 0, 0
    span = timedelta(days=30 * plan.months)
    est = max(1, int(target / (sum(len("\n".join(s.lines or [])) for s in sources) / len(sources))))
    while done < target:
        src = rng.choice(sources)
        when = START + span * min(1.0, (n + rng.random()) / est)  # newest sessions last
        shift = when - (src.first_ts or START)
        project = PROJECTS[rng.randrange(min(plan.projects, len(PROJECTS)))]
        rw = Rewriter(rng, shift, project, src.agent_ids)
        sid = rw.map_uuid(_session_id(src))
        if src.lines is not None:
            lines, subs = pick_lines(src, rng)
            out = [rw.line(x) for x in lines]
        else:  # an orphan subagent folder: its main file is absent, as in the fixtures
            out, subs = [], dict(src.subagents)
        sub_out = {rw.line(name): [rw.line(x) for x in v] for name, v in subs.items()}
        pdir = project_dir(out or next(iter(sub_out.values()), []))
        if out:
            yield f"{pdir}/{sid}.jsonl", out
            done += sum(len(x) + 1 for x in out)
        for name, v in sub_out.items():
            yield f"{pdir}/{sid}/subagents/{name}", v
            done += sum(len(x) + 1 for x in v)
        n += 1


def write_history(out: Path, plan: Plan, fixtures: Path = FIXTURES) -> dict[str, int | float]:
    """Write the generated history under ``out/claude/projects``; return counts."""
    root = out / "claude" / "projects"
    files = sessions = records = size = 0
    for rel, lines in generate_sessions(load_sources(fixtures), plan):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")
        files += 1
        sessions += "/subagents/" not in rel
        records += len(lines)
        size += path.stat().st_size
    return {"files": files, "main_sessions": sessions, "records": records, "bytes": size,
            "project_dirs": len([p for p in root.iterdir() if p.is_dir()])}


def check_history(root: Path) -> dict[str, int]:
    """Every line is JSON; uuids are unique across files (a sanity check of a generated history)."""
    seen: set[str] = set()
    dup = bad = 0
    for f in root.rglob("*.jsonl"):
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            u = rec.get("uuid")
            if isinstance(u, str):
                dup += u in seen
                seen.add(u)
    return {"uuids": len(seen), "duplicate_uuids": dup, "invalid_lines": bad}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (created)")
    ap.add_argument("--mb", type=float, help="size of the Claude Code history to write, in MB")
    ap.add_argument("--months", type=int, default=12, help="months the sessions spread over")
    ap.add_argument("--projects", type=int, default=6, help=f"number of projects (at most {len(PROJECTS)})")
    ap.add_argument("--messages", type=int, help="number of SMS/chat messages to write")
    ap.add_argument("--seed", type=int, default=1, help="random generator state (same value, same output)")
    ap.add_argument("--fixtures", type=Path, default=FIXTURES, help="the real sessions to derive from")
    args = ap.parse_args(argv)
    if not args.mb and not args.messages:
        raise BenchError("nothing to generate: give --mb and/or --messages")
    report: dict[str, object] = {}
    if args.mb:
        report["history"] = write_history(args.out, Plan(args.mb, args.months, args.projects, args.seed),
                                          args.fixtures)
    if args.messages:
        report["sms"] = write_sms_export(args.out / "sms", args.messages, args.months, args.seed)
    print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
