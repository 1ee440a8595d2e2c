"""Several models in one ``pisteur bench`` run (the bake-off), and ``--tune`` (each configuration also run
on the index tuned to the dataset's corpus alone: synthetic queries, calibration, adapter; never the
dataset's own queries or judgments). ``--tune-full`` adds a fine-tuned row: the model fine-tuned on the
same synthetic set's train split (extra ``st``), the corpus indexed again with it.

The bake-off table, per model: index build time, bytes on disk, nDCG@10 and recall@10 over French and over
English queries (language told by stop words), query p50; the recommendation is the best nDCG@10, unless a
model within ``CLOSE`` of it on every configuration run is at least twice as fast to query or to index
(then that one, saying why).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CLOSE = 0.01  # nDCG@10: "as good" for the recommendation
TUNED, FINETUNED = " tuned", " fine-tuned"  # label suffixes of the tuned rows


def base_label(label: str) -> str:
    """A configuration's label without its tuned suffix."""
    return label.removesuffix(TUNED).removesuffix(FINETUNED)


def expand_models(configs: Sequence[Any], models: Sequence[str]) -> list[Any]:
    """Configurations without ``@MODEL`` run once per model (labels get ``@MODEL`` when there are several)."""
    if len(models) <= 1:
        return [c if c.model else dataclasses.replace(c, model=models[0] if models else None) for c in configs]
    out = []
    for c in configs:
        if c.model:
            out.append(c)
        else:
            out.extend(dataclasses.replace(c, label=f"{c.label}@{m}", model=m) for m in models)
    return out


def tuned_configs(configs: Sequence[Any], folders: dict[str, Path]) -> list[Any]:
    """Each configuration twice: untuned (``tuning=False``) and tuned (``tuning=<folder of its model>``)."""
    out = []
    for c in configs:
        out.append(dataclasses.replace(c, options={**c.options, "tuning": False}))
        folder = folders.get(c.model or "")
        if folder is not None:
            out.append(dataclasses.replace(c, label=f"{c.label} tuned", options={**c.options, "tuning": str(folder)}))
    return out


def tune_bench_index(index_path: Path, store: Any, embedder: Any, log: Callable[[str], None]) -> tuple[Path, Any]:
    """Tune a bench index on its corpus alone; the tuning goes beside the index (``<index>.tune/``), so the
    index itself stays untuned for the other runs. Returns the folder and the report."""
    from pisteur.tune.pipeline import tune_index

    folder = index_path.with_name(index_path.name + ".tune")
    return folder, tune_index(store, embedder, folder, log=log)


def finetune_bench_model(spec: str, index_path: Path, store: Any, embedder: Any,
                         log: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    """Fine-tune the bench model on the corpus (beside the index, ``<index>.finetuned``), from a synthetic set of
    the kinds fine-tuning trains on; returns the ``st:FOLDER`` spec of the fine-tuned model and the report.
    Raises ``FinetuneError`` for a model torch cannot load (only ``e5-small`` and ``st:FOLDER`` can be
    fine-tuned)."""
    from pisteur.tune.finetune import (
        PACKAGED,
        FinetuneError,
        FinetuneOptions,
        finetune,
        load_base,
        model_prefixes,
        training_set_options,
        training_triples,
    )
    from pisteur.tune.synth import make_set

    name = spec if spec in PACKAGED or spec.startswith("st:") else embedder.name
    if name not in PACKAGED and not name.startswith("st:"):
        raise FinetuneError(f"{spec}: only e5-small and st:FOLDER models can be fine-tuned")
    model = load_base(name, "auto", log=log)
    qp, dp = model_prefixes(model)
    desc = embedder.describe()
    qp, dp = qp or desc.get("query_prefix", ""), dp or desc.get("document_prefix", "")
    synth = make_set(store, embedder, training_set_options(), progress=log).ensure_vectors(embedder)
    triples = training_triples(store, synth)
    out = index_path.with_name(index_path.name + ".finetuned")
    report = finetune(model, triples, [], out, FinetuneOptions(query_prefix=qp, document_prefix=dp), log=log)
    return f"st:{out}", report


def finetuned_configs(configs: Sequence[Any], spec: str) -> list[Any]:
    """The untuned configurations again, on the fine-tuned model's index."""
    return [dataclasses.replace(c, label=base_label(c.label) + FINETUNED, model=spec,
                                options={**c.options, "tuning": False})
            for c in configs if not c.label.endswith(TUNED)]


def _lang_metrics(r: Any, langs: dict[str, str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for lang in ("fr", "en"):
        qids = [q for q in r.per_query.get("ndcg@10", {}) if langs.get(q) == lang]
        if qids:
            out[lang] = {m: round(sum(r.per_query[m][q] for q in qids) / len(qids), 4)
                         for m in ("ndcg@10", "recall@10")} | {"queries": len(qids)}
    return out


def bakeoff(results: Sequence[Any], indexes: dict[str, dict[str, Any]], queries: dict[str, str],
            config_label: str | None = None) -> dict[str, Any]:
    """One row per model, on the configuration ``config_label`` (default: the last preset run per model)."""
    from pisteur.tune.generate import language

    langs = {q: language(t) for q, t in queries.items()}
    by_model: dict[str, Any] = {}
    every: dict[str, dict[str, float]] = {}  # model -> configuration -> nDCG@10
    for r in results:
        if r.config.label != base_label(r.config.label):
            continue
        base = r.config.label.split("@")[0]
        every.setdefault(r.model, {})[base] = round(r.metrics["ndcg@10"], 4)
        if config_label is None or base == config_label:
            by_model[r.model] = r
    rows = []
    for model, r in by_model.items():
        info = indexes.get(model, {})
        rows.append({"model": model, "config": r.config.label, "ndcg@10": round(r.metrics["ndcg@10"], 4),
                     "recall@10": round(r.metrics["recall@10"], 4), "by_language": _lang_metrics(r, langs),
                     "p50_ms": round(r.latency_ms["p50"], 2), "build_seconds": info.get("build_seconds"),
                     "bytes_on_disk": info.get("bytes_on_disk"), "verify": info.get("verify"),
                     "ndcg_by_config": every.get(model, {})})
    return {"rows": rows, "recommendation": recommend(rows) + _verify_warning(rows)}


def _verify_warning(rows: Sequence[dict[str, Any]]) -> str:
    """Models whose vectors differ from a second runtime of the same model: their scores are not the model's."""
    bad = [f"{r['model']} (against {r['verify']['reference']})" for r in rows
           if (r.get("verify") or {}).get("passed") is False]
    return ("; warning: vectors differ from the same model's other runtime for " + ", ".join(bad)
            + " (check its prefixes, EOS token and pooling with `pisteur models verify`)") if bad else ""


def _as_good(r: dict[str, Any], best: dict[str, Any]) -> bool:
    """Within ``CLOSE`` of the best model on every configuration both ran. The pipeline's BM25 can carry a
    weaker model on queries that share many words with their passage (synthetic queries do): on piaf-dev's
    synthetic queries use-m3's pipeline came within 0.01 of e5's while its dense list trailed by 0.08, and on
    real questions e5 led by 0.05. The dense list alone shows the model itself."""
    mine, theirs = r.get("ndcg_by_config") or {}, best.get("ndcg_by_config") or {}
    shared = set(mine) & set(theirs)
    return best["ndcg@10"] - r["ndcg@10"] <= CLOSE and all(theirs[c] - mine[c] <= CLOSE for c in shared)


def recommend(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    best = max(rows, key=lambda r: r["ndcg@10"])
    why = f"{best['model']}: best nDCG@10 ({best['ndcg@10']:.4f})"
    for r in sorted(rows, key=lambda r: r["p50_ms"]):
        if r is best or not _as_good(r, best):
            continue
        faster = r["p50_ms"] * 2 <= best["p50_ms"]
        lighter = (r.get("build_seconds") or 0) * 2 <= (best.get("build_seconds") or 0)
        if faster or lighter:
            return (f"{r['model']}: nDCG@10 {r['ndcg@10']:.4f}, within {CLOSE} of {best['model']} on every "
                    f"configuration run "
                    f"({best['ndcg@10']:.4f}), with query p50 {r['p50_ms']:.1f} ms against {best['p50_ms']:.1f} ms "
                    f"and index build {r.get('build_seconds')} s against {best.get('build_seconds')} s")
    if len(rows) > 1:
        second = sorted(rows, key=lambda r: -r["ndcg@10"])[1]
        why += f", {best['ndcg@10'] - second['ndcg@10']:+.4f} over {second['model']}"
    return why


def tuning_summary(results: Sequence[Any], reports: dict[str, Any]) -> dict[str, Any]:
    """Tuned next to untuned, per configuration, and what the tuning chose."""
    by_label = {r.config.label: r for r in results}
    pairs = []
    for label, r in by_label.items():
        for suffix in (TUNED, FINETUNED):
            t = by_label.get(label + suffix)
            if t is not None and label == base_label(label):
                pairs.append({"config": label if suffix == TUNED else label + suffix, "tuning": suffix.strip(),
                              "untuned": round(r.metrics["ndcg@10"], 4),
                              "tuned": round(t.metrics["ndcg@10"], 4),
                              "gain": round(t.metrics["ndcg@10"] - r.metrics["ndcg@10"], 4)})
    return {"pairs": pairs, "reports": json.loads(json.dumps(reports, default=str))}
