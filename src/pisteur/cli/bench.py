"""``pisteur bench DATASET``: compare retrieval configurations on a BEIR-layout folder, through the product
(index built with the product chunker, store and embedder; queries answered by the product pipeline)."""

from __future__ import annotations

import datetime as dt
import json
import platform
from pathlib import Path
from typing import Annotated, Any

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
) -> None:
    """Measure retrieval quality and latency of several configurations on a BEIR-layout dataset."""
    from rich.console import Console
    from rich.table import Table

    from pisteur.chunk import ChunkerConfig
    from pisteur.embed import EmbedderError, load_embedder
    from pisteur.embed.cache import CachedEmbedder
    from pisteur.evaluate.beir import DatasetError, load_dataset, split_queries
    from pisteur.evaluate.index import build_index
    from pisteur.evaluate.report import render
    from pisteur.evaluate.runfile import write_run
    from pisteur.evaluate.runner import (
        DEFAULT_CONFIGS,
        PrecomputedQueries,
        embed_queries_timed,
        parse_config,
    )
    from pisteur.evaluate.runner import (
        run_config as run_one,
    )
    from pisteur.store import open_store

    err = Console(stderr=True)
    try:
        ds = load_dataset(dataset)
    except DatasetError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    specs = [s for c in (config or DEFAULT_CONFIGS) for s in c.split(";") if s.strip()]
    try:
        configs = [parse_config(s) for s in specs]
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    from pisteur.evaluate.bakeoff import bakeoff, expand_models, tune_bench_index, tuned_configs, tuning_summary

    models = model or ["e5"]
    configs = expand_models(configs, models)
    tune_reports: dict[str, Any] = {}
    judged = ds.judged_queries()
    if queries not in ("all", "train", "test"):
        err.print("[red]error:[/red] --queries must be all, train or test")
        raise typer.Exit(2)
    keep = set(split_queries(list(judged), queries))
    qs = {q: t for q, t in judged.items() if q in keep}
    if limit:
        qs = dict(list(qs.items())[:limit])
    if not qs:
        err.print("[red]error:[/red] no judged query in this dataset/fold")
        raise typer.Exit(2)
    base = ChunkerConfig()
    size = chunk_size or base.size
    if chunk_overlap is not None:
        overlap = chunk_overlap
    else:
        overlap = base.overlap if chunk_size is None else size // 8
    chunker = ChunkerConfig(size=size, overlap=overlap)
    by_model: dict[str, list[Any]] = {}
    for c in configs:
        by_model.setdefault(c.model or "", []).append(c)
    results = []
    indexes: dict[str, dict[str, Any]] = {}
    for spec, cfgs in by_model.items():
        try:
            emb = load_embedder(spec)
        except (EmbedderError, ImportError) as exc:
            err.print(f"[red]error:[/red] model '{spec}': {exc}")
            raise typer.Exit(2) from exc
        cached = CachedEmbedder(emb, (cache / "embeddings") if cache else None)
        err.print(f"[bold]{ds.name}[/bold]: index with {emb.name} ({len(ds.corpus)} documents)...")
        built = build_index(
            ds,
            cached,
            chunker=chunker,
            with_title=title,
            root=cache,
            progress=lambda a, n: err.print(f"  indexed {a}/{n}") if a % 512 < 64 else None,
        )
        indexes[emb.name] = {
            "path": str(built.path),
            "chunks": built.chunks,
            "bytes_on_disk": built.bytes_on_disk,
            "build_seconds": round(built.built_seconds, 2),
            "reused": built.reused,
            "embedded": built.embedded,
        }
        store = open_store(built.path)
        if tune:
            err.print("  tuning to the corpus alone (synthetic queries, calibration, adapter)...")
            folder, tune_reports[emb.name] = tune_bench_index(built.path, store, emb,
                                                              lambda m: err.print(f"  {m}", highlight=False))
            cfgs = tuned_configs(cfgs, {spec: folder})
        needs_dense = any(c.options.get("mode", "hybrid") != "lexical" for c in cfgs)
        secs: dict[str, float] = {}
        qemb: Any = emb
        if needs_dense:
            err.print(f"  embedding {len(qs)} queries with {emb.name} (timed one by one)...")
            vecs, secs = embed_queries_timed(emb, list(qs.values()))
            qemb = PrecomputedQueries(emb, vecs)
        for c in cfgs:
            err.print(f"  running {c.label} on {len(qs)} queries...")
            r = run_one(c, store, qemb, qs, ds.qrels, secs, depth=depth)
            r.index = indexes[emb.name]
            results.append(r)
        store.close()
        cached.close()
    order = {c.label: i for i, c in enumerate(configs)}
    results.sort(key=lambda r: (order[r.config.label.removesuffix(" tuned")], r.config.label.endswith(" tuned")))
    doc: dict[str, Any] = {
        "dataset": {"name": ds.name, "path": str(ds.path), "documents": len(ds.corpus), "queries": len(qs)},
        "queries_fold": queries,
        "chunker": chunker.to_manifest(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {platform.system()}, {__import__('os').cpu_count()} CPU",
        "results": [r.to_json() for r in results],
        "indexes": indexes,
    }
    if len(models) > 1:
        doc["bakeoff"] = bakeoff(results, indexes, qs)
    if tune:
        doc["tuning"] = tuning_summary(results, tune_reports)
    if run_file:
        tuned_labels = [r.config.label for r in results if r.config.label.endswith(" tuned")]
        fallback = ("default tuned" if "default tuned" in tuned_labels else tuned_labels[-1]) if tuned_labels else (
            results[-1].config.label)
        label = run_config or fallback
        chosen = next((r for r in results if r.config.label == label), None)
        if chosen is None:
            err.print(f"[red]error:[/red] --run-config '{label}' is not one of the configurations run")
            raise typer.Exit(2)
        write_run(run_file, chosen.run, f"pisteur-{label}")
        err.print(f"run of {label} written to {run_file}")
    if report:
        report.write_text(render(doc), encoding="utf-8")
        err.print(f"report written to {report}")
    if json_out:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{ds.name}: {len(qs)} queries, {len(ds.corpus)} documents")
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
    for row in doc.get("bakeoff", {}).get("rows", []):
        langs = ", ".join(f"{k} nDCG@10 {v['ndcg@10']:.4f} R@10 {v['recall@10']:.4f} ({v['queries']} q)"
                          for k, v in row["by_language"].items())
        Console().print(f"bake-off {row['model']}: {langs}; p50 {row['p50_ms']} ms", highlight=False)
    if "bakeoff" in doc:
        Console().print(f"recommended: {doc['bakeoff']['recommendation']}", highlight=False)
    for pair in doc.get("tuning", {}).get("pairs", []):
        Console().print(f"tuned {pair['config']}: nDCG@10 {pair['untuned']:.4f} -> {pair['tuned']:.4f} "
                        f"({pair['gain']:+.4f})", highlight=False)
    for name, info in indexes.items():
        Console().print(
            f"index {name}: {info['chunks']} chunks, {info['bytes_on_disk'] / 1e6:.1f} MB, built in "
            f"{info['build_seconds']} s ({info['embedded']} chunks embedded, rest from cache)"
            f"{' [re-used]' if info['reused'] else ''}"
        )
