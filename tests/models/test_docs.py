from pathlib import Path

from pisteur.models.docs import generate

DOC = Path(__file__).parents[2] / "docs" / "MODELS.md"


def test_models_page_is_generated_from_the_catalogue() -> None:
    text = generate()
    assert "ollama pull qwen3-embedding:4b" in text and "0.7490" in text
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ") and lines[i + 1].startswith("|---"):
            assert line.count("|") == lines[i + 1].count("|"), line  # every table is well formed
    assert "## Backends" in text and "| `qwen3-embedding-8b` |" in text
    assert DOC.read_text(encoding="utf-8") == text, "run: python -m pisteur.models.docs > docs/MODELS.md"
