"""Where the query-expansion time of a cold ``pisteur search`` goes, and what the dictionary cache saves.

    python bench/expansion_latency.py [--runs 5]

Each measurement runs in a fresh Python process (a CLI search is one), with the imports a search makes
already done, and times the first expansion of a query (all three source profiles):

- ``build``: no cache: every dictionary file parsed and every form analysed;
- ``pickle``: the whole merged index unpickled (what the product did before: a pickle in the cache folder);
- ``json-shards``: the current cache: JSON shards, only those of the query's words read.

Writes ``bench/results/expansion_latency.json``. The ratio between lines of one run is the figure to quote;
absolute times depend on the machine's load (stated in the file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import os, sys, time, pickle
from pisteur.retrieve.options import SearchOptions
from pisteur.retrieve import first_stage, lexicon, dictcache, expand
import pisteur.text.analysis, pisteur.config, platformdirs, json, hashlib, zlib, tomllib
how, query = sys.argv[1], sys.argv[2]
t = time.perf_counter()
if how == "build":
    d = lexicon.load_dictionaries()
elif how == "pickle":
    d = pickle.loads(open(os.environ["BENCH_PICKLE"], "rb").read())
else:
    d = lexicon.default_dictionaries()
for p in ("sessions", "documents", "messages"):
    expand.expand_query(query, d, profile=p)
print(time.perf_counter() - t)
"""


def run(how: str, query: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, how, query], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--query", default="rendez-vous avec le suspect")
    args = ap.parse_args()
    from pisteur.retrieve import lexicon

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PISTEUR_CACHE": tmp, "PISTEUR_DICTIONARIES": str(Path(tmp) / "none")}
        pickled = Path(tmp) / "index.pickle"
        import pickle

        pickled.write_bytes(pickle.dumps(lexicon.load_dictionaries(user=False), protocol=pickle.HIGHEST_PROTOCOL))
        env["BENCH_PICKLE"] = str(pickled)
        run("json-shards", args.query, env)  # writes the cache once
        results = {}
        for how in ("build", "pickle", "json-shards"):
            times = [run(how, args.query, env) for _ in range(args.runs)]
            ms = [round(t * 1000, 1) for t in times]
            results[how] = {"median_ms": round(statistics.median(times) * 1000, 1), "runs_ms": ms}
    base = results["json-shards"]["median_ms"]
    for r in results.values():
        r["ratio_to_json_shards"] = round(r["median_ms"] / base, 1) if base else None
    from _common import write_result

    out = write_result("expansion_latency", " ".join(["python", "bench/expansion_latency.py", *sys.argv[1:]]),
                       {"query": args.query, "variants": results})
    print(out.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
