"""The search pipeline on a small real index (LocalStore + FTS5 + flat vectors) built in tmp with the
test-only HashEmbedder: plumbing of modes, fusion, expansion, rerank, filters and explain."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import HashEmbedder

from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.indexer import wanted_manifest
from pisteur.retrieve.options import DEFAULT_OPTIONS
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store
from pisteur.store.base import Filters, SourceState
from pisteur.types import KIND_DOCUMENT, KIND_MESSAGE, Segment

DOCS = [
    ("notes.txt", KIND_DOCUMENT, "Le procès-verbal de garde à vue a été signé par l'officier de police judiciaire."),
    ("notes.txt", KIND_DOCUMENT, "La réunion budgétaire est reportée à la semaine prochaine."),
    ("cuisine.md", KIND_DOCUMENT, "Recette : mélanger la farine, les œufs et le lait pour la pâte à crêpes."),
    ("sms.csv", KIND_MESSAGE, "rdv demain 15h devant la gare tkt"),
    ("sms.csv", KIND_MESSAGE, "je suis en retard, désolé"),
    ("code.py", KIND_DOCUMENT, "def parse_config(path): raise ValueError('missing key') in config.toml"),
]


@pytest.fixture()
def index(tmp_path):
    emb = HashEmbedder(dims=64)
    store = open_store(tmp_path / "idx", readonly=False)
    by_source: dict[str, list[Segment]] = {}
    for src, kind, text in DOCS:
        by_source.setdefault(src, []).append(Segment(text=text, kind=kind, meta={"project": src}))
    with store.writer() as w:
        w.set_manifest(wanted_manifest(emb, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
        for src, segs in by_source.items():
            chunks = chunk_segments(segs, ChunkerConfig(), emb.count_tokens)
            w.upsert_source(SourceState(path=f"/data/{src}", size=1, mtime_ns=1, fingerprint="f", reader="text"),
                            chunks, emb.embed_documents([c.text for c in chunks]))
    store.close()
    ro = open_store(tmp_path / "idx")
    yield ro, emb
    ro.close()


def _scores_decrease(res):
    s = [h.score for h in res.hits]
    return all(a >= b for a, b in zip(s, s[1:], strict=False))


def test_modes_and_explain(index):
    store, emb = index
    dense = search(store, emb, "garde à vue officier", k=3, mode="dense", rerank="none")
    assert dense.hits and all(set(h.explain) <= {"dense", "fused", "fused_rank"} for h in dense.hits)
    lex = search(store, emb, "garde à vue officier", k=3, mode="lexical", rerank="none", expand=False)
    assert lex.hits[0].text.startswith("Le procès-verbal")
    assert all("lexical" in h.explain and "dense" not in h.explain for h in lex.hits)
    hyb = search(store, emb, "garde à vue officier", k=3)
    assert hyb.hits[0].text.startswith("Le procès-verbal")
    top = hyb.hits[0].explain
    assert {"dense", "lexical", "fused", "rerank"} <= set(top) and top["rerank"]["by"] == "offline"
    assert _scores_decrease(hyb) and _scores_decrease(dense) and _scores_decrease(lex)
    assert {"embed", "dense", "lexical", "fuse", "rerank", "total"} <= set(hyb.timings)
    assert hyb.options["mode"] == "hybrid" and hyb.options["rerank"] == "offline"


def test_expansion_finds_the_abbreviated_form(index):
    store, emb = index
    with_exp = search(store, emb, "rendez-vous demain", k=3, mode="lexical")
    assert with_exp.expansions and any(a["from"] for a in with_exp.expansions)
    assert with_exp.hits[0].text.startswith("rdv demain")
    assert "expansion" in with_exp.hits[0].explain
    assert any("rdv" in m for m in with_exp.hits[0].explain.get("expansions", []))
    # "rendez-vous" alone, without the dictionaries, cannot reach "rdv"
    no_exp = search(store, emb, "rendez-vous", k=3, mode="lexical", expand=False)
    assert not any(h.text.startswith("rdv") for h in no_exp.hits)
    assert no_exp.expansions == []


def test_rerank_off_rrf_weights_and_k(index):
    store, emb = index
    res = search(store, emb, "parse_config ValueError", k=2, fusion="rrf", rerank="none")
    assert len(res.hits) <= 2 and res.hits[0].text.startswith("def parse_config")
    assert "rerank" not in res.hits[0].explain and "rerank" not in res.timings
    only_lex = search(store, emb, "parse_config", k=5, weights={"dense": 0.0}, rerank="none")
    assert all("lexical" in h.explain for h in only_lex.hits)
    deep = search(store, emb, "la", k=5, rerank_depth=2)
    assert len(deep.hits) <= 5 and _scores_decrease(deep)


def test_filters_apply_to_every_list(index):
    store, emb = index
    res = search(store, emb, "demain retard gare", k=10, filters=Filters(kinds=[KIND_MESSAGE]))
    assert res.hits and {h.kind for h in res.hits} == {KIND_MESSAGE}


def test_a_given_query_vector_is_not_embedded_again(index):
    store, emb = index

    class Counting:
        name, dims, max_tokens, calls = emb.name, emb.dims, emb.max_tokens, 0

        def embed_queries(self, texts):
            Counting.calls += 1
            return emb.embed_queries(texts)

    qv = emb.embed_queries(["garde à vue"])[0]
    res = search(store, Counting(), "garde à vue", k=3, query_vector=qv)
    assert Counting.calls == 0 and res.hits
    assert [h.id for h in res.hits] == [h.id for h in search(store, emb, "garde à vue", k=3).hits]
    assert "query_vector" not in res.options


def test_bad_options(index):
    store, emb = index
    with pytest.raises(ValueError, match="unknown search option"):
        search(store, emb, "x", colour="red")
    with pytest.raises(ValueError, match="option mode"):
        search(store, emb, "x", mode="sparse")
    assert DEFAULT_OPTIONS.mode == "hybrid" and DEFAULT_OPTIONS.rerank == "offline"
    with pytest.raises(ValueError, match="option rerank"):
        search(store, emb, "x", rerank=False)


def test_empty_query_and_dense_vectors_match_the_store(index):
    store, emb = index
    assert search(store, emb, "", k=3, mode="lexical").hits == []
    hit = search(store, emb, "crêpes farine", k=1, mode="dense", rerank="none").hits[0]
    v = store.vectors([hit.id])[0]
    q = emb.embed_queries(["crêpes farine"])[0]
    assert hit.explain["dense"]["score"] == pytest.approx(float(np.dot(v, q)), abs=1e-5)


def test_fill_and_expansion_placement(index):
    store, emb = index
    res = search(store, emb, "rendez-vous demain", k=3, expand_lexical="merge", rerank="none")
    assert "expansion" not in {n for h in res.hits for n in h.explain}
    assert res.hits[0].text.startswith("rdv demain")  # the merged BM25 list finds "rdv"
    both = search(store, emb, "rendez-vous demain", k=3, expand_lexical="both", fill="all")
    assert both.hits[0].text.startswith("rdv demain") and "expansion" in both.hits[0].explain
    nofill = search(store, emb, "rendez-vous demain", k=6, fill="none", rerank="none")
    fill = search(store, emb, "rendez-vous demain", k=6, fill="all", rerank="none")
    assert {h.id for h in fill.hits} == {h.id for h in nofill.hits}  # same candidates, other scores
    assert [h.explain["fused"] for h in fill.hits] != [h.explain["fused"] for h in nofill.hits]
    with pytest.raises(ValueError, match="expand_lexical"):
        search(store, emb, "x", expand_lexical="sideways")


REAL_DOCS = [
    "Le suspect a été placé en garde à vue au commissariat central jeudi soir.",
    "La recette de la tarte aux pommes demande une pâte brisée et du beurre.",
    "Le train pour Marseille a été annulé à cause d'une grève des contrôleurs.",
    "rdv demain 15h devant la gare, tkt je serai à l'heure",
    "La fonction parse_config lève ValueError quand la clé 'port' manque dans config.toml.",
    "Les élèves de l'université passent leurs examens en juin.",
]


@pytest.mark.slow  # more than ~5 s on a 2-core machine
def test_default_pipeline_with_the_real_packaged_model(tmp_path, e5):
    """The real e5 model (6 short texts): the default pipeline and its offline rerank on stored vectors."""
    store = open_store(tmp_path / "real", readonly=False)
    with store.writer() as w:
        w.set_manifest(wanted_manifest(e5, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
        for i, text in enumerate(REAL_DOCS):
            ch = chunk_segments([Segment(text=text, kind=KIND_DOCUMENT, meta={})], ChunkerConfig(), e5.count_tokens)
            w.upsert_source(SourceState(path=f"/d/{i}", size=1, mtime_ns=1, fingerprint="f", reader="text"),
                            ch, e5.embed_documents([c.text for c in ch]))
    store.close()
    ro = open_store(tmp_path / "real")
    cases = {
        "arrestation et détention policière": 0,
        "dessert aux fruits": 1,
        "rendez-vous à la gare": 3,
        "erreur de configuration parse_config": 4,
        "universités": 5,
    }
    for query, want in cases.items():
        res = search(ro, e5, query, k=3)
        assert res.hits[0].text == REAL_DOCS[want], (query, [h.text for h in res.hits])
        assert res.hits[0].explain["rerank"]["by"] == "offline"
    ro.close()


@pytest.mark.parametrize("opts", [{}, {"rerank": "none"}, {"mode": "dense"}, {"fusion": "rrf"}, {"expand": False}])
def test_overlapped_embedding_gives_the_same_hits_as_sequential(index, opts):
    store, emb = index
    for q in ("rendez-vous demain à la gare", "garde à vue", "désolé du retard", "parse_config ValueError"):
        seq = search(store, emb, q, k=6, overlap=False, **opts)
        ovl = search(store, emb, q, k=6, overlap=True, **opts)
        assert [(h.id, h.score, h.explain) for h in ovl.hits] == [(h.id, h.score, h.explain) for h in seq.hits]
        assert seq.hits


def test_overlap_waits_for_a_slow_embedder_and_propagates_its_errors(index):
    import threading
    import time as _time

    store, emb = index
    caller = threading.get_ident()

    class Slow:
        def __init__(self, fail: bool = False) -> None:
            self.fail, self.calls = fail, 0

        def embed_queries(self, texts):
            assert threading.get_ident() == caller  # thread-bound embedders (SQLite caches) keep working
            self.calls += 1
            _time.sleep(0.05)
            if self.fail:
                raise RuntimeError("model crashed")
            return emb.embed_queries(texts)

    slow = Slow()
    res = search(store, slow, "rdv gare", k=3, rerank="none")
    assert slow.calls == 1 and res.hits == search(store, emb, "rdv gare", k=3, rerank="none", overlap=False).hits
    assert res.timings["embed"] > 0
    with pytest.raises(RuntimeError, match="model crashed"):
        search(store, Slow(fail=True), "rdv gare", k=3)


def test_lean_scales_the_dense_weight_for_dictionary_queries(index):
    from pisteur.retrieve.expand import expand_query
    from pisteur.retrieve.pipeline import dense_scale

    store, emb = index
    full = expand_query("rendez-vous")
    assert full.dictionary_share() == 1.0
    assert dense_scale(full, 0.75, 0.5) == pytest.approx(0.25)
    none = expand_query("réunion budgétaire reportée")
    assert none.dictionary_share() == 0.0 and dense_scale(none, 0.75, 0.5) == 1.0
    half = expand_query("rdv réunion budgétaire reportée")
    assert 0 < half.dictionary_share() < 0.5 and dense_scale(half, 0.75, 0.5) == 1.0
    assert dense_scale(full, 0.0, 0.5) == 1.0
    res = search(store, emb, "rendez-vous", k=3)
    assert res.options["dense_scale"] == pytest.approx(0.25)
    assert search(store, emb, "rendez-vous", k=3, lean=0).options["dense_scale"] == 1.0
    assert search(store, emb, "rendez-vous", k=3, mode="lexical").options["dense_scale"] == 1.0
    # with the dense list weighted down, the abbreviated SMS leads (it shares no word with the query)
    assert res.hits[0].text.startswith("rdv demain")
