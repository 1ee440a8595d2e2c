"""A small French retrieval check with the real default model (multilingual-e5-small on ONNX Runtime)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pisteur.indexer import index_paths
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store

PASSAGES = {
    "gav.txt": "Le mis en cause a été placé en garde à vue à 14 h 10 par l'officier de police judiciaire.",
    "saisie.txt": "Lors de la perquisition du domicile, les enquêteurs ont saisi un couteau à cran d'arrêt.",
    "meteo.txt": "Il a plu toute la journée sur Lyon et les températures sont restées fraîches.",
    "migration.md": "We fixed the database migration bug by adding a missing Alembic revision for the users table.",
    "cuisine.txt": "Pour réussir la pâte à crêpes, laissez-la reposer une heure au réfrigérateur.",
    "vehicule.txt": "Le véhicule volé, une Clio grise, a été retrouvé incendié près de la gare.",
}
QUERIES = {
    "arme blanche trouvée chez le suspect": "saisie.txt",
    "où a-t-on corrigé le bug de migration ?": "migration.md",
    "voiture brûlée": "vehicule.txt",
    "recette de cuisine": "cuisine.txt",
    "mesure privative de liberté dans les locaux de police": "gav.txt",
}


@pytest.mark.slow
def test_default_model_finds_the_right_french_passage(tmp_path: Path, e5) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in PASSAGES.items():
        (root / name).write_text(text, encoding="utf-8")
    idx = tmp_path / "idx"
    index_paths(idx, [root], embedder=e5)
    store = open_store(idx)
    assert store.manifest()["model"]["spec"] == "e5onnx:multilingual-e5-small"
    top1 = {q: Path(search(store, e5, q, k=3, mode="dense").hits[0].source).name for q in QUERIES}
    assert top1 == QUERIES
