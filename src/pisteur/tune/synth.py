"""A synthetic evaluation set from an index, no labels needed: queries made from its own chunks
(``tune/generate.py``, or a chat model), kept only when a wide first stage (top ``wide`` BM25 ∪ dense)
retrieves their source, split by source document (held-out documents are unseen in training), written
in the BEIR layout (corpus.jsonl, queries.jsonl, qrels/train.tsv, qrels/test.tsv)."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pisteur.evaluate.beir import Dataset
from pisteur.evaluate.index import doc_id_of
from pisteur.text.analysis import analyze_query
from pisteur.tune import generate as gen
from pisteur.tune import questions as qgen

Split = Literal["train", "test"]


@dataclass
class MakeOptions:
    max_queries: int = 2000
    per_doc: int = 2  # chunks drawn per source document at least (more when documents are few)
    kinds: tuple[str, ...] = ("cloze", "title", "keywords", "sms", "standard", "question")
    sms_share: float = 0.25  # share of queries that also get an SMS-style variant (when one exists)
    test_share: float = 0.3
    wide: int = 100
    seed: int = 0
    llm: Any = None  # a tune.llm.ChatModel: adds "llm" queries


@dataclass
class SynthQuery:
    qid: str
    text: str
    doc_id: str
    chunk_id: int
    kind: str
    lang: str
    split: Split


@dataclass
class SynthSet:
    name: str
    corpus: dict[str, dict[str, str]]
    queries: list[SynthQuery]
    made: int = 0  # before filtering
    vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # qid -> query vector
    seconds: float = 0.0

    def split(self, which: Split) -> list[SynthQuery]:
        return [q for q in self.queries if q.split == which]

    def ensure_vectors(self, embedder: Any) -> SynthSet:
        """Embed the queries with ``embedder`` unless their vectors are already here; returns the set."""
        if not self.vectors and self.queries:
            vecs = embed_all(embedder, [q.text for q in self.queries])
            self.vectors = {q.qid: vecs[i] for i, q in enumerate(self.queries)}
        return self

    def dataset(self, which: Split) -> Dataset:
        qs = self.split(which)
        return Dataset(self.name, Path("."), self.corpus, {q.qid: q.text for q in qs},
                       {q.qid: {q.doc_id: 1} for q in qs})

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for q in self.queries:
            kinds[q.kind] = kinds.get(q.kind, 0) + 1
        return {"documents": len(self.corpus), "made": self.made, "kept": len(self.queries),
                "train": len(self.split("train")), "test": len(self.split("test")), "kinds": kinds,
                "seconds": round(self.seconds, 1)}


def doc_of(hit: Any) -> str:
    return str(hit.meta.get("doc_id") or doc_id_of(hit.source))


def held_out(doc_id: str, share: float, seed: int) -> bool:
    h = hashlib.blake2b(f"{seed}:{doc_id}".encode(), digest_size=4).digest()
    return int.from_bytes(h, "little") / 2**32 < share


def read_docs(store: Any) -> tuple[dict[str, list[Any]], dict[int, str]]:
    """Chunks grouped by source document, and chunk id → document id."""
    docs: dict[str, list[Any]] = {}
    owner: dict[int, str] = {}
    for h in store.iter_chunks():
        d = doc_of(h)
        docs.setdefault(d, []).append(h)
        owner[h.id] = d
    return docs, owner


def _queries_for(chunk: Any, opts: MakeOptions, rng: random.Random, idf: gen.Idf) -> list[tuple[str, str]]:
    text, title = chunk.text, str(chunk.meta.get("title") or "")
    out: list[tuple[str, str]] = []
    makers: dict[str, Callable[[], str | None]] = {
        "cloze": lambda: gen.cloze(text, rng, idf),
        "title": lambda: gen.title_question(text, title, rng),
        "keywords": lambda: gen.keywords(text, rng, idf),
        "question": lambda: qgen.question(text, rng),
    }
    order = [k for k in ("cloze", "title", "keywords", "question") if k in opts.kinds]
    rng.shuffle(order)
    order.sort(key=lambda k: k != "question")  # a rule-made question first when one applies: closest to real ones
    for kind in order:
        q = makers[kind]()
        if q:
            out.append((kind, q))
            break
    if opts.llm is not None:
        for q in opts.llm.questions(text, 2, gen.language(text)):
            out.append(("llm", q))
    if "standard" in opts.kinds and out:
        written = gen.standard_variant(out[0][1])
        if written:
            out.append(("standard", written))
    if "sms" in opts.kinds and out and rng.random() < opts.sms_share * 2:
        variant = gen.sms_variant(out[0][1], rng)
        if variant:
            out.append(("sms", variant))
    return out


def make_set(store: Any, embedder: Any, opts: MakeOptions | None = None, name: str = "synthetic",
             progress: Callable[[str], None] | None = None) -> SynthSet:
    opts = opts or MakeOptions()
    t0 = time.perf_counter()
    rng = random.Random(opts.seed)
    docs, owner = read_docs(store)
    idf = gen.Idf(h.text for hs in docs.values() for h in hs)
    order = sorted(docs)
    rng.shuffle(order)
    raw: list[SynthQuery] = []
    budget = int(opts.max_queries * 1.3)  # some are dropped by the filter
    # few long documents (sessions, case files): more chunks of each
    per_doc = max(opts.per_doc, -(-budget // max(len(docs), 1)))
    for d in order:
        if len(raw) >= budget:
            break
        split: Split = "test" if held_out(d, opts.test_share, opts.seed) else "train"
        chunks = docs[d]
        for c in rng.sample(chunks, min(per_doc, len(chunks))):
            for kind, text in _queries_for(c, opts, rng, idf):
                raw.append(SynthQuery(f"s{len(raw)}", text, d, c.id, kind, gen.language(text), split))
    if progress:
        progress(f"{len(raw)} queries made from {len(docs)} documents; filtering (top {opts.wide})...")
    vectors = embed_all(embedder, [q.text for q in raw]) if embedder is not None else None
    kept: list[SynthQuery] = []
    vecs: dict[str, np.ndarray] = {}
    for i, q in enumerate(raw):
        v = vectors[i] if vectors is not None else None
        if retrieves(store, q, v, owner, opts.wide):
            kept.append(q)
            if v is not None:
                vecs[q.qid] = v
        if len(kept) >= opts.max_queries:
            break
    corpus = {d: {"title": str(hs[0].meta.get("title") or ""), "text": "\n".join(h.text for h in hs)}
              for d, hs in docs.items()}
    return SynthSet(name, corpus, kept, len(raw), vecs, time.perf_counter() - t0)


def embed_all(embedder: Any, texts: list[str], batch: int = 64) -> np.ndarray:
    parts = [np.asarray(embedder.embed_queries(texts[i : i + batch]), np.float32)
             for i in range(0, len(texts), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def retrieves(store: Any, q: SynthQuery, vec: np.ndarray | None, owner: dict[int, str], wide: int) -> bool:
    terms = analyze_query(q.text)
    if terms and any(owner.get(i) == q.doc_id for i, _ in store.lexical_search(terms, wide)):
        return True
    return vec is not None and any(owner.get(i) == q.doc_id for i, _ in store.dense_search(vec, wide))


def write_beir(s: SynthSet, folder: Path) -> None:
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for d, doc in s.corpus.items():
            f.write(json.dumps({"_id": d, "title": doc["title"], "text": doc["text"]}, ensure_ascii=False) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as f:
        for q in s.queries:
            row = {"_id": q.qid, "text": q.text, "kind": q.kind, "lang": q.lang, "chunk": q.chunk_id,
                   "split": q.split}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    for which in ("train", "test"):
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q.qid}\t{q.doc_id}\t1" for q in s.split(which)]
        (folder / "qrels" / f"{which}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_beir(folder: Path) -> SynthSet:
    """A set written by ``write_beir`` (query vectors are not stored: they are recomputed when needed)."""
    from pisteur.evaluate.beir import DatasetError, _jsonl, load_qrels

    if not (folder / "queries.jsonl").exists():
        raise DatasetError(f"{folder}: no queries.jsonl (make one with `pisteur eval make`)")
    corpus = {str(r["_id"]): {"title": str(r.get("title") or ""), "text": str(r.get("text") or "")}
              for r in _jsonl(folder / "corpus.jsonl")}
    doc: dict[str, str] = {}
    for which in ("train", "test"):
        p = folder / "qrels" / f"{which}.tsv"
        if p.exists():
            doc.update({q: next(iter(r)) for q, r in load_qrels(p).items()})
    qs = [SynthQuery(str(r["_id"]), str(r["text"]), doc[str(r["_id"])], int(r.get("chunk", -1)),
                     str(r.get("kind", "")), str(r.get("lang", "fr")), "test" if r.get("split") == "test" else "train")
          for r in _jsonl(folder / "queries.jsonl") if str(r["_id"]) in doc]
    return SynthSet(folder.name, corpus, qs, len(qs))
