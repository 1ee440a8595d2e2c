"""Synthetic sets from an index: filtered by a wide first stage, split by document, BEIR on disk."""

from __future__ import annotations

from helpers import HashEmbedder

from pisteur.evaluate.beir import load_dataset
from pisteur.store import open_store
from pisteur.tune.synth import MakeOptions, SynthQuery, make_set, read_beir, read_docs, retrieves, write_beir


def test_make_set_split_by_document_and_round_trip(tiny_index, tmp_path):
    store = open_store(tiny_index)
    s = make_set(store, HashEmbedder("tiny", dims=64), MakeOptions(max_queries=60, test_share=0.3, sms_share=0.5))
    store.close()
    assert 20 <= len(s.queries) <= 60 and s.made >= len(s.queries)
    train_docs = {q.doc_id for q in s.split("train")}
    test_docs = {q.doc_id for q in s.split("test")}
    assert train_docs and test_docs and not train_docs & test_docs  # held-out documents are unseen
    kinds = {q.kind for q in s.queries}
    assert {"cloze", "keywords"} <= kinds or {"title", "cloze"} <= kinds
    assert all(q.doc_id in s.corpus for q in s.queries)
    assert set(s.vectors) == {q.qid for q in s.queries}
    write_beir(s, tmp_path / "set")
    ds = load_dataset(tmp_path / "set")  # the product's BEIR reader takes it: qrels/test.tsv
    assert set(ds.judged_queries()) == {q.qid for q in s.split("test")}
    again = read_beir(tmp_path / "set")
    assert [(q.qid, q.doc_id, q.split, q.kind) for q in again.queries] == [
        (q.qid, q.doc_id, q.split, q.kind) for q in s.queries]


def test_filter_drops_a_query_that_cannot_find_its_source(tiny_index):
    store = open_store(tiny_index)
    _, owner = read_docs(store)
    emb = HashEmbedder("tiny", dims=64)
    good = SynthQuery("a", "crevaison rustine dérailleur", "vélo-0", 0, "keywords", "fr", "train")
    bad = SynthQuery("b", "zzzinconnu qqqabsent", "vélo-0", 0, "keywords", "fr", "train")
    assert retrieves(store, good, None, owner, 100)  # BM25 finds a vélo document among the top 100
    assert not retrieves(store, bad, emb.embed_queries([bad.text])[0], owner, 3)
    store.close()
