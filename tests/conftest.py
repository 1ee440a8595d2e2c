"""Every test runs with its own index, cache and Claude Code dirs: the machine's real ones are never read."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import helpers  # noqa: E402,F401  (registers the test-only "test-hash" embedder)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One converted default model for the whole session (building it takes seconds), never the user's cache."""
    return tmp_path_factory.mktemp("pisteur-models")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                   _model_cache: Path) -> None:
    base = tmp_path_factory.mktemp("pisteur-env")
    monkeypatch.setenv("PISTEUR_MODEL_CACHE", str(_model_cache))
    monkeypatch.setenv("PISTEUR_INDEX", str(base / "index"))
    monkeypatch.setenv("PISTEUR_CACHE", str(base / "cache"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(base / "claude"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("PISTEUR_WORKERS", os.environ.get("PISTEUR_TEST_WORKERS", "1"))


@pytest.fixture(scope="session")
def e5():
    """The real packaged default model, loaded once per test session."""
    from pisteur.embed import load_embedder

    m = load_embedder("e5", workers=1)
    yield m
    m.close()
