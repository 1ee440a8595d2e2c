"""``pisteur eval``: tune an index to its own corpus (synthetic queries, calibration, query adapter,
fine-tuning)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pisteur.cli.core import IndexOpt, _fail, _index_dir

app = typer.Typer(help="Tune an index to its own documents: synthetic queries, calibration, adapter, "
                  "fine-tuning.", no_args_is_help=True)

LlmOpt = Annotated[str | None, typer.Option(
    "--llm", help="Also ask a chat model for questions: ollama:MODEL or openai:URL (with --llm-model).")]
# The default query makers: MakeOptions.kinds of pisteur.tune.synth (not imported here, to keep the CLI's start
# light; a test holds the two equal).
DEFAULT_KINDS = "cloze,title,keywords,sms,standard,question"


def _say(msg: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[dim]{msg}[/]", highlight=False)


def _open(index_dir: Path | None) -> tuple[Any, Any]:
    from pisteur.embed import EmbedderError, embedder_for_manifest
    from pisteur.store import open_store

    idir = _index_dir(index_dir)
    try:
        store = open_store(idir)
        emb = embedder_for_manifest(store.manifest(), lazy=True, workers=1)
    except (FileNotFoundError, RuntimeError, ValueError, EmbedderError) as exc:
        _fail(str(exc))
    return store, emb


def _make_options(max_queries: int, test_share: float, kinds: str, llm: str | None, llm_model: str | None,
                  seed: int) -> Any:
    from pisteur.tune.generate import KINDS
    from pisteur.tune.llm import LLMError, chat_model
    from pisteur.tune.synth import MakeOptions

    ks = tuple(k.strip() for k in kinds.split(",") if k.strip())
    bad = [k for k in ks if k not in KINDS]
    if bad:
        _fail(f"unknown query kind(s) {', '.join(bad)} ({', '.join(KINDS)})", 2)
    try:
        chat = chat_model(llm, llm_model) if llm else None
    except LLMError as exc:
        _fail(str(exc), 2)
    return MakeOptions(max_queries=max_queries, kinds=ks, test_share=test_share, llm=chat, seed=seed)


@app.command("make")
def make(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the BEIR set (created).")],
    index_dir: IndexOpt = None,
    max_queries: Annotated[int, typer.Option(help="Queries kept at most.")] = 2000,
    test_share: Annotated[float, typer.Option(help="Share of source documents held out (test split).")] = 0.3,
    kinds: Annotated[str, typer.Option(help="Query makers, comma-separated: cloze,title,keywords,sms,standard,"
                                       "question.")] = DEFAULT_KINDS,
    llm: LlmOpt = None,
    llm_model: Annotated[str | None, typer.Option(help="Model name for --llm openai:URL.")] = None,
    seed: int = 0,
) -> None:
    """Make synthetic queries from an index (no labels needed) and write them as a BEIR set."""
    from pisteur.tune.llm import LLMError
    from pisteur.tune.synth import make_set, write_beir

    store, emb = _open(index_dir)
    try:
        s = make_set(store, emb, _make_options(max_queries, test_share, kinds, llm, llm_model, seed),
                     name=out.name, progress=_say)
    except LLMError as exc:
        _fail(str(exc))
    write_beir(s, out)
    typer.echo(json.dumps({"out": str(out), **s.summary()}, ensure_ascii=False))


@app.command("tune")
def tune(
    index_dir: IndexOpt = None,
    synthetic: Annotated[Path | None, typer.Option(
        "--set", help="Use this set (from `pisteur eval make`) instead of making one.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the tuning here instead of the index directory.")] = None,
    steps: Annotated[str, typer.Option(help="Steps, comma-separated: calibrate,adapter.")] = "calibrate",
    max_queries: Annotated[int, typer.Option(help="Synthetic queries made at most.")] = 2000,
    llm: LlmOpt = None,
    llm_model: Annotated[str | None, typer.Option(help="Model name for --llm openai:URL.")] = None,
) -> None:
    """Calibrate the search options and train a query adapter on synthetic queries; every later search on
    this index uses them (see `pisteur search --explain`; explicit options still win)."""
    from pisteur.evaluate.beir import DatasetError
    from pisteur.tune.llm import LLMError
    from pisteur.tune.pipeline import TuneOptions, tune_index
    from pisteur.tune.synth import read_beir

    store, emb = _open(index_dir)
    opts = TuneOptions(make=_make_options(max_queries, 0.3, DEFAULT_KINDS, llm, llm_model, 0),
                       steps=tuple(s.strip() for s in steps.split(",")))
    try:
        synth = read_beir(synthetic) if synthetic else None
        report = tune_index(store, emb, out or store.dir, opts, synth, log=_say)
    except (DatasetError, LLMError, OSError) as exc:
        _fail(str(exc))
    typer.echo(json.dumps(report, ensure_ascii=False))


@app.command("finetune")
def finetune_cmd(
    base: Annotated[str, typer.Option("--base", help="Model to fine-tune: e5-small (the packaged default model) or "
                                      "st:FOLDER (sentence-transformers or Hugging Face folder).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the fine-tuned model (use it as st:OUT).")],
    index_dir: IndexOpt = None,
    synthetic: Annotated[Path | None, typer.Option("--set", help="A set from `pisteur eval make`.")] = None,
    epochs: int = 2,
    tsdae: Annotated[int, typer.Option(help="TSDAE epochs over the chunks before MNRL (0: none).")] = 0,
    batch: int = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, warm-up then linear decay).")] = 2e-5,
    max_seq_length: Annotated[int, typer.Option(help="Tokens per text during training (shorter: faster).")] = 256,
    query_prefix: Annotated[str | None, typer.Option(
        help='Query prefix (default: the model\'s own "query" prompt, "query: " for e5).')] = None,
    document_prefix: Annotated[str | None, typer.Option(
        help='Document prefix (default: the model\'s "passage"/"document" prompt).')] = None,
    retention_set: Annotated[Path | None, typer.Option(
        "--retention", help="A general BEIR set: the model alone, before and after (nDCG@10).")] = None,
    device: Annotated[str, typer.Option(help="auto (cuda, mps, cpu), cuda, cpu...")] = "auto",
) -> None:
    """Fine-tune an embedding model on this index's synthetic queries (extra st); the word embeddings stay
    frozen."""
    from pisteur.embed import EmbedderError
    from pisteur.evaluate.beir import DatasetError
    from pisteur.tune.finetune import FinetuneError, FinetuneOptions, load_base, model_prefixes

    store, emb = _open(index_dir)
    try:
        model = load_base(base, device, log=_say)
        qp, dp = model_prefixes(model)
        opts = FinetuneOptions(epochs=epochs, batch=batch, lr=lr, tsdae_epochs=tsdae, device=device,
                               query_prefix=qp if query_prefix is None else query_prefix,
                               document_prefix=dp if document_prefix is None else document_prefix,
                               max_seq_length=max_seq_length)
        report = _finetune_index(store, emb, model, synthetic, out, opts, retention_set)
    except (FinetuneError, DatasetError, EmbedderError, OSError) as exc:
        _fail(str(exc))
    typer.echo(json.dumps({"out": str(out), "use": f"st:{out}", **report}, ensure_ascii=False))


def _finetune_index(store: Any, emb: Any, model: Any, synthetic: Path | None, out: Path, opts: Any,
                    retention_set: Path | None) -> dict[str, Any]:
    from pisteur.tune.finetune import finetune, retention, training_set_options, training_triples
    from pisteur.tune.synth import make_set, read_beir

    s = read_beir(synthetic) if synthetic else make_set(store, emb, training_set_options(), progress=_say)
    s.ensure_vectors(emb)
    triples = training_triples(store, s)
    texts = [h.text for h in store.iter_chunks()][:20000] if opts.tsdae_epochs else []
    prefixes = {"query_prefix": opts.query_prefix, "document_prefix": opts.document_prefix}
    before = retention(model, retention_set, **prefixes) if retention_set else None
    report = finetune(model, triples, texts, out, opts, log=_say)
    report.update(prefixes)
    if retention_set:
        after = retention(model, retention_set, **prefixes)
        report["retention"] = {"set": str(retention_set), "before": round(before or 0.0, 4), "after": round(after, 4)}
    return report


def register(app_: typer.Typer) -> None:
    app_.add_typer(app, name="eval")
