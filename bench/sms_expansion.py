"""Bench: does a standard-form query find the SMS that only have the abbreviated or misspelt form?

Data: a BEIR-less folder with ``sms_pairs.jsonl`` (``{"id", "raw", "norm"}``: a real SMS and its hand
normalisation), e.g. $PISTEUR_EVAL_DIR/sms-dev. Evaluation only: no message is written anywhere.

For each standard-form query ("rendez-vous", "t'inquiète", "désolé", ...), the *targets* are the SMS whose
normalisation contains the query's words (stemmed surface match) while the raw SMS does not (not even
without accents): the SMS that hold only an abbreviated or misspelt form. Score: the fraction of targets
ranked within the top 20 by an in-memory BM25 over ``pisteur.retrieve.analysis.analyze`` of the raw SMS,
with and without ``expand_query`` (expanded terms weighted as the expansion says).

Because the shipped SMS dictionary was derived from these same 500 SMS, the script also runs a held-out
split: it mines raw → norm variants (token alignment) on one half, builds a dictionary from that half only,
and measures on the other half's targets (both ways round).

    python bench/sms_expansion.py [SMS_DEV] [--k 20] [--mine] [--concepts]    # default $PISTEUR_EVAL_DIR/sms-dev
    python bench/sms_expansion.py --analysis [PIAF_DEV]                        # default $PISTEUR_EVAL_DIR/piaf-dev

BM25 is ``_bm25.Bm25``, the replica of the store's FTS5 ``bm25()`` (pinned to the store by a test).

``--concepts`` measures concept queries ("insulte", "menace de mort"): how many of the top 10 are real
insults/threats among hand-written chat lines mixed into the SMS, next to lines that only talk about them.
``--mine`` prints the mined variant counts over all SMS (the starting point of dictionaries/sms.toml).
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _bm25 import Bm25 as BM25  # noqa: E402
from _common import Tables, command_line, eval_path, write_result  # noqa: E402

from pisteur.evaluate.beir import load_dataset  # noqa: E402
from pisteur.evaluate.metrics import ndcg_at  # noqa: E402
from pisteur.retrieve.expand import Dictionaries, _Dict, expand_query, load_dictionaries  # noqa: E402
from pisteur.text.analysis import analyze, analyze_query, stem, surface_tokens

TABLES = Tables()

# Content queries: what a user would search for. Function-word queries (stop words, not indexed by BM25)
# are reported apart: their standard form is dropped by the analyser, so they measure little.
QUERIES = [
    "rendez-vous", "t'inquiète", "désolé", "s'il te plaît", "beaucoup", "quelqu'un", "quelque chose",
    "pourquoi", "je sais pas", "toujours", "aujourd'hui", "d'accord", "mort de rire", "bisous", "coucou",
    "après-midi", "appartement", "problème", "message", "week-end", "parce que", "comment", "disponible",
    "demain", "ouais", "non", "bonjour", "salut", "vraiment", "il y a", "je t'aime", "quoi", "tout à l'heure",
    "toulouse", "montpellier", "batterie", "faculté", "enfin", "maintenant", "peut-être", "anniversaire",
]
BRIEF_QUERIES = QUERIES[:9]  # the reference examples of the project's requirements
FUNCTION_QUERIES = ["avec", "quand", "tout", "je suis", "c'est", "j'ai", "pour", "dans", "vous", "nous"]


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


def _stems(text: str) -> list[str]:
    return [stem(t) for t in surface_tokens(text)]


def _contains(hay: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(hay[i : i + n]) == needle for i in range(len(hay) - n + 1))


def targets(pairs: Sequence[dict[str, str]], query: str) -> list[int]:
    key = tuple(stem(t) for t in surface_tokens(query))
    out = []
    for i, p in enumerate(pairs):
        raw, norm = _stems(p["raw"]), _stems(p["norm"])
        if _contains(norm, key) and not _contains(raw, key):
            out.append(i)
    return out


def _standard(pairs: Sequence[dict[str, str]], query: str) -> list[int]:
    key = tuple(stem(t) for t in surface_tokens(query))
    return [i for i, p in enumerate(pairs) if _contains(_stems(p["raw"]), key)]


def evaluate(
    pairs: Sequence[dict[str, str]],
    index: BM25,
    eval_ids: set[int],
    dicts: Dictionaries | None,
    k: int,
    queries: Sequence[str] = QUERIES,
    skip_standard: bool = False,
) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """Targets ranked within the top k. With ``skip_standard``, the SMS whose raw text already has the
    standard form (right answers too, but not targets) are taken out of the ranking first."""
    hit = tot = 0
    per: dict[str, tuple[int, int]] = {}
    for q in queries:
        tg = [i for i in targets(pairs, q) if i in eval_ids]
        if not tg:
            continue
        if dicts is None:
            weights = dict.fromkeys(analyze_query(q), 1.0)
        else:
            weights = expand_query(q, dicts).term_weights()
        ranking = index.rank(weights)
        if skip_standard:
            has = set(_standard(pairs, q))
            ranking = [i for i in ranking if i not in has]
        top = set(ranking[:k])
        h = sum(1 for i in tg if i in top)
        per[q] = (h, len(tg))
        hit, tot = hit + h, tot + len(tg)
    return hit, tot, per


# Concept bench: chat messages written by hand for pisteur (not from any dataset), mixed into the 500 raw SMS
# as background. MENTIONS talk about insults/threats or use the same words innocently: they must not win.
INSULTS = [
    "ta gueule sale con", "t'es qu'un connard fini", "va te faire foutre espèce d'abruti", "nique ta mère fdp",
    "bande d'enculés", "sale pute tu crois quoi", "ferme ta gueule bouffon", "nique la police",
    "mort aux flics acab", "t'es trop débile mec sérieux", "pauvre tocard va", "ntm", "grosse salope",
    "enfoiré tu m'as volé mon tel", "ptn t'es vraiment un crétin", "casse toi pauvre con", "tg le clochard",
    "sale bâtard", "les keufs c'est des porcs", "t'es une merde",
]
THREATS = [
    "je vais te tuer", "t'es mort ce soir", "je sais où tu habites fais gaffe",
    "on va te retrouver et tu vas le regretter", "je vais te planter sale chien", "tu vas crever",
    "je vais te défoncer à la sortie", "attends toi à une visite on sait où tu vis",
    "tu vas payer pour ce que t'as fait", "je vais brûler ta caisse", "tes mort si tu parles",
    "je vais te casser la gueule demain", "dernier avertissement après c'est la balle", "je vais te faire la peau",
    "on va s'occuper de ta famille",
]
MENTIONS = [
    "pas d'insultes entre nous stp", "il m'a insulté hier au lycée", "je déteste quand les gens s'insultent",
    "la prof a parlé des injures sur internet", "arrête les menaces c'est pas drôle",
    "il a reçu des menaces il a porté plainte", "on a eu un cours sur le harcèlement et les insultes",
    "c'est quoi une menace de mort en droit ?", "elle se fait insulter tous les jours c'est triste",
    "les gros mots c'est interdit à la maison", "tu me menaces là ?", "je tue le temps en attendant le bus",
    "je suis mort de rire", "mon téléphone est mort", "ce film est mortel", "on se retrouve où ?",
    "t'inquiète je vais le retrouver ton chargeur", "la police est passée ce matin", "ma mère m'a appelé",
    "menace de pluie demain, prends un parapluie", "outrage au bon goût ce pull",
]
CONCEPT_QUERIES = {"insulte": INSULTS, "message insultant": INSULTS, "injure": INSULTS,
                   "menace": THREATS, "menace de mort": THREATS}


def _phrase_bonus(doc: list[str], phrases: Sequence, idf: dict[str, float]) -> float:
    bonus = 0.0
    for ph in phrases:
        n = len(ph.terms)
        if n and any(doc[i : i + n] == ph.terms for i in range(len(doc) - n + 1)):
            bonus += ph.weight * sum(idf.get(t, 0.0) for t in ph.terms)
    return bonus


def concept_bench(pairs: Sequence[dict[str, str]], dicts: Dictionaries) -> None:
    texts = [p["raw"] for p in pairs] + INSULTS + THREATS + MENTIONS
    docs = [analyze(t) for t in texts]
    index = BM25(docs)
    print(f"corpus: {len(pairs)} raw SMS + {len(INSULTS)} insults + {len(THREATS)} threats + {len(MENTIONS)}"
          " mentions/innocent uses (hand-written)\n")
    print("| query | BM25 | BM25 + expansion | + phrase bonus | expansion capped at 64 terms (`lexical_terms(64)`) |"
          "\n|---|---|---|---|---|")
    for q, positives in CONCEPT_QUERIES.items():
        rel = {texts.index(t) for t in positives}
        exp = expand_query(q, dicts)
        base = index.rank(dict.fromkeys(analyze_query(q), 1.0))[:10]
        expd = index.rank(exp.term_weights())
        scored = []
        for i in expd[:200]:
            s = sum(w * index.idf.get(t, 0.0) for t, w in exp.term_weights().items() if t in index.tf[i])
            scored.append((s + _phrase_bonus(docs[i], exp.phrases, index.idf), i))
        bonus = [i for _, i in sorted(scored, key=lambda x: -x[0])][:10]
        capped = index.rank(dict(exp.lexical_terms(64)))[:10]
        row = [sum(1 for i in r if i in rel) for r in (base, expd[:10], bonus, capped)]
        print(f"| {q} | {row[0]}/10 | {row[1]}/10 | {row[2]}/10 | {row[3]}/10 |")
        TABLES.add("concepts", ["query", "BM25", "BM25 + expansion", "+ phrase bonus",
                                "expansion capped at 64 terms (`lexical_terms(64)`)"], [q, *(f"{x}/10" for x in row)])


def analysis_ablation(piaf: Path) -> None:
    """BM25 nDCG@10 on a BEIR folder (piaf-dev) with the shipped analyser and with variants of it, on the
    queries as written and with their accents stripped (as typed on a phone or a US keyboard)."""
    import functools
    import unicodedata

    import Stemmer

    from pisteur.retrieve import analysis as a

    ds = load_dataset(piaf)
    ids = list(ds.corpus)
    corpus = [ds.corpus[d] for d in ids]
    queries = [(q, ds.queries[q]) for q in ds.judged_queries()]
    snowball = Stemmer.Stemmer("french")
    shipped_term = a._plain_term

    @functools.cache
    def stem_first(piece: str, keep_stop: bool) -> str | None:  # Snowball on the accented word, then fold
        f = a.fold(piece)
        if f.isdigit() or len(f) < 2 or (not keep_stop and f in a.STOP_WORDS):
            return f if f.isdigit() else None
        return a.fold(snowball.stemWord(piece.lower()))

    @functools.cache
    def no_stem(piece: str, keep_stop: bool) -> str | None:
        f = a.fold(piece)
        if f.isdigit():
            return f
        return None if len(f) < 2 or (not keep_stop and f in a.STOP_WORDS) else f

    def strip(t: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))

    print("| analyser | nDCG@10, queries as written | nDCG@10, queries without accents |\n|---|---|---|")
    for name, term in (("shipped: fold, then stem", shipped_term), ("stem, then fold", stem_first),
                       ("no stemming", no_stem)):
        a._plain_term = term
        a._analyze_token.cache_clear()
        index = BM25([a.analyze(f"{c.get('title', '')} {c['text']}") for c in corpus])
        row = []
        for accents in (True, False):
            total = n = 0.0
            for qid, qtext in queries:
                text = qtext if accents else strip(qtext)
                top = [ids[i] for i in index.rank(dict.fromkeys(a.analyze_query(text), 1.0))[:10]]
                total += ndcg_at(top, ds.qrels[qid], 10)
                n += 1
            row.append(f"{total / n:.4f}")
        print(f"| {name} | {row[0]} | {row[1]} |")
        TABLES.add("analysis", ["analyser", "nDCG@10, queries as written", "nDCG@10, queries without accents"],
                   [name, *row])
    a._plain_term = shipped_term
    a._analyze_token.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, nargs="?", help="sms-dev (default: $PISTEUR_EVAL_DIR/sms-dev)")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--mine", action="store_true", help="print mined raw -> norm variants and exit")
    ap.add_argument("--concepts", action="store_true", help="run the concept bench (insults/threats) and exit")
    ap.add_argument("--analysis", type=Path, metavar="BEIR_DIR", nargs="?", const=Path("-"),
                    help="ablation of the French analyser (fold/stem order) with BM25 on a BEIR folder (default:"
                    " $PISTEUR_EVAL_DIR/piaf-dev), and exit")
    args = ap.parse_args()
    if args.analysis:
        analysis_ablation(eval_path(None if str(args.analysis) == "-" else args.analysis, "piaf-dev"))
        print(write_result("sms_expansion-analysis", command_line(), {"tables": TABLES.tables}), file=sys.stderr)
        return
    pairs = load_pairs(eval_path(None if str(args.folder) in ("-", "None") else args.folder, "sms-dev"))
    if args.mine:
        for (raw, norm), n in mine(pairs).most_common():
            print(n, repr(raw), "->", repr(norm))
        return
    if args.concepts:
        concept_bench(pairs, load_dictionaries(user=False))
        print(write_result("sms_expansion-concepts", command_line(), {"tables": TABLES.tables}), file=sys.stderr)
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
    rows.append(("all 500", "BM25 alone", base, evaluate(pairs, index, every, None, args.k, skip_standard=True)))
    rows.append(("all 500", "BM25 + shipped dictionaries (in-sample)", ship,
                 evaluate(pairs, index, every, shipped, args.k, skip_standard=True)))
    for name, train, test in (("A→B", half_a, half_b), ("B→A", half_b, half_a)):
        mined = mined_dictionary([pairs[i] for i in sorted(train)])
        for label, d in (("BM25 alone", None), ("BM25 + dictionary mined on the other half only", mined),
                         ("BM25 + shipped dictionaries (in-sample)", shipped)):
            rows.append((f"held-out {name}", label, evaluate(pairs, index, test, d, args.k),
                         evaluate(pairs, index, test, d, args.k, skip_standard=True)))
    bb = evaluate(pairs, index, every, None, args.k, BRIEF_QUERIES)
    bs = evaluate(pairs, index, every, shipped, args.k, BRIEF_QUERIES)
    bm = [evaluate(pairs, index, test, mined_dictionary([pairs[i] for i in sorted(train)]), args.k, BRIEF_QUERIES)
          for train, test in ((half_a, half_b), (half_b, half_a))]
    fbase = evaluate(pairs, index, every, None, args.k, FUNCTION_QUERIES)
    fship = evaluate(pairs, index, every, shipped, args.k, FUNCTION_QUERIES)
    print(f"{len(QUERIES)} content queries; targets = SMS whose normalisation has the query's words and whose raw"
          f" text has not (k = {args.k})\n")
    print(f"| split | configuration | targets in top {args.k} | same, SMS already holding the standard form"
          " set aside |\n|---|---|---|---|")
    cols = ["split", "configuration", f"targets in top {args.k}",
            "same, SMS already holding the standard form set aside"]
    for split, label, strict, skip in rows:
        print(f"| {split} | {label} | {pct(*strict[:2])} | {pct(*skip[:2])} |")
        TABLES.add("splits", cols, [split, label, pct(*strict[:2]), pct(*skip[:2])])
    print(f"\nthe reference examples ({', '.join(BRIEF_QUERIES)}), all 500: BM25 {pct(*bb[:2])}, + shipped"
          f" dictionaries {pct(*bs[:2])}; held-out mined-only A→B {pct(*bm[0][:2])}, B→A {pct(*bm[1][:2])}")
    print(f"\nfunction-word queries ({', '.join(FUNCTION_QUERIES)}), all 500: BM25 {pct(*fbase[:2])},"
          f" + shipped dictionaries {pct(*fship[:2])}")
    print(f"\nper query (all 500), BM25 alone vs + shipped dictionaries, targets in top {args.k}:")
    print("| query | targets | BM25 | + expansion |\n|---|---|---|---|")
    for q, (h, t) in ship[2].items():
        hb = base[2].get(q, (0, t))[0]
        print(f"| {q} | {t} | {hb} | {h} |")
        TABLES.add("queries", ["query", "targets", "BM25", "+ expansion"], [q, t, hb, h])
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    summary = {"reference_examples": {"bm25": bb[:2], "shipped": bs[:2], "mined_a_b": bm[0][:2],
                                      "mined_b_a": bm[1][:2]},
               "function_words": {"bm25": fbase[:2], "shipped": fship[:2]}}
    print(write_result("sms_expansion", command_line(), {"k": args.k, **summary, "tables": TABLES.tables}),
          file=sys.stderr)


if __name__ == "__main__":
    main()
