"""Token-aware chunking: budgets respected, code lines kept whole, overlap, narrowed uuids/lines."""

from __future__ import annotations

from pisteur.chunk import ChunkerConfig, chunk_segments, split_text
from pisteur.types import Segment


def words(text: str) -> int:  # a stand-in tokenizer: one token per word, plus 2 specials like the models
    return len(text.split()) + 2


def test_short_text_is_one_chunk() -> None:
    assert split_text("  une phrase courte.  ", 50, 5, words) == ["une phrase courte."]
    assert split_text("   \n ", 50, 5, words) == []


def test_long_prose_respects_the_budget_and_overlaps() -> None:
    sentences = [f"Phrase numéro {i} du procès-verbal d'audition." for i in range(60)]
    text = " ".join(sentences)
    pieces = split_text(text, 40, 10, words)
    assert len(pieces) > 5
    assert all(words(p) <= 40 for p in pieces)
    for a, b in zip(pieces, pieces[1:], strict=False):  # consecutive chunks share their boundary sentence(s)
        assert a.split(". ")[-1].rstrip(".") in b
    joined = " ".join(pieces)
    assert all(s.rstrip(".") in joined for s in sentences)


def test_code_lines_are_not_cut() -> None:
    code = "\n".join(f"    result_{i} = compute_value(alpha, beta, gamma, {i})" for i in range(40))
    text = f"Voici le correctif :\n```python\n{code}\n```\nFin."
    pieces = split_text(text, 60, 0, words)
    lines = {line.strip() for line in code.splitlines()}
    for p in pieces:
        for line in p.splitlines():
            if "compute_value" in line:
                assert line.strip() in lines, f"cut line: {line!r}"


def test_giant_token_is_split_anyway() -> None:
    blob = "x" * 5000
    pieces = split_text(blob, 30, 0, lambda t: len(t) // 10 + 2)
    assert len(pieces) > 1 and "".join(pieces) == blob


def test_chunks_of_an_exchange_report_only_their_own_uuids() -> None:
    parts = [f"message {i} " + "mot " * 30 for i in range(6)]
    text, anchors = "", []
    for i, p in enumerate(parts):
        anchors.append((len(text), 10 + i, f"uuid-{i}"))
        text += p + "\n"
    seg = Segment(text=text, kind="exchange", meta={"uuids": [f"uuid-{i}" for i in range(6)], "session_id": "s"},
                  line_start=10, line_end=15, byte_start=100, byte_end=900, anchors=anchors)
    chunks = chunk_segments([seg], ChunkerConfig(size=40, overlap=0), words)
    assert len(chunks) >= 3
    assert chunks[0].meta["uuids"][0] == "uuid-0" and "uuid-5" not in chunks[0].meta["uuids"]
    assert "uuid-5" in chunks[-1].meta["uuids"]
    assert all(c.byte_start == 100 for c in chunks)  # the append logic keys on the exchange's start
    assert chunks[0].line_start == 10 and chunks[-1].line_end == 15
    assert [c.ord for c in chunks] == list(range(len(chunks)))
