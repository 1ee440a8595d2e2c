"""Paths of the ingest test fixtures (imported by the tests as a plain module)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "tests" / "fixtures" / "claude"
PROJECTS = CLAUDE / "projects"
SPOTTER = PROJECTS / "-home-marco-projects-spotter"
SHORT = SPOTTER / "55604662-cf2a-4331-851a-ec234028f8ca.jsonl"
TOOL_HEAVY = SPOTTER / "d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl"
WT = PROJECTS / "-home-USER-projects-spotter-worktrees-spotter-4te"
COMPACTED = WT / "ae4a77f8-aedd-4bc1-888f-c94edc91af04.jsonl"
SUBAGENTS = WT / "ae4a77f8-aedd-4bc1-888f-c94edc91af04" / "subagents"
ORPHAN_COMPACT = (
    PROJECTS / "-home-USER-projects-spotter-worktrees-spotter-gqc" / "258c7280-ae70-4798-800f-63464d01a85d"
    / "subagents" / "agent-acompact-fffbd0.jsonl"
)  # fmt: skip
LEGACY = CLAUDE / "legacy"
SAMPLES = ROOT / "samples"
