"""Query expansion: both directions, multi-word keys, concepts, user dictionaries, explain output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pisteur.retrieve.analysis import analyze
from pisteur.retrieve.expand import DictionaryError, default_dictionaries, expand_query, load_dictionaries


@pytest.fixture(scope="module")
def shipped():
    return load_dictionaries(user=False)


def added(exp) -> set[str]:
    return {t for t, _, o in exp.terms if o != "query"}


def test_abbreviation_finds_full_form_and_back(shipped):
    assert "rendez-vous" in added(expand_query("rdv", shipped))
    assert "rdv" in added(expand_query("rendez-vous", shipped))
    assert "rdv" in added(expand_query("Rendez vous", shipped))
    assert "tkt" in added(expand_query("t'inquiète", shipped))
    assert set(analyze("inquiète")) <= added(expand_query("tkt", shipped))
    assert "stp" in added(expand_query("s'il te plaît", shipped))
    assert "dsl" in added(expand_query("désolée", shipped))  # stem-level key match


def test_multi_word_keys_match_on_analysed_form(shipped):
    for q in ["t’inquiète pas", "T'INQUIETE", "tinquiete"]:
        exp = expand_query(q, shipped)
        assert "tkt" in added(exp), q
    exp = expand_query("je sais pas quoi faire", shipped)
    assert "jsp" in added(exp)
    assert any(a.source == "je sais pas" and "jsp" in a.to for a in exp.applied)


def test_original_terms_weigh_one_and_expansions_less(shipped):
    exp = expand_query("rdv demain", shipped)
    w = exp.term_weights()
    assert w["rdv"] == 1.0 and w["demain"] == 1.0
    assert 0 < w["rendez-vous"] < 1.0
    assert all(0 < weight <= 1.0 for _, weight, _ in exp.terms)
    assert exp.original == "rdv demain"


def test_acronyms_both_ways(shipped):
    exp = expand_query("placé en GAV", shipped)
    assert any("garde à vue" in a.to for a in exp.applied)
    assert {"gard", "vu"} <= added(exp)
    assert "gav" in added(expand_query("garde à vue", shipped))
    assert "opj" in added(expand_query("officier de police judiciaire", shipped))
    assert "pv" in added(expand_query("procès-verbal", shipped))
    assert any(p.text == "garde à vue" for p in expand_query("gav", shipped).phrases)


def test_concepts_expand_one_way(shipped):
    exp = expand_query("insulte", shipped)
    terms = added(exp)
    assert set(analyze("connard enculé connasse")) <= terms
    assert any(p.text == "nique la police" and p.terms == analyze("nique la police") for p in exp.phrases)
    assert {a.dictionary for a in exp.applied} >= {"concepts", "insults"}
    # not back: an insult does not pull in the concept word
    assert "insult" not in added(expand_query("connard", shipped))
    threats = expand_query("menace de mort", shipped)
    assert any(p.text == "je vais te tuer" for p in threats.phrases)
    assert any(a.source == "menace de mort" for a in threats.applied)
    assert set(analyze("couteau machette schlass")) <= added(expand_query("arme blanche", shipped))
    assert set(analyze("shit beuh barrette teuchi")) <= added(expand_query("stupéfiants", shipped))


def test_concept_and_multi_word_query_words_count_as_partial_evidence(shipped):
    # the user of "menace" wants threats, not messages about threats: the concept word itself weighs less
    assert expand_query("menace", shipped).term_weights()[analyze("menace")[0]] == 0.5
    w = expand_query("menace de mort contre le voisin", shipped).term_weights()
    assert w["menac"] == w["mort"] == 0.5 and w["voisin"] == 1.0
    # concept instances are not used as dense rewrites inside a longer query
    assert expand_query("nique la police", shipped).dense_queries() == ["nique la police"]
    assert "connard" in expand_query("insulte", shipped).dense_queries(max_queries=200)
    w = expand_query("mort de rire", shipped).term_weights()
    assert w["mort"] == 0.5 and w["mdr"] == 0.8
    # a word outside the matched form keeps its weight
    assert expand_query("mdr demain", shipped).term_weights()["demain"] == 1.0
    assert expand_query("rendez-vous", shipped).term_weights()["rendez-vous"] == 1.0


def test_stop_word_forms_do_not_pull_variants_in_longer_queries(shipped):
    assert not any(a.source == "pour" for a in expand_query("rdv pour demain", shipped).applied)
    assert "pr" in added(expand_query("pour", shipped))


def test_no_expansion_for_plain_query(shipped):
    exp = expand_query("architecture du stockage vectoriel", shipped)
    assert exp.applied == [] and exp.phrases == []
    assert [t for t, _, _ in exp.terms] == analyze("architecture stockage vectoriel")


def test_explain_json_roundtrips(shipped):
    exp = expand_query("tkt pour le PV", shipped)
    data = json.loads(json.dumps(exp.to_json(), ensure_ascii=False))
    assert data["original"] == "tkt pour le PV"
    froms = {a["from"]: a for a in data["applied"]}
    assert froms["tkt"]["dictionary"] == "sms" and "t'inquiète" in froms["tkt"]["to"]
    assert froms["PV"]["dictionary"] == "acronyms" and froms["PV"]["form"] in ("PV", "pv")
    assert {"term", "weight", "origin"} <= set(data["terms"][0])


def test_dense_helpers_rewrite_the_original_text(shipped):
    exp = expand_query("On a rdv demain ?", shipped)
    queries = exp.dense_queries(max_queries=3)
    assert queries[0] == "On a rdv demain ?"
    assert "On a rendez-vous demain ?" in queries
    assert len(queries) <= 3
    assert exp.dense_text().startswith("On a rdv demain ? (") and "rendez-vous" in exp.dense_text()
    assert expand_query("rien à voir", shipped).dense_text(max_added=0) == "rien à voir"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_user_dictionary_adds_and_merges(tmp_path):
    user = _write(
        tmp_path / "mine.toml",
        'name = "sms"\n[synonyms]\n"rendez-vous" = ["rencard"]\n"frigo" = ["réfrigérateur"]\n',
    )
    d = load_dictionaries([user], user=False)
    rdv = added(expand_query("rendez-vous", d))
    assert "rencard" in rdv and "rdv" in rdv  # merged with the shipped entry
    assert analyze("réfrigérateur")[0] in added(expand_query("frigo", d))
    assert "rendez-vous" in added(expand_query("rencard", d))


def test_expand_query_accepts_extra_dictionary_paths(tmp_path):
    user = _write(tmp_path / "extra.toml", '[abbreviations]\n"QPV" = ["quartier prioritaire"]\n')
    exp = expand_query("QPV", [user])
    assert any(a.dictionary == "extra" for a in exp.applied)
    assert "rdv" in added(expand_query("rendez-vous", [user]))  # shipped ones still there


def test_user_dictionary_replace_disable_and_weight(tmp_path):
    user = _write(
        tmp_path / "override.toml",
        'name = "sms"\nweight = 0.5\ndisable = ["désolé"]\n'
        '[synonyms]\n"rendez-vous" = { to = ["rencard"], replace = true }\n',
    )
    d = load_dictionaries([user], user=False)
    exp = expand_query("rendez-vous", d)
    assert "rencard" in added(exp) and "rdv" not in added(exp)
    assert exp.term_weights()["rencard"] == 0.5
    assert "dsl" not in added(expand_query("désolé", d))


def test_new_user_dictionary_with_concepts(tmp_path):
    _write(
        tmp_path / "dicts" / "cases.toml",
        'name = "affaire-42"\n[concepts]\n"véhicule suspect|voiture suspecte" = ["clio grise", "AB-123-CD"]\n',
    )
    d = load_dictionaries([tmp_path / "dicts"], user=False)
    exp = expand_query("voiture suspecte", d)
    assert any(a.dictionary == "affaire-42" for a in exp.applied)
    assert "ab-123-cd" in added(exp)
    assert any(p.text == "clio grise" for p in exp.phrases)


def test_default_user_location_is_read(tmp_path, monkeypatch):
    udir = tmp_path / "udicts"
    _write(udir / "x.toml", '[abbreviations]\n"ZZQ" = ["zone de quarantaine"]\n')
    monkeypatch.setenv("PISTEUR_DICTIONARIES", str(udir))
    exp = expand_query("ZZQ", default_dictionaries())
    assert any(a.dictionary == "x" and a.to == ("zone de quarantaine",) for a in exp.applied)
    # an edit is picked up without restarting (long-lived MCP/HTTP servers)
    _write(udir / "x.toml", '[abbreviations]\n"ZZQ" = ["zone de quiétude"]\n')
    os.utime(udir / "x.toml", ns=(10**18, 10**18))
    exp = expand_query("ZZQ")
    assert [a.to for a in exp.applied] == [("zone de quiétude",)]
    monkeypatch.setenv("PISTEUR_DICTIONARIES", str(tmp_path / "none"))
    assert expand_query("ZZQ", default_dictionaries()).applied == []


def test_shipped_dictionaries_parse_and_hold_the_classics(shipped):
    assert {"sms", "acronyms", "concepts", "insults", "dev"} <= set(shipped.names())
    assert set(analyze("database")) <= added(expand_query("base de données", shipped))
    assert set(analyze("pull request")) <= added(expand_query("la PR est mergée", shipped))
    for abbr, full in [("bcp", "beaucoup"), ("qqn", "quelqu'un"), ("pk", "pourquoi"), ("mdr", "mort de rire"),
                       ("slt", "salut"), ("jtm", "je t'aime"), ("tjrs", "toujours"), ("ajd", "aujourd'hui"),
                       ("dac", "d'accord"), ("vrmt", "vraiment"), ("koi", "quoi"), ("bjr", "bonjour")]:
        assert any(full in a.to for a in expand_query(abbr, shipped).applied), abbr


def test_broken_user_dictionary_names_the_file(tmp_path):
    bad = _write(tmp_path / "bad.toml", '[synonyms]\n"rdv" = ["rendez-vous"\n')
    with pytest.raises(DictionaryError, match="bad.toml"):
        load_dictionaries([bad], user=False)


def test_lexical_terms_keep_the_query_and_cap_expansions_by_weight(shipped):
    exp = expand_query("insulte rdv", shipped)
    assert len(exp.terms) > 40
    capped = exp.lexical_terms(max_terms=20)
    assert len(capped) == 20
    assert [t for t, _ in capped[:2]] == [t for t, _, o in exp.terms if o == "query"]
    weights = [w for _, w in capped[2:]]
    assert weights == sorted(weights, reverse=True) and "rdv" in dict(capped)
    assert len(exp.lexical_terms(None)) == len(exp.terms)


def test_dictionary_cache_is_json_shards_read_lazily_and_survives_a_bad_shard(tmp_path, monkeypatch):
    from pisteur.retrieve import dictcache, lexicon

    monkeypatch.setenv("PISTEUR_CACHE", str(tmp_path / "cache"))
    lexicon._default.cache_clear()
    built = default_dictionaries()  # builds and writes the cache
    folders = list((tmp_path / "cache" / "dictionaries").iterdir())
    assert len(folders) == 1 and (folders[0] / "meta.json").exists()
    assert not list((tmp_path / "cache").rglob("*.pickle"))
    lexicon._default.cache_clear()
    cached = default_dictionaries()
    assert isinstance(cached.index, dictcache.ShardedIndex) and cached.index._shards == {}
    a = expand_query("tkt pour le PV", cached)
    assert a.to_json() == expand_query("tkt pour le PV", built).to_json()
    assert 0 < len(cached.index._shards) <= 6  # only the shards of the query's words were read
    # a corrupt shard: that shard is rebuilt in memory, the answer is the same
    for f in folders[0].glob("shard-*.json"):
        f.write_text("{not json", "utf-8")
    lexicon._default.cache_clear()
    broken = default_dictionaries()
    assert expand_query("tkt pour le PV", broken).to_json() == a.to_json()
    lexicon._default.cache_clear()
