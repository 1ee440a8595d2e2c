"""The case-file "rdv" query with the real packaged model: the SMS "rdv 18h devant la gare" must come in the
top 3 for "rendez-vous avec le suspect" over case documents that merely contain "rendez-vous", SMS and a few
developer-session chunks (fixture texts in tests/fixtures/case_rdv, fictional)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.indexer import wanted_manifest
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store
from pisteur.store.base import SourceState
from pisteur.types import KIND_DOCUMENT, KIND_EXCHANGE, KIND_MESSAGE, Segment

CASE = Path(__file__).parent.parent / "fixtures" / "case_rdv"
SESSIONS = [
    "Assistant: the rendez-vous scheduler config is in settings.py, I fixed the cron expression",
    "User: peux-tu relancer les tests du module agenda ? Assistant: [Bash] pytest tests/agenda -q",
]
WANTED = "rdv 18h devant la gare"


def _sources() -> list[tuple[str, str, list[str]]]:
    docs = [*sorted(CASE.glob("*.txt")), CASE / "note_agenda.md"]
    out = [(p.name, KIND_DOCUMENT, [p.read_text("utf-8")]) for p in docs]
    with (CASE / "sms_kevin.csv").open(encoding="utf-8") as f:
        out.append(("sms_kevin.csv", KIND_MESSAGE, [r["Message"] for r in csv.DictReader(f, delimiter=";")]))
    out.append(("sms_other.csv", KIND_MESSAGE, ["oui rdv 14h, jte raconterai", "ok tkt jsuis la"]))
    out.append(("session.jsonl", KIND_EXCHANGE, SESSIONS))
    return out


@pytest.mark.slow
def test_rdv_sms_in_the_top_3_for_rendez_vous_avec_le_suspect(tmp_path, e5):
    store = open_store(tmp_path / "idx", readonly=False)
    with store.writer() as w:
        w.set_manifest(wanted_manifest(e5, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
        store._vec = None
        store.refresh()
        for name, kind, texts in _sources():
            segs = [Segment(text=t, kind=kind, meta={}) for t in texts]
            chunks = chunk_segments(segs, ChunkerConfig(), e5.count_tokens)
            w.upsert_source(SourceState(path=f"/case/{name}", size=1, mtime_ns=1, fingerprint="f", reader="t"),
                            chunks, e5.embed_documents([c.text for c in chunks]))
    store.close()
    ro = open_store(tmp_path / "idx")
    try:
        top = [h.text for h in search(ro, e5, "rendez-vous avec le suspect", k=3).hits]
        assert WANTED in top, top
    finally:
        ro.close()
