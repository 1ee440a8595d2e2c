"""French lexical analysis: elision, folding before stemming, stop words, code tokens, FTS5-safe terms."""

from __future__ import annotations

import re
import sqlite3

import pytest

from pisteur.retrieve.analysis import STOP_WORDS, analyze, analyze_heads, analyze_query, surface_tokens

FTS_SAFE = re.compile(r"^[\w_\-./:#@]+$")


def test_folding_before_stemming_unites_accented_and_unaccented_plurals():
    assert analyze("universités") == analyze("université") == analyze("Universites") == analyze("UNIVERSITÉ")
    # stemming first would give "universit" vs "univers": make sure we do not regress to that
    assert analyze("université")[0] == "universit"


def test_feminine_participles_share_the_masculine_stem():
    assert analyze("désolée") == analyze("désolé") == analyze("desoles")
    assert analyze("fatiguée") == analyze("fatigué")


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u02bc"])
def test_elision_with_every_apostrophe(apostrophe):
    text = f"l{apostrophe}élève qu{apostrophe}il d{apostrophe}abord j{apostrophe}arrive jusqu{apostrophe}ici"
    terms = analyze(text)
    assert terms == analyze("élève il abord arrive ici")
    assert not any(t in {"l", "qu", "d", "j", "jusqu"} or "'" in t for t in terms)


def test_elision_variants_match_plain_word():
    for form in ["l'accord", "d'accord", "L’accord", "lorsqu'accord", "puisqu'accord", "quoiqu'accord"]:
        assert analyze(form) == analyze("accord"), form


def test_inner_apostrophe_joins_words():
    assert analyze("aujourd'hui") == analyze("aujourd’hui") == analyze("aujourdhui")


def test_stop_words_are_dropped_from_documents_but_kept_for_stop_only_queries():
    assert analyze("le chat et la souris sont dans le jardin") == analyze("chat souris jardin")
    assert {"le", "la", "et", "dans", "sont"} <= STOP_WORDS
    assert analyze("pas") == []
    assert analyze_query("pas") == ["pas"]
    assert analyze_query("qui est là") != []


def test_lowercase_and_ligatures():
    assert analyze("CŒUR") == analyze("coeur")
    assert analyze("Œuvre") == analyze("oeuvres")


def test_snake_and_camel_case_yield_whole_and_parts():
    snake = analyze("parse_session_file")
    assert snake[0] == "parse_session_file"
    assert set(analyze("parse session file")) <= set(snake)
    camel = analyze("getUserName")
    assert camel[0] == "getusername"
    assert set(analyze("user")) <= set(camel) and set(analyze("get")) <= set(camel)
    assert set(analyze("HTTPServer")) >= {"httpserver", "http"}


def test_paths_yield_path_file_and_parts():
    terms = analyze("voir src/pisteur/store/base.py ligne 3")
    assert "src/pisteur/store/base.py" in terms
    assert "base.py" in terms
    assert "py" in terms and "pisteur" in terms
    # a query for the file name alone finds the path's chunk
    assert set(analyze_query("base.py")) <= set(terms)


def test_error_codes_and_versions_stay_whole():
    terms = analyze("ruff E501, erreur HTTP404 avec Python 3.11 et v1.2.3")
    for t in ["e501", "http404", "404", "3.11", "v1.2.3"]:
        assert t in terms, t
    assert "e501" in analyze_query("E501")


def test_quoted_error_message_is_findable_by_its_words():
    doc = analyze("Traceback: ModuleNotFoundError: No module named 'foo_bar'")
    q = analyze_query('"No module named foo_bar"')
    assert set(q) <= set(doc)
    assert "modulenotfounderror" in doc and "foo_bar" in doc


def test_english_plurals_stem_like_their_singular():
    for one, many in [("commit", "commits"), ("server", "servers"), ("container", "containers"), ("test", "tests")]:
        assert analyze(one) == analyze(many), one


def test_english_code_words_are_not_destroyed():
    terms = analyze("running tests failed with errors in function")
    assert "running" in terms and "error" in terms and "test" in terms


def test_repeated_letters_are_collapsed():
    assert analyze("biiiisouuus") == analyze("bisous")
    assert analyze("mdrrrr") == analyze("mdr")


def test_terms_are_safe_for_the_fts5_tokenizer():
    text = (
        "L'élève a écrit «\u00a0foo/bar.py\u00a0» — E501 @alice #12 https://ex.com/a?b=c "
        "O'Neil naïve 東京 snake_case \"quoted\" 3,14 €5 a.b-c_d:e#f@g"
    )
    terms = analyze(text)
    assert terms and all(FTS_SAFE.match(t) for t in terms), terms
    con = sqlite3.connect(":memory:")
    tokenizer = "unicode61 remove_diacritics 0 tokenchars '_-./:#@'"
    con.execute(f'CREATE VIRTUAL TABLE f USING fts5(terms, tokenize="{tokenizer}")')
    con.execute("INSERT INTO f (terms) VALUES (?)", (" ".join(terms),))
    for t in set(terms):
        (n,) = con.execute("SELECT count(*) FROM f WHERE f MATCH ?", (f'"{t}"',)).fetchone()
        assert n == 1, t
    # the tokenizer splits the stored column into exactly our terms
    con.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
    stored = [r[0] for r in con.execute("SELECT term FROM v ORDER BY offset")]
    assert stored == terms


def test_query_terms_are_distinct_and_in_order():
    assert analyze_query("chat chat chien") == ["chat", "chien"]


def test_heads_give_one_term_per_token():
    assert analyze_heads("src/a_b.py rendez-vous chats") == ["src/a_b.py", "rendez-vous", "chat"]


def test_surface_tokens_split_elision_and_hyphens_without_stemming():
    assert surface_tokens("T’inquiète pas, rendez-vous aujourd'hui") == [
        "t", "inquiete", "pas", "rendez", "vous", "aujourdhui",
    ]


def test_french_phone_numbers_find_each_other():
    for written in ["06 12 34 56 78", "06.12.34.56.78", "+33 6 12 34 56 78", "06-12-34-56-78", "0612345678"]:
        assert "0612345678" in analyze(f"appelle le {written} demain"), written
    assert set(analyze_query("0612345678")) <= set(analyze("tél : +33 6 12 34 56 78"))
