"""Rule-made questions: a sentence in, questions out that open with a question word, keep the clause's
content words and lack the answer span."""

from __future__ import annotations

import random
from pathlib import Path

from helpers import HashEmbedder

from pisteur.evaluate.beir import Dataset
from pisteur.evaluate.index import build_index
from pisteur.store import open_store
from pisteur.tune.questions import Question, prose, question, questions
from pisteur.tune.synth import MakeOptions, make_set


def by_rule(sentence: str, rule: str, lang: str | None = None) -> list[Question]:
    return [q for q in questions(sentence, lang) if q.rule == rule]  # type: ignore[arg-type]


def test_a_full_date_asks_when_and_a_year_asks_which_year():
    qs = by_rule("Paul Cézanne naît à Aix-en-Provence le 19 janvier 1839.", "when")
    assert qs[0].text == "Quand Paul Cézanne naît à Aix-en-Provence ?"
    assert qs[0].answer == "le 19 janvier 1839"
    assert len(qs) == 1  # the year inside the date is not asked again
    year = by_rule("Le camp de Ravensbrück accueille ses premières détenues en 1939.", "when")
    assert [q.text for q in year] == ["En quelle année le camp de Ravensbrück accueille ses premières détenues ?"]
    century = by_rule("Les collectionneurs du XIXe siècle ont mis en péril plusieurs espèces de fougères.", "when")
    assert century and century[0].text.startswith("À quel siècle") and "XIXe" not in century[0].text


def test_a_number_before_a_noun_asks_how_many_without_the_number():
    qs = by_rule("Le secteur sportif emploie 100 000 salariés en France.", "how_many")
    assert qs[0].text == "Combien de salariés le secteur sportif emploie en France ?"
    assert "100" not in qs[0].text
    elided = by_rule("La ville compte 12 écoles primaires publiques.", "how_many")
    assert elided[0].text.startswith("Combien d'écoles")
    age = by_rule("Il remporte son premier prix à 24 ans au conservatoire de Paris.", "how_many")
    assert age[0].text.startswith("À quel âge") and "24" not in age[0].text
    assert not by_rule("Le traité est signé en 1648 par les princes allemands.", "how_many")  # a year, not a count


def test_a_place_asks_where_and_a_named_subject_asks_who():
    where = by_rule("Le général Bagration se réfugie à Smolensk après la bataille.", "where")
    assert where[0].text == "Où le général Bagration se réfugie après la bataille ?"
    who = by_rule("Gustav Mahler dirige souvent la Neuvième symphonie de Beethoven à la fin de sa vie.", "who")
    assert who[0].text.startswith("Qui dirige souvent la Neuvième symphonie")
    assert "Mahler" not in who[0].text
    agent = by_rule("Le roman Les Misérables est publié par Albert Lacroix à Bruxelles.", "who")
    assert agent and agent[0].text.startswith("Par qui") and "Lacroix" not in agent[0].text
    # a capitalised opener is not a person
    assert not by_rule("Cependant la récolte reste faible dans la région cette année.", "who")


def test_a_definition_asks_what_it_is():
    qs = by_rule("La photosynthèse est un processus biologique qui produit de la matière organique.", "what")
    assert [q.text for q in qs] == ["Qu'est-ce que la photosynthèse ?"]
    assert by_rule("Un mycélium est l'ensemble des filaments d'un champignon.", "what")[0].text == (
        "Qu'est-ce qu'un mycélium ?")
    assert not by_rule("Il est un peintre reconnu de son vivant malgré les critiques.", "what")  # a pronoun


def test_a_cause_asks_why_and_a_means_asks_how_keeping_only_the_clause_before():
    why = by_rule("Le roi des Francs devient roi de France parce que son domaine se limite au royaume.", "why")
    assert why[0].text == "Pourquoi le roi des Francs devient roi de France ?"
    purpose = by_rule("Magellan contourne l'Amérique par le sud pour atteindre les îles aux épices.", "why")
    assert purpose[0].text == "Pourquoi Magellan contourne l'Amérique par le sud ?"
    how = by_rule("Les utilisateurs modifient le format du papier en utilisant la variable PAPERSIZE.", "how")
    assert how[0].text == "Comment les utilisateurs modifient le format du papier ?"


def test_english_sentences_get_english_questions():
    s = "Albert Einstein was born in Ulm on March 14, 1879."
    texts = {q.rule: q.text for q in questions(s)}
    assert texts["when"] == "When Albert Einstein was born in Ulm?"
    assert texts["where"].startswith("Where Albert Einstein was born") and "Ulm" not in texts["where"]
    assert texts["who"].startswith("Who was born in Ulm") and "Einstein" not in texts["who"]
    hired = by_rule("The company hired 300 engineers in 2015 because demand grew quickly.", "how_many", "en")
    assert [q.text for q in hired] == ["How many engineers the company hired in 2015?"]
    assert by_rule("A mutex is a lock that protects shared data.", "what")[0].text == "What is a mutex?"
    why = by_rule("The company hired 300 engineers in 2015 because demand grew quickly.", "why", "en")
    assert why[0].text == "Why the company hired 300 engineers in 2015?"


def test_every_question_lacks_its_answer_and_stays_short():
    text = ("Jakob Böhme est né le 8 mars 1575 dans le hameau d'Alt-Seidenberg, à une lieue de Görlitz. "
            "Selon son biographe, il vit dès l'enfance des épisodes surnaturels dans une caverne du mont Landeskrone. "
            "En 1600, il s'installe à Görlitz où il achète une échoppe de cordonnier pour 300 thalers.")
    found = [q for s in text.split(". ") for q in questions(s)]
    assert {q.rule for q in found} >= {"when", "where", "who", "how_many"}
    for q in found:
        assert q.text.endswith(" ?") and 3 <= len(q.text.split()) <= 17
        assert q.answer not in q.text


def test_no_rule_no_question():
    assert questions("bonjour à tous") == []
    assert questions("le chat dort sur le canapé tout l'après-midi sans bouger") == []
    assert question("le chat dort sur le canapé tout l'après-midi sans bouger.", random.Random(0)) is None


def test_code_paths_and_log_lines_are_not_asked_about():
    assert not prose("Run `pytest -q` in src/pisteur/tune then check the 2026-02-11 log.")
    assert not prose("Finished in 0.04s: 153 insertions, 12 deletions, 3 files.")
    assert prose("Paul Cézanne naît à Aix-en-Provence le 19 janvier 1839.")
    assert question("Created 2026-02-11 in src/app.py with config_value = 3.", random.Random(0)) is None
    assert not by_rule("Everything is up to date in the repository since this morning.", "who", "en")


def test_one_question_per_passage_is_drawn_reproducibly():
    text = ("Paul Cézanne naît à Aix-en-Provence le 19 janvier 1839. Il étudie le droit à l'université d'Aix "
            "parce que son père le souhaite.")
    a, b = question(text, random.Random(3)), question(text, random.Random(3))
    assert a is not None and a == b
    drawn = {question(text, random.Random(i)) for i in range(30)}
    assert len(drawn) >= 3 and all(q and q.endswith("?") for q in drawn)


PASSAGES = {
    "cezanne": "Paul Cézanne naît à Aix-en-Provence le 19 janvier 1839. Il peint la montagne Sainte-Victoire.",
    "magellan": "Magellan contourne l'Amérique par le sud pour atteindre les îles aux épices en 1520.",
    "sport": "Le secteur sportif emploie 100 000 salariés en France pour quelque 20 000 employeurs.",
    "ravensbruck": "Le camp de Ravensbrück accueille ses premières détenues en 1939 au nord de Berlin.",
    "ecosse": "La flore de l'Écosse est un assemblage d'espèces de plantes vasculaires et de lichens.",
    "debian": "Les utilisateurs modifient le format du papier en utilisant la variable PAPERSIZE.",
}


def test_the_question_kind_makes_a_synthetic_set(tmp_path: Path):
    ds = Dataset("qs", Path("."), {k: {"title": "", "text": v} for k, v in PASSAGES.items()}, {}, {})
    built = build_index(ds, HashEmbedder("tiny", dims=64), root=tmp_path)
    store = open_store(built.path)
    s = make_set(store, HashEmbedder("tiny", dims=64), MakeOptions(kinds=("question",), max_queries=20))
    store.close()
    assert len(s.queries) >= 4 and {q.kind for q in s.queries} == {"question"}
    assert all(q.text.endswith("?") for q in s.queries)


def test_default_kinds_ask_a_question_first_when_a_rule_applies(tmp_path: Path):
    ds = Dataset("qs", Path("."), {k: {"title": k, "text": v} for k, v in PASSAGES.items()}, {}, {})
    built = build_index(ds, HashEmbedder("tiny", dims=64), root=tmp_path)
    store = open_store(built.path)
    s = make_set(store, HashEmbedder("tiny", dims=64), MakeOptions(max_queries=30, sms_share=0.0))
    store.close()
    assert "question" in MakeOptions().kinds
    first = {}
    for q in s.queries:  # the first query made from each chunk is its main one (sms/standard are variants)
        first.setdefault(q.chunk_id, q.kind)
    # every passage but the number-dense "sport" one (not prose enough to be asked about) gives a question
    assert len(first) == len(PASSAGES) and sum(k == "question" for k in first.values()) == len(PASSAGES) - 1
