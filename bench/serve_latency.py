"""Warm search latency through MCP (stdio and streamable HTTP, the SDK's client) and the HTTP API at 10k
chunks, plus the measurement behind the semantic cache's near-duplicate threshold.

    nice python bench/serve_latency.py build --index IDX           # 10k-chunk index
    nice python bench/serve_latency.py run --index IDX -n 200      # latencies
    nice python bench/serve_latency.py cache-threshold                            # e5 cosine study
    nice python bench/serve_latency.py live                                       # append -> searchable

The 10k index: the 1,518 PIAF dev passages (French Wikipedia; ``--piaf DIR`` or $PISTEUR_EVAL_DIR/piaf-dev)
with their real e5 vectors (from the embedding cache, $PISTEUR_CACHE/embeddings: no re-embedding; ``--model use`` for
the Universal Sentence Encoder) and 8,482 perturbed
copies (sentences rotated, one word dropped; vector = original + Gaussian noise, renormalised, cosine to the
original ~0.95). Queries are real PIAF questions, embedded by e5 at query time (as in production). Each query
is sent twice: the first pass is a cache miss (the full pipeline: e5 query embedding, dense + BM25 +
expansion lists, fusion, offline rerank), the second an exact cache hit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, eval_path, percentile, write_result  # noqa: E402

PIAF_ARG: list[Path | None] = [None]  # --piaf, set by main()


def piaf() -> Path:
    return eval_path(PIAF_ARG[0], "piaf-dev")


def _pct(xs: list[float], q: float) -> float:
    return percentile(xs, q * 100)


def summary(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "p50_ms": round(_pct(xs, 0.5), 2), "p90_ms": round(_pct(xs, 0.9), 2),
            "p99_ms": round(_pct(xs, 0.99), 2), "mean_ms": round(statistics.fmean(xs), 2)}


# -- build ---------------------------------------------------------------------------------------------
def build(index: Path, n: int, seed: int = 0, model: str = "e5") -> None:
    from pisteur.chunk import ChunkerConfig
    from pisteur.embed import load_embedder
    from pisteur.embed.base import normalize
    from pisteur.embed.cache import CachedEmbedder
    from pisteur.indexer import wanted_manifest
    from pisteur.store import open_store
    from pisteur.store.base import SourceState
    from pisteur.types import Chunk

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    docs = [json.loads(line) for line in (piaf() / "corpus.jsonl").open(encoding="utf-8")]
    emb = CachedEmbedder(load_embedder(model, **({"workers": 2} if model == "e5" else {})))
    t0 = time.perf_counter()
    base = emb.embed_documents([d["text"] for d in docs])
    print(f"{len(docs)} real passages: vectors in {time.perf_counter() - t0:.1f} s "
          f"(cache hits {emb.hits}, embedded {emb.misses})", file=sys.stderr)
    store = open_store(index, readonly=False)
    with store.writer() as w:
        w.set_manifest(wanted_manifest(emb.inner, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
        store._vec = None
        store.refresh()
        made = 0
        per_source = 50
        src_no = 0
        while made < n:
            chunks, vecs = [], []
            for _ in range(min(per_source, n - made)):
                i = made % len(docs)
                copy = made // len(docs)
                text = docs[i]["text"]
                v = base[i]
                if copy:
                    sents = text.split(". ")
                    k = copy % len(sents)
                    words = ". ".join(sents[k:] + sents[:k]).split()
                    if len(words) > 5:
                        del words[rng.randrange(len(words))]
                    text = " ".join(words)
                    v = normalize(v + nrng.normal(0, 0.017, v.shape).astype(np.float32))[0]
                sess = f"bench-{made % 97:04d}"
                ts = f"2026-{1 + made % 10:02d}-{1 + made % 28:02d}T10:00:00Z"
                chunks.append(Chunk(text=text, kind="exchange", ord=len(chunks), meta={
                    "session_id": sess, "project": f"/home/dev/proj{made % 7}", "ts_first": ts, "ts_last": ts,
                    "uuids": [f"uuid-{made}"]}, line_start=len(chunks) + 1, line_end=len(chunks) + 1,
                    byte_start=len(chunks) * 1000, byte_end=len(chunks) * 1000 + 999,
                    tokens=len(text.split())))
                vecs.append(v)
                made += 1
            st = SourceState(path=f"/bench/sessions/s{src_no:05d}.jsonl", size=0, mtime_ns=0, fingerprint="",
                             reader="claude")
            w.upsert_source(st, chunks, np.stack(vecs).astype(np.float32))
            src_no += 1
    print(json.dumps(store.stats(), default=str), file=sys.stderr)
    store.close()
    emb.close()


# -- run -----------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _queries(n: int, seed: int = 1) -> list[str]:
    qs = [json.loads(line)["text"] for line in (piaf() / "queries.jsonl").open(encoding="utf-8")]
    random.Random(seed).shuffle(qs)
    return list(dict.fromkeys(qs))[:n]


def run_http(index: Path, queries: list[str], warmup: list[str], mcp_queries: list[str]) -> dict[str, Any]:
    import anyio
    import httpx
    from mcp import Client

    port = _free_port()
    cmd = [sys.executable, "-m", "pisteur.cli", "serve", "--index", str(index), "--no-live", "--port", str(port),
           "--rate", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    breakdown: dict[str, list[float]] = {}
    try:
        with httpx.Client(base_url=base, timeout=60) as c:
            for _ in range(600):
                try:
                    if c.get("/api/status").json().get("ready"):
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            for q in warmup:
                c.get("/api/search", params={"q": q, "k": 10, "explain": "false"})
            for label in ("miss", "cached"):
                lat, server = [], []
                for q in queries:
                    t = time.perf_counter()
                    r = c.get("/api/search", params={"q": q, "k": 10, "explain": "false"}).json()
                    lat.append((time.perf_counter() - t) * 1000)
                    server.append(r["took_ms"])
                    assert r["cached"] == (label == "cached"), r["cached"]
                    if label == "miss":
                        for k, v in r["timings_ms"].items():
                            breakdown.setdefault(k, []).append(v)
                out[f"http_{label}"] = summary(lat)
                out[f"http_{label}_server"] = summary(server)
            out["server_stage_p50_ms (http misses)"] = {k: round(_pct(v, 0.5), 2) for k, v in breakdown.items()}
            out["server_cpu_ms (http misses)"] = summary(breakdown.get("cpu", [0.0]))

        async def mcp_http() -> None:
            async with Client(f"{base}/mcp") as mc:
                for q in warmup[:3]:
                    await mc.call_tool("search", {"query": q, "k": 10})
                for label, qs in (("miss", mcp_queries), ("cached", mcp_queries)):
                    lat = []
                    for q in qs:
                        t = time.perf_counter()
                        r = await mc.call_tool("search", {"query": q, "k": 10})
                        lat.append((time.perf_counter() - t) * 1000)
                        assert not r.is_error and r.structured_content["cached"] == (label == "cached")
                    out[f"mcp_http_{label}"] = summary(lat)

        anyio.run(mcp_http)
    finally:
        proc.terminate()
        proc.wait(30)
    return out


def run_stdio(index: Path, queries: list[str], warmup: list[str]) -> dict[str, Any]:
    import anyio
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "pisteur.cli", "mcp", "--index", str(index),
                                                                 "--no-live"], env=dict(os.environ))
    out: dict[str, Any] = {}

    async def go() -> None:
        async with Client(params) as mc:
            t = time.perf_counter()
            await mc.call_tool("status", {})
            for q in warmup:
                await mc.call_tool("search", {"query": q, "k": 10})
            out["warmup_s"] = round(time.perf_counter() - t, 2)
            for label in ("miss", "cached"):
                lat, server = [], []
                for q in queries:
                    t = time.perf_counter()
                    r = await mc.call_tool("search", {"query": q, "k": 10})
                    lat.append((time.perf_counter() - t) * 1000)
                    data = r.structured_content
                    assert data["cached"] == (label == "cached")
                    server.append(data["took_ms"])
                out[f"mcp_stdio_{label}"] = summary(lat)
                out[f"mcp_stdio_{label}_server"] = summary(server)

    anyio.run(go)
    return out


# -- live freshness ------------------------------------------------------------------------------------
def live_freshness(rounds: int = 5, interval: float = 2.0) -> dict[str, Any]:
    """Seconds from appending an exchange to a Claude Code session file to finding it by search, with the
    real e5 model and the default 2 s polling, while the server's live indexer runs."""
    import tempfile

    from pisteur.serve.service import Service

    def line(kind: str, text: str, n: int) -> str:
        msg: dict[str, Any] = {"role": kind, "content": text}
        if kind == "assistant":
            msg = {"role": "assistant", "id": f"m{n}", "model": "x", "content": [{"type": "text", "text": text}]}
        return json.dumps({"type": kind, "uuid": f"u{n}", "sessionId": "bench", "cwd": "/home/dev/p",
                           "timestamp": f"2026-11-22T10:{n:02d}:00Z", "message": msg}, ensure_ascii=False) + "\n"

    tmp = Path(tempfile.mkdtemp())
    sess = tmp / "projects" / "-home-dev-p" / "bench.jsonl"
    sess.parent.mkdir(parents=True)
    sess.write_text(line("user", "Comment configurer le proxy nginx ?", 0) + line("assistant", "Avec proxy_pass.", 1))
    svc = Service(tmp / "index", live=True, sources=[tmp / "projects"], live_interval=interval)
    svc.start(warm=False)
    words = ["zanzibar", "quokka", "ornithorynque", "kinkajou", "axolotl", "pangolin", "okapi", "tamanoir"]
    times = []
    try:
        t0 = time.monotonic()
        while not svc.status().ready or svc.live.state()["runs"] < 1:
            time.sleep(0.2)
            if time.monotonic() - t0 > 300:
                raise RuntimeError("first pass did not finish")
        for r in range(rounds):
            w = words[r % len(words)]
            with sess.open("a", encoding="utf-8") as f:
                f.write(line("user", f"Le certificat TLS du serveur {w} expire demain, que faire ?", 10 + 2 * r))
                f.write(line("assistant", f"Renouvelle le certificat de {w} avec certbot renew.", 11 + 2 * r))
            t = time.monotonic()
            while True:
                hits = svc.search(f"certificat TLS {w}", 3).hits
                if any(w in svc.read(h.id).passages[0].text for h in hits):
                    break
                if time.monotonic() - t > 120:
                    raise RuntimeError("not found after 120 s")
                time.sleep(0.05)
            times.append(round(time.monotonic() - t, 2))
    finally:
        svc.close()
    return {"interval_s": interval, "seconds_to_searchable": times, "max_s": max(times),
            "mean_s": round(statistics.fmean(times), 2)}


# -- cache threshold -----------------------------------------------------------------------------------
NEAR = [  # same need, written differently: a cached answer is right
    ("où a-t-on corrigé le bug de migration ?", "ou a t on corrige le bug de migration"),
    ("bug de migration alembic", "bug migration alembic"),
    ("procédure de garde à vue", "procedure garde a vue"),
    ("rendez-vous devant la gare", "rendez vous devant la gare ?"),
    ("configurer le proxy nginx", "configuration du proxy nginx"),
    ("message insultant envers la police", "messages insultants envers la police"),
    ("comment lancer les tests pytest", "comment lancer les tests avec pytest"),
    ("erreur de connexion à la base de données", "erreur connexion base de données"),
    ("Quels sont des exemples d'astre ?", "quels sont des exemples d astres"),
    ("date de la bataille de Verdun", "date de la bataille de verdun ?"),
    ("le suspect a-t-il un avocat", "le suspect a t il un avocat ?"),
    ("prolongation de la garde à vue", "la prolongation de la garde à vue"),
]
FAR = [  # related but a different need: a cached answer would be wrong
    ("bug de migration alembic", "bug de migration django"),
    ("procédure de garde à vue", "procédure de perquisition"),
    ("rendez-vous devant la gare", "rendez-vous devant la mairie"),
    ("configurer le proxy nginx", "configurer le proxy apache"),
    ("prolongation de la garde à vue", "levée de la garde à vue"),
    ("comment lancer les tests pytest", "comment écrire les tests pytest"),
    ("erreur de connexion à la base de données", "erreur de connexion au serveur SMTP"),
    ("date de la bataille de Verdun", "date de la bataille de la Somme"),
    ("le suspect a-t-il un avocat", "le témoin a-t-il un avocat"),
    ("message insultant envers la police", "message menaçant envers la police"),
    ("capitale de la France", "capitale de l'Italie"),
    ("rdv demain 14h", "rdv demain 16h"),
]


def cache_threshold() -> dict[str, Any]:
    from pisteur.embed import load_embedder
    from pisteur.serve.cache import SemanticCache, normalize_query, term_key

    e5 = load_embedder("e5", workers=1)

    def cos(a: str, b: str) -> float:
        v = e5.embed_queries([a, b])
        return float(v[0] @ v[1])

    near = [(a, b, cos(a, b), normalize_query(a) == normalize_query(b)) for a, b in NEAR]
    far = [(a, b, cos(a, b)) for a, b in FAR]
    qs = _queries(60, seed=7)
    vs = e5.embed_queries(qs)
    sims = vs @ vs.T
    unrelated = [float(sims[i, j]) for i in range(len(qs)) for j in range(i + 1, len(qs))]
    res = {
        "near_duplicates": [{"a": a, "b": b, "cos": round(c, 4), "exact_after_normalisation": x}
                            for a, b, c, x in near],
        "different_needs": [{"a": a, "b": b, "cos": round(c, 4)} for a, b, c in far],
        "unrelated_piaf_pairs": {"n": len(unrelated), "mean": round(statistics.fmean(unrelated), 4),
                                 "max": round(max(unrelated), 4)},
        "min_near_not_exact": round(min((c for _, _, c, x in near if not x), default=1.0), 4),
        "max_different": round(max(c for _, _, c in far), 4),
    }
    # what the shipped rule does with these pairs (exact, then cosine or same-terms-and-cosine)
    hits_near, false_hits = 0, 0
    for pairs, bucket in ((NEAR, "near"), (FAR, "far")):
        for a, b in pairs:
            c = SemanticCache()
            c.check_generation(0)
            va, vb = e5.embed_queries([a, b])
            c.put(a, (), va, "A", term_key(a))
            hit = c.get_exact(b, ()) is not None or c.get_near(vb, (), term_key(b)) is not None
            if bucket == "near":
                hits_near += hit
            else:
                false_hits += hit
    res["shipped_rule"] = {"threshold": SemanticCache().threshold, "term_threshold": SemanticCache().term_threshold,
                           "near_duplicates_served": f"{hits_near}/{len(NEAR)}",
                           "different_needs_served_wrongly": f"{false_hits}/{len(FAR)}"}
    e5.close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--piaf", type=Path, help="piaf-dev in BEIR layout (default: $PISTEUR_EVAL_DIR/piaf-dev)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--index", type=Path, required=True)
    b.add_argument("--chunks", type=int, default=10_000)
    b.add_argument("--model", default="e5", help="e5 (default) or use")
    r = sub.add_parser("run")
    r.add_argument("--index", type=Path, required=True)
    r.add_argument("-n", type=int, default=200)
    r.add_argument("--only", choices=["stdio", "http"], default=None)
    sub.add_parser("cache-threshold")
    lv = sub.add_parser("live")
    lv.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    PIAF_ARG[0] = a.piaf
    if a.cmd == "build":
        build(a.index, a.chunks, model=a.model)
    elif a.cmd == "run":
        qs = _queries(2 * a.n + 10)  # distinct queries: the first pass over a set is all cache misses
        warm, set_a, set_b = qs[:10], qs[10:10 + a.n], qs[10 + a.n:]
        from pisteur.store import open_store

        st = open_store(a.index)
        res: dict[str, Any] = {"chunks": st.stats()["chunks"], "model": st.manifest()["model"]["spec"],
                               "queries": a.n}
        st.close()
        if a.only in (None, "stdio"):
            res.update(run_stdio(a.index, set_a, warm))
        if a.only in (None, "http"):
            res.update(run_http(a.index, set_a, warm, set_b))
        print(json.dumps(res, indent=2, ensure_ascii=False))
        print(write_result("serve_latency-run", command_line(), res), file=sys.stderr)
    elif a.cmd == "live":
        res = live_freshness(a.rounds)
        print(json.dumps(res, indent=2))
        print(write_result("serve_latency-live", command_line(), res), file=sys.stderr)
    else:
        res = cache_threshold()
        print(json.dumps(res, indent=2, ensure_ascii=False))
        print(write_result("serve_latency-cache-threshold", command_line(), res), file=sys.stderr)


if __name__ == "__main__":
    main()
