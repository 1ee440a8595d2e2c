"""A small French corpus built in the test (topics x sentences), indexed with the test-only hash embedder."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pisteur.evaluate.beir import Dataset
from pisteur.evaluate.index import build_index

TOPICS = {
    "boulangerie": "pain croissant farine four levain baguette boulanger pétrin",
    "vélo": "roue chaîne pédale guidon crevaison rustine selle dérailleur",
    "jardin": "tomate arrosage graine potager semis compost râteau bêche",
    "cuisine": "casserole recette sauce épices poêle cuisson marmite louche",
    "informatique": "serveur python commit migration base déploiement script terminal",
    "montagne": "sommet randonnée refuge glacier sentier altitude crampons piolet",
    "police": "procès-verbal enquête audition témoin plainte gendarmerie garde parquet",
    "musique": "guitare accord partition concert batterie chanson mélodie solfège",
}
FILLER = "le la les un une des avec pour dans sur et mais donc car très souvent parfois demain bonjour".split()


def tiny_corpus(n_per_topic: int = 6, seed: int = 1) -> Dataset:
    rng = random.Random(seed)
    corpus = {}
    for topic, words in TOPICS.items():
        vocab = words.split()
        for i in range(n_per_topic):
            sents = []
            for _ in range(4):
                n = rng.randint(8, 14)
                ws = [rng.choice(vocab) if rng.random() < 0.5 else rng.choice(FILLER) for _ in range(n)]
                sents.append(" ".join(ws).capitalize() + ".")
            corpus[f"{topic}-{i}"] = {"title": f"{topic.capitalize()} numéro {i}", "text": " ".join(sents)}
    return Dataset("tinytune", Path("."), corpus, {}, {})


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers import HashEmbedder

    root = tmp_path_factory.mktemp("tune-index")
    built = build_index(tiny_corpus(), HashEmbedder("tiny", dims=64), root=root, with_title=True)
    return built.path
