"""Agreement between the two labelling passes of the concept chat set (Cohen's kappa per concept).

    python bench/concept_agreement.py [FOLDER]   # default: tests/fixtures/concept-chat

Each concept is a yes/no decision per message; kappa = (p_o - p_e) / (1 - p_e) (Cohen 1960). Prints the
kappa per concept, the pooled kappa over all (message, concept) decisions and the messages where the passes
differ, so they can be resolved in ``labels.tsv``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "tests" / "fixtures" / "concept-chat"
CONCEPTS = ("insulte", "menace", "racisme", "homophobie", "physique", "humiliation")


def read_labels(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        mid, _, labels = line.partition("\t")
        out[mid] = {x for x in labels.split(",") if x}
    return out


def kappa(a: list[bool], b: list[bool]) -> float:
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    p_e = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)


def agreement(folder: Path) -> dict[str, object]:
    one, two = read_labels(folder / "labels_pass1.tsv"), read_labels(folder / "labels_pass2.tsv")
    ids = sorted(one)
    per = {}
    pooled_a: list[bool] = []
    pooled_b: list[bool] = []
    for c in CONCEPTS:
        a, b = [c in one[i] for i in ids], [c in two[i] for i in ids]
        per[c] = {"kappa": round(kappa(a, b), 3), "pass1": sum(a), "pass2": sum(b)}
        pooled_a += a
        pooled_b += b
    diff = {i: {"pass1": sorted(one[i]), "pass2": sorted(two[i])} for i in ids if one[i] != two[i]}
    return {
        "messages": len(ids),
        "kappa_pooled": round(kappa(pooled_a, pooled_b), 3),
        "exact_match": round(1 - len(diff) / len(ids), 3),
        "per_concept": per,
        "disagreements": diff,
    }


if __name__ == "__main__":
    print(json.dumps(agreement(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT), ensure_ascii=False, indent=1))
