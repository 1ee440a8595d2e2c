"""Query makers: each turns a chunk into a plausible query, or declines."""

from __future__ import annotations

import random

from pisteur.tune import generate as gen

TEXT = ("Le boulanger prépare le levain avant l'aube. Il pétrit la farine pendant vingt minutes, puis façonne "
        "les baguettes une à une. Le four à bois chauffe depuis minuit.")


def test_cloze_is_a_shortened_sentence_of_the_passage():
    idf = gen.Idf([TEXT, "le four chauffe", "la farine et le pain", "une autre phrase sans rapport"])
    q = gen.cloze(TEXT, random.Random(0), idf)
    assert q is not None
    words = q.split()
    assert 3 <= len(words) <= 14
    assert all(w in TEXT for w in words)
    assert gen.cloze("Trop court.", random.Random(0), idf) is None


def test_keywords_prefers_rare_words():
    idf = gen.Idf([TEXT] + ["le boulanger et le four"] * 20)
    q = gen.keywords(TEXT, random.Random(0), idf)
    assert q is not None and 2 <= len(q.split()) <= 4
    assert "boulanger" not in q.split() and "four" not in q.split()  # common across the corpus


def test_title_question_by_language():
    rng = random.Random(0)
    fr = gen.title_question("Garde à vue\nLa garde à vue est une mesure de contrainte.", "", rng)
    assert fr is not None and "Garde à vue" in fr and fr.endswith("?")
    en = gen.title_question("body text of the page is in english and it is long", "Database migrations", rng)
    assert en is not None and "Database migrations" in en and "Qu" not in en and "Que" not in en
    assert gen.title_question("Une phrase ordinaire, sans titre.", "", rng) is None
    html = gen.title_question("Texte du film.", "<i>Le Roi lion</i>", rng)
    assert html is not None and "Le Roi lion" in html and "<" not in html


def test_sms_variant_uses_the_dictionary_backwards():
    q = gen.sms_variant("Bonjour, on a rendez-vous demain ?", random.Random(0))
    assert q is not None and "rdv" in q and "bjr" in q and "?" not in q
    assert gen.sms_variant("Architecture du serveur", random.Random(0)) is None


def test_standard_variant_writes_sms_forms_out():
    q = gen.standard_variant("tkt on se voit au rdv")
    assert q is not None and "rendez-vous" in q and "inquiète" in q
    assert gen.standard_variant("le serveur de production") is None


def test_language():
    assert gen.language("Where is the database and what is the schema") == "en"
    assert gen.language("Où est la base et quel est le schéma") == "fr"
