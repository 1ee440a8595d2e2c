"""Rerankers: offline features, HTTP protocols against a local server speaking each shape, and the
cross-encoder on a tiny random BERT built here (no weights downloaded)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest

from pisteur.retrieve.rerank import RerankContext, RerankError, get_reranker, reranker_names
from pisteur.retrieve.rerank.features import coverage, phrase, proximity, text_features
from pisteur.retrieve.rerank.http import HttpReranker
from pisteur.retrieve.rerank.offline import OfflineReranker
from pisteur.types import Hit

# -- features -----------------------------------------------------------------------------------


def test_proximity_phrase_coverage_by_hand():
    assert proximity(["a", "b"], ["a", "x", "x", "b"]) == pytest.approx(2 / 4)
    assert proximity(["a", "b"], ["a", "x", "b", "a", "b"]) == pytest.approx(1.0)
    assert proximity(["a", "b", "c"], ["c", "x", "a", "b"]) == pytest.approx(3 / 4)
    assert proximity(["a", "b"], ["a", "x"]) == 0.0
    assert phrase(["a", "b", "c"], {("a", "b"), ("x", "c")}) == pytest.approx(0.5)
    assert phrase(["a"], {("a", "b")}) == 0.0
    assert coverage(["a", "b", "b"], {"a", "z"}) == pytest.approx(0.5)
    f = text_features(["a", "b"], [["a", "b"], ["b"]], expansion=[("r", 1.0), ("s", 3.0)])
    assert f["coverage"].tolist() == [1.0, 0.5]
    assert f["expansion"].tolist() == [0.0, 0.0]


def test_offline_prefers_exact_phrase_and_coverage():
    rr = get_reranker("offline")
    assert "offline" in reranker_names() and "tei" in reranker_names()
    texts = [
        "Le chat dort sur le canapé du salon.",
        "Garde à vue prolongée : le procès-verbal de garde à vue a été signé.",
        "La vue depuis la garde du château est belle.",
    ]
    scores = rr.rerank("procès-verbal de garde à vue", texts)
    assert int(np.argmax(scores)) == 1
    assert scores[0] < scores[2]  # no term at all < some terms


def test_offline_uses_first_stage_context_and_stored_vectors():
    class FakeStore:
        def vectors(self, ids):
            table = {1: [1.0, 0.0], 2: [0.0, 1.0]}
            return np.array([table[i] for i in ids], np.float32)

    hits = [Hit(1, 0.0, "document", "s", "aaa"), Hit(2, 0.0, "document", "s", "bbb")]
    ctx = RerankContext(store=FakeStore(), query_vector=np.array([0.0, 1.0], np.float32))
    rr = OfflineReranker(weights={"dense": 1.0})
    assert rr.rerank("zzz", hits, ctx).tolist()[1] > rr.rerank("zzz", hits, ctx).tolist()[0]
    feats = rr.features("zzz", hits, RerankContext(fused={1: 2.0, 2: 1.0}, lists={"lexical": [(2, 7.0)]}))
    assert feats["fused"].tolist() == [2.0, 1.0]
    assert feats["bm25"].tolist() == [7.0, 7.0]  # absent from the lexical list: the list's floor
    # the pipeline's query-dependent dense factor scales the dense weight: half the scale, half the gap
    rr2 = OfflineReranker(weights={"dense": 1.0, "fused": 1.0})
    both = {"store": FakeStore(), "query_vector": np.array([0.0, 1.0], np.float32), "fused": {1: 2.0, 2: 1.0}}
    full = rr2.rerank("zzz", hits, RerankContext(**both))
    half = rr2.rerank("zzz", hits, RerankContext(**both, dense_scale=0.5))
    off = rr2.rerank("zzz", hits, RerankContext(**both, dense_scale=0.0))
    assert full[1] == pytest.approx(full[0]) and half[0] > half[1] and off[0] - off[1] == pytest.approx(2.0)


def test_unknown_reranker():
    with pytest.raises(RerankError, match="unknown reranker"):
        get_reranker("nope:x")


# -- HTTP -----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    mode = "ok"
    seen: list = []

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.seen.append((self.path, body, self.headers.get("Authorization")))
        if _Handler.mode == "500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"model not loaded")
            return
        if _Handler.mode == "garbage":
            out = b"<html>"
        elif _Handler.mode == "bad-index":
            out = json.dumps([{"index": 9, "score": 1.0}]).encode()
        elif self.path == "/rerank" and "texts" in body:  # TEI
            docs = body["texts"]
            res = [{"index": i, "score": float(len(set(body["query"].split()) & set(d.split())))}
                   for i, d in enumerate(docs)]
            out = json.dumps(sorted(res, key=lambda r: -r["score"])).encode()
        else:  # Jina / Cohere / llama.cpp
            docs = body["documents"]
            res = [{"index": i, "relevance_score": float(len(set(body["query"].split()) & set(d.split())))}
                   for i, d in enumerate(docs)][: body.get("top_n", len(docs))]
            out = json.dumps({"model": body.get("model"), "results": res}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture()
def server():
    _Handler.mode = "ok"
    _Handler.seen = []
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


DOCS = ["le chat dort", "rendez vous demain au commissariat", "rendez vous"]


@pytest.mark.parametrize(
    ("protocol", "path"), [("tei", "/rerank"), ("jina", "/v1/rerank"), ("cohere", "/v1/rerank"),
                           ("llamacpp", "/v1/rerank")]
)
def test_http_protocols(server, protocol, path):
    rr = get_reranker(f"{protocol}:{server}", model="m", api_key="k")
    scores = rr.rerank("rendez vous demain", [Hit(i, 0, "message", "s", d) for i, d in enumerate(DOCS)])
    assert scores.tolist() == [0.0, 3.0, 2.0]  # mapped back to the input order, whatever order came back
    got_path, body, auth = _Handler.seen[-1]
    assert got_path == path and auth == "Bearer k"
    if protocol == "tei":
        assert body["texts"] == DOCS and body["query"] == "rendez vous demain"
    else:
        assert body["documents"] == DOCS and body["top_n"] == 3 and body["model"] == "m"


def test_http_llamacpp_explicit_path_and_missing_results(server):
    rr = HttpReranker("llamacpp", f"{server}/rerank")
    assert rr.url.endswith("/rerank") and not rr.url.endswith("/v1/rerank")
    assert rr.rerank("chat", ["le chat", "x"]).tolist() == [1.0, 0.0]
    assert _Handler.seen[-1][0] == "/rerank" and "model" not in _Handler.seen[-1][1]
    # a server that returns fewer results than documents: the missing ones rank last
    assert HttpReranker("jina", server).parse({"results": [{"index": 1, "relevance_score": 0.3}]}, 2)[0] == -np.inf


def test_http_errors(server):
    rr = HttpReranker("tei", server)
    _Handler.mode = "500"
    with pytest.raises(RerankError, match="HTTP 500.*model not loaded"):
        rr.rerank("q", ["a"])
    _Handler.mode = "garbage"
    with pytest.raises(RerankError, match="not JSON"):
        rr.rerank("q", ["a"])
    _Handler.mode = "bad-index"
    with pytest.raises(RerankError, match="out of range"):
        rr.rerank("q", ["a"])
    with pytest.raises(RerankError, match="cannot reach"):
        HttpReranker("tei", "http://127.0.0.1:9", timeout=2).rerank("q", ["a"])
    with pytest.raises(RerankError, match="needs a model"):
        HttpReranker("cohere", server).rerank("q", ["a"])
    with pytest.raises(RerankError, match="unknown rerank protocol"):
        HttpReranker("grpc", server)


# -- cross-encoder --------------------------------------------------------------------------------


def test_cross_encoder_missing_folder_and_missing_extra(tmp_path, monkeypatch):
    with pytest.raises(RerankError, match="not found"):
        get_reranker(f"cross-encoder:{tmp_path / 'nothing'}")
    import builtins

    real_import = builtins.__import__

    def no_st(name, *args, **kwargs):
        if name.startswith("sentence_transformers"):
            raise ImportError("no sentence_transformers")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_st)
    from pisteur.retrieve.rerank.cross_encoder import CrossEncoderReranker

    with pytest.raises(RerankError, match=r"pip install 'pisteur\[st\]'"):
        CrossEncoderReranker(str(tmp_path)).rerank("q", ["a"])


def _tiny_cross_encoder(root: Path) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("sentence_transformers")
    words = "le la chat chien dort mange rendez vous demain police garde vue".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    transformers.BertTokenizerFast(vocab_file=str(root / "vocab.txt"), do_lower_case=True).save_pretrained(root)
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=64, num_labels=1,
                                  initializer_range=0.1)
    transformers.BertForSequenceClassification(cfg).save_pretrained(root)
    return root


def test_cross_encoder_tiny_model_matches_a_manual_forward_pass(tmp_path):
    path = _tiny_cross_encoder(tmp_path)
    import torch
    import transformers

    docs = ["le chat dort", "rendez vous demain", "la police garde", "chien mange"]
    rr = get_reranker(f"cross-encoder:{path}", max_length=32)
    scores = rr.rerank("chat dort", [Hit(i, 0, "document", "s", d) for i, d in enumerate(docs)])
    assert scores.shape == (4,) and np.all(np.isfinite(scores))
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()
    with torch.no_grad():
        enc = tok(["chat dort"] * 4, docs, return_tensors="pt", padding=True, truncation=True, max_length=32)
        logits = model(**enc).logits[:, 0].numpy()
    # the CrossEncoder returns the logit or its sigmoid (depending on the library version)
    assert np.allclose(scores, logits, atol=1e-4) or np.allclose(scores, 1 / (1 + np.exp(-logits)), atol=1e-4)
    assert np.argsort(-scores).tolist() == np.argsort(-logits).tolist()
    assert len(set(np.round(scores, 6))) >= 2


def test_coverage_counts_an_expansion_as_the_term_it_replaces():
    from pisteur.retrieve.expand import expand_query

    exp = expand_query("rendez-vous demain")
    assert exp.applied, "the shipped SMS dictionary maps rendez-vous to rdv"
    rr = get_reranker("offline")
    texts = ["rdv demain a la gare", "la gare est loin"]
    with_exp = rr.features("rendez-vous demain", texts, RerankContext(expansion=exp))
    without = rr.features("rendez-vous demain", texts, RerankContext())
    assert with_exp["coverage"][0] == 1.0 and without["coverage"][0] < 1.0
    assert with_exp["expansion"][0] > 0 and with_exp["coverage"][1] == 0.0
    assert coverage(["a", "b"], {"x", "y", "b"}, {"a": [frozenset({"x", "y"})]}) == 1.0
    assert coverage(["a", "b"], {"x", "b"}, {"a": [frozenset({"x", "y"})]}) == 0.5


def test_a_compound_next_to_its_own_part_is_no_phrase():
    from pisteur.retrieve.rerank.offline import query_tokens

    q = "rendez-vous avec le suspect"
    tokens = query_tokens(q)
    assert tokens["rendez-vous"] == tokens["rend"] != tokens["suspect"]
    only_compound = ["rendez-vous", "rend", "fix"]
    phrase_doc = ["rendez-vous", "rend", "suspect"]
    qterms = ["rendez-vous", "rend", "suspect"]
    assert phrase(qterms, set(zip(only_compound, only_compound[1:], strict=False))) == 0.5  # without tokens
    assert phrase(qterms, set(zip(only_compound, only_compound[1:], strict=False)), tokens) == 0.0
    assert phrase(qterms, set(zip(phrase_doc, phrase_doc[1:], strict=False)), tokens) == 1.0
    assert proximity(qterms, only_compound) == 1.0 and proximity(qterms, only_compound, tokens) == 0.0
    assert proximity(qterms, phrase_doc, tokens) == 1.0

