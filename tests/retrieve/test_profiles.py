"""Source profiles: developer queries over sessions get only developer expansions; police acronyms and SMS
forms still expand on case files and messages (both directions, through the pipeline)."""

from __future__ import annotations

import pytest
from helpers import HashEmbedder

from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.indexer import wanted_manifest
from pisteur.retrieve.expand import expand_query
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store
from pisteur.store.base import Filters, SourceState
from pisteur.types import KIND_DOCUMENT, KIND_EXCHANGE, KIND_MESSAGE, Segment

DOCS = [
    ("session.jsonl", KIND_EXCHANGE, "le procureur de la république et le crochet du portemanteau"),
    ("session.jsonl", KIND_EXCHANGE, "configure the pre-commit hook to run ruff"),
    ("pv.txt", KIND_DOCUMENT, "avis au procureur de la république, placement en garde à vue"),
    ("sms.csv", KIND_MESSAGE, "rdv 18h devant la gare"),
    ("sms.csv", KIND_MESSAGE, "t'es en gav ??"),
]


@pytest.fixture()
def index(tmp_path):
    emb = HashEmbedder(dims=64)
    store = open_store(tmp_path / "idx", readonly=False)
    with store.writer() as w:
        w.set_manifest(wanted_manifest(emb, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
        store._vec = None
        store.refresh()
        for i, (src, kind, text) in enumerate(DOCS):
            chunks = chunk_segments([Segment(text=text, kind=kind, meta={})], ChunkerConfig(), emb.count_tokens)
            w.upsert_source(SourceState(path=f"/d/{i}-{src}", size=1, mtime_ns=1, fingerprint="f", reader="t"),
                            chunks, emb.embed_documents([c.text for c in chunks]))
    store.close()
    ro = open_store(tmp_path / "idx")
    yield ro, emb
    ro.close()


def _dicts(exp):
    return {(a.source.lower(), t, a.dictionary) for a in exp.applied for t in a.to}


def test_developer_queries_get_no_police_or_sms_forms_on_sessions():
    sessions = expand_query("pre-commit hook", profile="sessions")
    assert not any(t in ("procureur de la république", "pour", "crochet") for _, t, _ in _dicts(sessions))
    pr = expand_query("la PR est mergée", profile="sessions")
    assert {d for _, _, d in _dicts(pr)} == {"dev"}
    assert not expand_query("hook", profile="sessions").applied  # "crochet" → "hook" is one way


def test_case_file_forms_still_expand_on_documents_and_messages():
    for profile in ("documents", "messages"):
        assert ("gav", "garde à vue", "acronyms") in _dicts(expand_query("GAV", profile=profile))
        assert ("rendez-vous", "rdv", "sms") in _dicts(expand_query("rendez-vous", profile=profile))
    assert not expand_query("GAV", profile="sessions").applied


def test_pipeline_expands_each_source_with_its_profile(index):
    store, emb = index
    res = search(store, emb, "PR", k=10, rerank="none")
    by_text = {h.text: h for h in res.hits}
    session = by_text["le procureur de la république et le crochet du portemanteau"]
    pv = by_text["avis au procureur de la république, placement en garde à vue"]
    assert "expansion" in pv.explain and "expansion" not in session.explain
    assert {p.profile for p in res.expansion.parts} == {"sessions", "documents", "messages"}
    # without profiles every dictionary applies to every source
    flat = {h.text: h for h in search(store, emb, "PR", k=10, rerank="none", profiles=False).hits}
    assert "expansion" in flat["le procureur de la république et le crochet du portemanteau"].explain


def test_gav_and_rdv_find_messages_and_filters_narrow_the_profiles(index):
    store, emb = index
    gav = search(store, emb, "garde à vue", k=3, mode="lexical")
    assert "t'es en gav ??" in [h.text for h in gav.hits]
    rdv = search(store, emb, "rendez-vous", k=1, mode="lexical", filters=Filters(kinds=[KIND_MESSAGE]))
    assert rdv.hits[0].text == "rdv 18h devant la gare"
    assert [p.profile for p in rdv.expansion.parts] == ["messages"]
