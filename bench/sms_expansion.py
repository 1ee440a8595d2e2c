"""Bench: does a standard-form query find the SMS that only have the abbreviated or misspelt form?

Data: a BEIR-less folder with ``sms_pairs.jsonl`` (``{"id", "raw", "norm"}``: a real SMS and its hand
normalisation), e.g. /work/shared/eval/sms-dev. Evaluation only: no message is written anywhere.

For each standard-form query ("rendez-vous", "t'inquiète", "désolé", ...), the *targets* are the SMS whose
normalisation contains the query's words (stemmed surface match) while the raw SMS does not (not even
without accents): the SMS that hold only an abbreviated or misspelt form. Score: the fraction of targets
ranked within the top 20 by an in-memory BM25 over ``pisteur.retrieve.analysis.analyze`` of the raw SMS,
with and without ``expand_query`` (expanded terms weighted as the expansion says).

Because the shipped SMS dictionary was derived from these same 500 SMS, the script also runs a held-out
split: it mines raw → norm variants (token alignment) on one half, builds a dictionary from that half only,
and measures on the other half's targets (both ways round).

    python bench/sms_expansion.py /work/shared/eval/sms-dev [--k 20] [--mine]

``--mine`` prints the mined variant counts over all SMS (the starting point of dictionaries/sms.toml).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from pisteur.retrieve.analysis import analyze, analyze_query, stem, surface_tokens
from pisteur.retrieve.expand import Dictionaries, _Dict, expand_query, load_dictionaries

QUERIES = [
    "rendez-vous", "t'inquiète", "désolé", "s'il te plaît", "beaucoup", "quelqu'un", "quelque chose",
    "pourquoi", "je sais pas", "toujours", "aujourd'hui", "d'accord", "mort de rire", "bisous", "coucou",
    "après-midi", "appartement", "avec", "quand", "problème", "message", "week-end", "parce que",
    "comment", "disponible", "je suis", "tout", "demain", "ouais", "non", "bonjour", "salut", "vraiment",
    "c'est", "il y a", "je t'aime", "quoi", "tout à l'heure", "j'ai", "pour", "dans", "vous", "nous",
    "toulouse", "montpellier", "batterie", "faculté", "enfin",
]


def load_pairs(folder: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in (folder / "sms_pairs.jsonl").open(encoding="utf-8")]


def mine(pairs: Sequence[dict[str, str]]) -> Counter[tuple[str, str]]:
    """(raw span, norm span) counts from aligning raw and norm surface tokens, where they differ in analysis."""
    counts: Counter[tuple[str, str]] = Counter()
    for p in pairs:
        a, b = surface_tokens(p["raw"]), surface_tokens(p["norm"])
        sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op != "replace" or i2 - i1 > 3 or j2 - j1 > 4:
                continue
            raw, norm = " ".join(a[i1:i2]), " ".join(b[j1:j2])
            if raw.replace(" ", "") == norm.replace(" ", "") and set(analyze(raw)) == set(analyze(norm)):
                continue
            if set(analyze(raw)) == set(analyze(norm)) or not any(c.isalpha() for c in raw):
                continue
            counts[(raw, norm)] += 1
    return counts


def mined_dictionary(pairs: Sequence[dict[str, str]], min_count: int = 1) -> Dictionaries:
    groups: dict[str, list[str]] = defaultdict(list)
    for (raw, norm), n in mine(pairs).items():
        if n >= min_count:
            groups[norm].append(raw)
    d = _Dict(name="mined", weight={"synonyms": 0.8, "abbreviations": 0.8, "concepts": 0.6})
    d.tables["synonyms"] = dict(groups)
    return Dictionaries([d])


class BM25:
    def __init__(self, docs: Sequence[list[str]], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.tf = [Counter(d) for d in docs]
        self.len = [len(d) for d in docs]
        self.avg = sum(self.len) / max(1, len(docs))
        df: Counter[str] = Counter()
        for c in self.tf:
            df.update(c.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def rank(self, weights: dict[str, float]) -> list[int]:
        scores = []
        for i, c in enumerate(self.tf):
            s = 0.0
            for t, w in weights.items():
                f = c.get(t)
                if f:
                    norm = self.k1 * (1 - self.b + self.b * self.len[i] / self.avg)
                    s += w * self.idf[t] * f * (self.k1 + 1) / (f + norm)
            scores.append(s)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [i for i in order if scores[i] > 0]


def _contains(hay: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(hay[i : i + n]) == needle for i in range(len(hay) - n + 1))


def targets(pairs: Sequence[dict[str, str]], query: str) -> list[int]:
    key = tuple(stem(t) for t in surface_tokens(query))
    out = []
    for i, p in enumerate(pairs):
        raw = [stem(t) for t in surface_tokens(p["raw"])]
        norm = [stem(t) for t in surface_tokens(p["norm"])]
        if _contains(norm, key) and not _contains(raw, key):
            out.append(i)
    return out


def evaluate(
    pairs: Sequence[dict[str, str]], index: BM25, eval_ids: set[int], dicts: Dictionaries | None, k: int
) -> tuple[int, int, dict[str, tuple[int, int]]]:
    hit = tot = 0
    per: dict[str, tuple[int, int]] = {}
    for q in QUERIES:
        tg = [i for i in targets(pairs, q) if i in eval_ids]
        if not tg:
            continue
        if dicts is None:
            weights = dict.fromkeys(analyze_query(q), 1.0)
        else:
            weights = expand_query(q, dicts).term_weights()
        top = set(index.rank(weights)[:k])
        h = sum(1 for i in tg if i in top)
        per[q] = (h, len(tg))
        hit, tot = hit + h, tot + len(tg)
    return hit, tot, per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--mine", action="store_true", help="print mined raw -> norm variants and exit")
    args = ap.parse_args()
    pairs = load_pairs(args.folder)
    if args.mine:
        for (raw, norm), n in mine(pairs).most_common():
            print(n, repr(raw), "->", repr(norm))
        return
    t0 = time.perf_counter()
    index = BM25([analyze(p["raw"]) for p in pairs])
    shipped = load_dictionaries(user=False)
    ids = list(range(len(pairs)))
    random.Random(args.seed).shuffle(ids)
    half_a, half_b = set(ids[: len(ids) // 2]), set(ids[len(ids) // 2 :])
    every = set(ids)

    def pct(h: int, t: int) -> str:
        return f"{h}/{t} = {100 * h / max(1, t):.1f} %"

    rows = []
    base = evaluate(pairs, index, every, None, args.k)
    ship = evaluate(pairs, index, every, shipped, args.k)
    rows.append(("all 500", "BM25 alone", pct(*base[:2])))
    rows.append(("all 500", "BM25 + shipped dictionaries (derived on all 500: in-sample)", pct(*ship[:2])))
    for name, train, test in (("A→B", half_a, half_b), ("B→A", half_b, half_a)):
        mined = mined_dictionary([pairs[i] for i in sorted(train)])
        rows.append((f"held-out {name}", "BM25 alone", pct(*evaluate(pairs, index, test, None, args.k)[:2])))
        rows.append((f"held-out {name}", "BM25 + dictionary mined on the other half only",
                     pct(*evaluate(pairs, index, test, mined, args.k)[:2])))
        rows.append((f"held-out {name}", "BM25 + shipped dictionaries (in-sample)",
                     pct(*evaluate(pairs, index, test, shipped, args.k)[:2])))
    print(f"| split | configuration | targets in top {args.k} |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    print(f"\nper query (all 500), BM25 alone vs + shipped dictionaries, targets in top {args.k}:")
    print("| query | BM25 | + expansion |\n|---|---|---|")
    for q, (h, t) in ship[2].items():
        hb = base[2].get(q, (0, t))[0]
        print(f"| {q} | {hb}/{t} | {h}/{t} |")
    print(f"\n({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
