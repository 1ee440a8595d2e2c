"""Rerankers, vector layers and engines go through the one generic registry: explicit names, a duplicate is
refused (no import order decides a winner), unknown names list the known ones."""

from __future__ import annotations

import pytest

from pisteur.registry import RegistryError


def test_flat_is_registered_once_by_the_layer_that_dispatches_precisions(tmp_path):
    from pisteur.store import vectors_flat, vectors_quant
    from pisteur.store.vectors import VECTOR_INDEXES, open_vector_index, register_vector_index

    assert "flat" in VECTOR_INDEXES and VECTOR_INDEXES.get("flat").__module__ == vectors_quant.__name__
    assert isinstance(open_vector_index(tmp_path, 4, 0, {"index": "flat"}), vectors_flat.FlatVectors)
    with pytest.raises(RegistryError, match="registered twice"):
        register_vector_index("flat")(lambda *a, **k: None)
    with pytest.raises(ValueError, match="unknown vector index 'nope'.*flat"):
        open_vector_index(tmp_path, 4, 0, {"index": "nope"})


def test_engines_and_rerankers_are_registries(tmp_path):
    from pisteur.retrieve.rerank import RerankError, get_reranker, register_reranker, reranker_names
    from pisteur.store import ENGINES, open_store

    assert ENGINES.names() == ["local", "milvus"]
    with pytest.raises(ValueError, match="unknown engine 'oracle' \\(local or milvus\\)"):
        open_store(tmp_path, engine="oracle")
    assert {"offline", "offline+use", "tei", "cross-encoder"} <= set(reranker_names())
    with pytest.raises(RegistryError, match="registered twice"):
        register_reranker("offline")(lambda arg, **o: None)
    with pytest.raises(RerankError, match="unknown reranker 'nope'"):
        get_reranker("nope")


def test_a_loaded_dictionary_set_can_replace_the_shipped_ones(tmp_path):
    from helpers import HashEmbedder

    from pisteur.chunk import ChunkerConfig, chunk_segments
    from pisteur.indexer import wanted_manifest
    from pisteur.retrieve.expand import Dictionaries, _Dict
    from pisteur.retrieve.pipeline import search
    from pisteur.store.base import SourceState
    from pisteur.types import KIND_MESSAGE, Segment

    emb = HashEmbedder(dims=32)
    from pisteur.store import open_store

    store = open_store(tmp_path / "idx", readonly=False)
    with store.writer() as w:
        w.set_manifest(wanted_manifest(emb, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
        store._vec = None
        store.refresh()
        ch = chunk_segments([Segment(text="zorglub demain", kind=KIND_MESSAGE, meta={})], ChunkerConfig(),
                            emb.count_tokens)
        w.upsert_source(SourceState(path="/m", size=1, mtime_ns=1, fingerprint="f", reader="t"), ch,
                        emb.embed_documents([c.text for c in ch]))
    store.close()
    ro = open_store(tmp_path / "idx")
    mine = _Dict(name="mine", weight={"synonyms": 0.8, "abbreviations": 0.8, "concepts": 0.6})
    mine.tables["synonyms"]["rencontre"] = ["zorglub"]
    got = search(ro, None, "rencontre", k=3, mode="lexical", dictionaries=Dictionaries([mine]))
    assert got.hits and got.expansions[0]["dictionary"] == "mine"
    assert not search(ro, None, "rencontre", k=3, mode="lexical").hits
    ro.close()
