"""SearchOptions: typed, validated, merged; every option documented in docs/retrieval.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from pisteur.retrieve.options import DEFAULT_OPTIONS, SearchOptions, Weights, option_help, options_table

DOC = Path(__file__).parent.parent.parent / "docs" / "retrieval.md"


def test_every_option_is_documented_in_retrieval_md():
    text = DOC.read_text("utf-8")
    assert options_table() in text, "docs/retrieval.md: paste pisteur.retrieve.options.options_table()"
    for name, help_text in option_help().items():
        assert help_text.strip() and f"`{name}`" in text


def test_merged_applies_overrides_and_keeps_the_rest():
    o = DEFAULT_OPTIONS.merged({"mode": "lexical", "weights": {"dense": 0.5}, "fusion": None})
    assert o.mode == "lexical" and o.fusion == "weighted"
    assert o.weights == Weights(dense=0.5) and DEFAULT_OPTIONS.weights.dense == 1.0  # frozen: no aliasing
    assert DEFAULT_OPTIONS.merged({}) is DEFAULT_OPTIONS
    assert DEFAULT_OPTIONS.merged({"dictionaries": "a.toml"}).dictionaries == ("a.toml",)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"colour": "red"}, "unknown search option"),
        ({"mode": "sparse"}, "option mode"),
        ({"rerank": False}, "option rerank"),
        ({"rerank": ""}, "option rerank"),
        ({"candidates": 0}, "option candidates"),
        ({"rerank_depth": 2.5}, "option rerank_depth"),
        ({"lean": 2}, "option lean"),
        ({"expand": "yes"}, "option expand"),
        ({"weights": {"sparse": 1}}, "unknown list"),
        ({"weights": {"dense": "x"}}, "numbers expected"),
        ({"weights": 3}, "option weights"),
    ],
)
def test_bad_values_name_the_option(overrides, message):
    with pytest.raises(ValueError, match=message):
        DEFAULT_OPTIONS.merged(overrides)


def test_derived_flags():
    assert SearchOptions(mode="dense").wants_expansion is False
    assert SearchOptions(mode="dense", expand_dense=True).wants_expansion is True
    assert SearchOptions(rerank="none").reranks is False and DEFAULT_OPTIONS.reranks
    assert SearchOptions(weights={"lexical": 2}).weights == Weights(lexical=2.0)  # type: ignore[arg-type]


def test_bench_presets_are_typed_options_and_bad_overrides_are_refused():
    from pisteur.evaluate.runner import PRESETS, parse_config

    for name in PRESETS:
        assert isinstance(parse_config(name).search_options, SearchOptions)
    assert parse_config("default,weights.dense=0.5,rerank=none").search_options.weights.dense == 0.5
    with pytest.raises(ValueError, match="configuration 'default,rerank=off': option rerank"):
        parse_config("default,rerank=off")


def test_explain_renders_ranks_not_raw_fused_scores():
    from pisteur.cli.render import explain_lines
    from pisteur.retrieve.explain import Explain, ListRank, RerankScore

    ex = Explain({"dense": ListRank(4, 0.8543), "lexical": ListRank(2, 6.8)}, fused=-336.29, fused_rank=3,
                 rerank=RerankScore("offline", 4.8, 1), expansions=("rendez-vous → rdv",)).to_json()
    assert ex["fused_rank"] == 3 and ex["rerank"] == {"by": "offline", "score": 4.8, "rank": 1}
    lines = explain_lines(ex)
    assert lines[0] == "first stage: dense #4 (0.854), bm25 #2 (6.8) → fused #3"
    assert lines[1] == "rerank (offline): #1 (score 4.8)" and "rendez-vous → rdv" in lines[2]
    assert not any("-336" in line or "{" in line for line in lines)
