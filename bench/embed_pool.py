"""Embedding with a pool of servers: chunks/s with 1, 2 and 4 local stub servers speaking Ollama's /api/embed.

    python bench/embed_pool.py [--delay 0.5] [--batch 32] [--chunks 2048]

Each stub answers a request after ``delay`` seconds (standing for a GPU server's time per batch), with
deterministic vectors. What this measures is the pool's scheduling: how close N servers get to N times one
server's rate. Writes bench/results/embed_pool.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "embed"))

from stubs import StubServer, ollama_stub  # noqa: E402

from pisteur.embed import load_embedder  # noqa: E402

# small vectors: the stubs run in this process, so JSON and hashing must not be what is measured
MODEL, DIMS = "stub-embedding", 64


def delayed(stub: StubServer, delay: float) -> StubServer:
    inner = stub.route

    def route(srv: StubServer, path: str, p: dict[str, Any], h: dict[str, str]) -> tuple[int, Any]:
        time.sleep(delay)
        return inner(srv, path, p, h)

    stub.route = route
    return stub


def run(servers: int, per_server: int, a: argparse.Namespace) -> dict[str, float]:
    texts = [f"chunk {i}: procès-verbal d'audition, page {i % 97}" for i in range(a.chunks)]
    with ExitStack() as stack:
        stubs = [stack.enter_context(delayed(ollama_stub({MODEL: DIMS}), a.delay)) for _ in range(servers)]
        emb = load_embedder(f"pool:ollama:{MODEL}", urls=[s.url for s in stubs], batch_size=a.batch,
                            per_server=per_server)
        t0 = time.perf_counter()
        vecs = emb.embed_documents(texts)
        secs = time.perf_counter() - t0
        per = [len(s.requests) for s in stubs]
    assert vecs.shape == (len(texts), DIMS)
    ideal = a.batch / a.delay * servers * per_server
    return {"servers": servers, "per_server": per_server, "seconds": round(secs, 2),
            "chunks_per_s": round(len(texts) / secs, 1), "ideal_chunks_per_s": round(ideal, 1),
            "efficiency": round(len(texts) / secs / ideal, 3), "requests_per_server": per}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.5, help="seconds per request at each stub server")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--chunks", type=int, default=2048)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "embed_pool.json"))
    a = ap.parse_args()
    rows = [run(n, 1, a) for n in (1, 2, 4)] + [run(2, 2, a)]
    base = rows[0]["chunks_per_s"]
    for r in rows:
        r["speedup_vs_1"] = round(r["chunks_per_s"] / base, 2)
    from _common import command_line, write_result

    path = write_result(Path(a.out).stem, command_line(),
                        {"delay_s": a.delay, "batch": a.batch, "chunks": a.chunks, "runs": rows},
                        out_dir=Path(a.out).parent)
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
