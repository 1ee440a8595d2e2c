"""Token-aware chunking: budgets respected, code lines kept whole, overlap, narrowed uuids/lines."""

from __future__ import annotations

import pytest

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


class CountingTokenizer:
    """A tokenizer stub that records how much work the chunker asks of it (calls, characters tokenized)."""

    def __init__(self) -> None:
        self.calls = 0
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return len(text) // 4 + 2  # ~4 characters per token, plus 2 specials like the models


def test_chunking_is_linear_on_a_megabyte_without_spaces() -> None:
    blob = "".join(chr(ord("a") + (i * 7919) % 26) for i in range(1_000_000))
    tok = CountingTokenizer()
    chunks = chunk_segments([Segment(blob, "document", {})], ChunkerConfig(size=128, overlap=16), tok)
    assert "".join(c.text for c in chunks) == blob
    assert all(c.tokens is not None and c.tokens <= 128 for c in chunks)
    # each character is tokenized about once (the old chunker re-tokenized the growing piece for every word)
    assert tok.chars <= 1.5 * len(blob)
    assert tok.calls <= 2 * len(chunks) + 10


def test_chunking_is_linear_on_a_long_line_of_words() -> None:
    line = " ".join(f"mot{i % 97}" for i in range(200_000))  # ~1.2 MB, no punctuation, one line
    tok = CountingTokenizer()
    pieces = split_text(line, 128, 16, tok)
    assert len(pieces) > 1000 and all(tok(p) <= 128 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == line  # nothing lost, words never cut
    assert all(not p.startswith("ot") for p in pieces)
    assert tok.chars <= 3 * len(line)


def test_over_long_sentences_are_cut_within_budget_with_an_exact_tokenizer() -> None:
    tok = CountingTokenizer()
    text = "début " + "x" * 3000 + " " + "mot " * 2000 + "fin"
    pieces = split_text(text, 50, 5, words)
    assert all(words(p) <= 50 for p in pieces)
    pieces = split_text(text, 50, 5, tok)
    assert all(tok(p) <= 50 for p in pieces)
    assert pieces[0].startswith("début") and pieces[-1].endswith("fin")


def test_sentence_units_are_exact_substrings() -> None:
    # a long line whose sentences are separated by tabs or double spaces: chunks are found back in the text
    line = "  ".join(f"Phrase {i} du rapport.\tSuite {i} du rapport." for i in range(40))
    pieces = split_text(line, 30, 5, words)
    assert len(pieces) > 3 and all(p in line for p in pieces)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (-3, 0), (10, 10), (10, 12), (10, -1)])
def test_invalid_chunker_config_is_refused_in_one_line(size: int, overlap: int) -> None:
    with pytest.raises(ValueError) as err:
        ChunkerConfig(size=size, overlap=overlap)
    assert "\n" not in str(err.value) and "chunk" in str(err.value)


def test_valid_chunker_config() -> None:
    assert ChunkerConfig(size=10, overlap=9).overlap == 9
    assert ChunkerConfig().to_manifest() == {"size": 128, "overlap": 16, "version": 1}
