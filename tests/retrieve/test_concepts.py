"""Concept queries: which queries fire the concept step, use vs mention both ways, ranking, no effect elsewhere."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from helpers import HashEmbedder, build_index

from pisteur.retrieve.concepts import fold, match, signals
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "concept-chat"


@pytest.mark.parametrize(
    ("query", "profile"),
    [
        ("message insultant", "insulte"),
        ("insultes", "insulte"),
        ("Injures", "insulte"),
        ("menace de mort", "menace"),
        ("messages menaçants", "menace"),
        ("propos racistes", "racisme"),
        ("propos homophobes", "homophobie"),
        ("propos haineux", "haine"),
        ("moquerie sur le poids", "moquerie sur le physique"),
        ("humiliation", "humiliation"),
    ],
)
def test_concept_queries_match_their_profile(query: str, profile: str) -> None:
    cq = match(query)
    assert cq is not None and cq.profile.name == profile
    assert cq.lexicon  # the entry's expansions are the lexicon


@pytest.mark.parametrize(
    "query",
    [
        "rendez-vous avec le suspect",
        "stupéfiants",  # a concept entry without an abuse profile: unchanged
        "il m'a insulté devant la classe",  # more words than the concept: an ordinary search
        "il m'a insulté",  # a report phrasing asks for reports
        "comment configurer le hook de pre-commit",
        "",
    ],
)
def test_other_queries_do_not_fire(query: str) -> None:
    assert match(query) is None


@pytest.mark.parametrize(
    "text",
    ["ta gueule sale connard", "t'es qu'un connard", "connard va", "espece de connard degage"],
)
def test_an_insult_used_at_someone_is_use(text: str) -> None:
    s = signals(text, match("message insultant"))  # type: ignore[arg-type]
    assert s.use == 1.0 and s.mention == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "il m'a traité de connard devant tout le monde",
        "elle s'est fait insulter de connard au lycée",
        "je porte plainte pour injures, il m'a dit connard",
        "c'est pas bien d'insulter les gens",
    ],
)
def test_talking_about_an_insult_is_mention(text: str) -> None:
    s = signals(text, match("message insultant"))  # type: ignore[arg-type]
    assert s.use == 0.0 and s.mention > 0.0


def test_banter_and_threat_markers() -> None:
    threat = match("menace de mort")
    assert threat is not None
    assert signals("jvais te tuer a fifa ce soir je t'aime", threat).banter == 1.0
    real = signals("je vais te tuer sale chien", threat)
    assert real.use == 1.0 and real.banter == 0.0 and real.mention == 0.0
    assert signals("il a reçu des menaces de mort", threat).mention > 0.0
    assert fold("T’es MORT") == "t'es mort"


MESSAGES = [
    "il m'a insulté hier, il m'a traité de connard devant la classe",
    "c'est pas bien d'insulter les gens, les insultes ça blesse",
    "je porte plainte pour insultes, j'ai les captures",
    "ta gueule sale connard",
    "ferme la espece d'abruti",
    "rdv 18h devant la gare",
    "tu viens à la fête samedi ?",
]


def _csv(rows: list[str]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "text"])
    for i, t in enumerate(rows):
        w.writerow([i, t])
    return out.getvalue()


@pytest.fixture
def chat_index(tmp_path: Path) -> tuple[object, HashEmbedder]:
    idx = build_index(tmp_path, {"chat.csv": _csv(MESSAGES)})
    return open_store(idx), HashEmbedder("x")


def test_the_insults_rank_above_the_messages_about_insults(chat_index: tuple[object, HashEmbedder]) -> None:
    store, emb = chat_index
    off = [h.text for h in search(store, emb, "message insultant", k=5, concepts=False).hits]
    on = [h.text for h in search(store, emb, "message insultant", k=5).hits]
    assert set(on[:2]) == {"ta gueule sale connard", "ferme la espece d'abruti"}
    assert on != off  # the step changed the order (without it, the mentions share the query's words)


def test_other_queries_are_unchanged(chat_index: tuple[object, HashEmbedder]) -> None:
    store, emb = chat_index
    for q in ("rdv gare", "fête samedi", "il m'a insulté"):
        on = search(store, emb, q, k=5)
        off = search(store, emb, q, k=5, concepts=False)
        assert [(h.id, h.score) for h in on.hits] == [(h.id, h.score) for h in off.hits]
        assert "concepts" not in on.timings


def test_lexical_mode_uses_the_markers_alone(chat_index: tuple[object, HashEmbedder]) -> None:
    store, emb = chat_index
    hits = search(store, emb, "insultes", k=3, mode="lexical").hits
    assert hits and hits[0].text in {"ta gueule sale connard", "ferme la espece d'abruti"}


def test_piaf_questions_do_not_fire() -> None:
    """Open-domain questions (piaf-dev, when its folder is in $PISTEUR_EVAL_DIR) never take the concept path."""
    folder = Path(os.environ.get("PISTEUR_EVAL_DIR", "/nonexistent")) / "piaf-dev"
    queries = folder / "queries.jsonl"
    if not queries.is_file():
        pytest.skip("piaf-dev not available (set PISTEUR_EVAL_DIR)")
    lines = queries.read_text(encoding="utf-8").splitlines()[:500]
    fired = [q for q in (json.loads(line)["text"] for line in lines) if match(q) is not None]
    assert fired == []


@pytest.mark.slow
def test_real_model_on_the_chat_set(tmp_path: Path, e5: object) -> None:
    """The packaged model on the tuning half: the concept step beats the plain search by a wide margin."""
    with (FIXTURE / "messages.csv").open(encoding="utf-8", newline="") as f:
        texts = {r["id"]: r["text"] for r in csv.DictReader(f)}
    split = dict(line.split("\t") for line in (FIXTURE / "split.tsv").read_text().splitlines()[1:])
    labels = {
        line.split("\t")[0]: set(filter(None, line.split("\t")[1].split(",")))
        for line in (FIXTURE / "labels.tsv").read_text().splitlines()[1:]
    }
    half = [m for m in texts if split[m] == "tuning"]
    store = open_store(build_index(tmp_path, {"chat.csv": _csv([texts[m] for m in half])}, embedder=e5))
    by_text = {texts[m]: m for m in half}

    def p10(query: str, concepts: set[str], on: bool) -> float:
        hits = search(store, e5, query, k=10, concepts=on).hits
        rel = {m for m in half if concepts & labels[m]}
        return sum(by_text.get(h.text, "") in rel for h in hits) / min(10, len(rel))

    cases = [("message insultant", {"insulte"}), ("propos racistes", {"racisme"}),
             ("propos haineux", {"racisme", "homophobie"})]
    on = sum(p10(q, c, True) for q, c in cases) / len(cases)
    off = sum(p10(q, c, False) for q, c in cases) / len(cases)
    assert on >= 0.8 and on >= off + 0.15, (on, off)


def test_concept_queries_fire_when_the_dictionaries_come_from_the_on_disk_cache(tmp_path, monkeypatch) -> None:
    """A second process reads the expansion dictionaries lazily from their cache (one shard per query word),
    so their concept tables are empty there: the concept step must not depend on them."""
    from pisteur.retrieve import concepts, lexicon

    monkeypatch.setenv("PISTEUR_CACHE", str(tmp_path / "cache"))
    lexicon._default.cache_clear()
    lexicon.default_dictionaries()  # builds and writes the cache, as a first run does
    lexicon._default.cache_clear()
    concepts._ENTRIES.clear()
    concepts._concept_files.cache_clear()
    lazy = lexicon.default_dictionaries()  # read back from the cache, as every later run does
    assert not any(d.tables.get("concepts") for d in lazy.dicts.values())
    assert concepts.match("message insultant") is not None
    assert concepts.match("menace de mort") is not None
    assert concepts.match("bug de migration") is None
    lexicon._default.cache_clear()
