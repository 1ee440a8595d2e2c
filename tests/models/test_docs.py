from pathlib import Path

from pisteur.models.docs import generate

DOC = Path(__file__).parents[2] / "docs" / "MODELS.md"


def test_models_page_is_generated_from_the_catalogue() -> None:
    text = generate()
    assert "ollama pull qwen3-embedding:4b" in text and "0.7490" in text
    header, sep = [line for line in text.splitlines() if line.startswith("| model") or line.startswith("|---")][:2]
    assert header.count("|") == sep.count("|")
    assert DOC.read_text(encoding="utf-8") == text, "run: python -m pisteur.models.docs > docs/MODELS.md"
