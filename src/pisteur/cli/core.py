"""Core commands: index, search, status, remove."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from pisteur.config import default_index_dir
from pisteur.retrieve.options import option_help

if TYPE_CHECKING:
    from pisteur.retrieve.options import SearchOptions

OPTION_HELP = option_help()

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", "-i", help="Index directory (default: $PISTEUR_INDEX or the user data dir).",
                 show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (one JSON object per line).")]
EngineOpt = Annotated[str | None, typer.Option(
    "--engine", help="Storage engine: local (an index directory, default) or milvus (with --uri).")]
UriOpt = Annotated[str | None, typer.Option(
    "--uri", help="Milvus URI for --engine milvus: http://host:19530, or a Milvus Lite file ./pisteur.db.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars, only errors and the summary.")]


# the index command's longer options
PathsArg = Annotated[list[Path] | None, typer.Argument(
    help="Files or folders to index (default: ~/.claude/projects). Claude Code *.jsonl sessions and "
    "subagents, .txt .md .pdf .docx .html .eml, CSV/JSON message exports.", show_default=False)]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", "-m", help="Embedding model: e5-small (default, packaged), use-m3 (fast, packaged), or "
    "BACKEND:NAME (ollama:qwen3-embedding:4b, st:/path, openai:NAME, gguf:/path.gguf).")]
InstructionOpt = Annotated[str | None, typer.Option(
    help="Query instruction template for instruction-aware models, e.g. 'Instruct: {task}\\nQuery:{query}' "
    "(default: the model's own, from the catalogue). Applied to queries only.")]
PrecisionOpt = Annotated[str | None, typer.Option(
    help="Stored vector precision: float32, float16, int8, binary (binary/int8 rescore from a finer copy).")]
LexicalOnlyOpt = Annotated[bool, typer.Option(
    "--lexical-only", help="Stop once every chunk is searchable by words; the vectors are computed by the "
    "next `pisteur index` or the live indexer.")]
RedactOpt = Annotated[bool | None, typer.Option(
    "--redact/--no-redact", show_default=False,
    help="Replace secrets (API keys, tokens, passwords, private keys) by [REDACTED:kind] before storing. "
    "Default: the index's setting, else on for Claude Code sessions and off for documents and messages "
    "(a seized password may be evidence).")]
# the search command's
KindOpt = Annotated[list[str] | None, typer.Option(
    "--kind", help="Only these kinds: exchange, summary, tool_result, thinking, document, message.")]
ExplainOpt = Annotated[bool, typer.Option("--explain", help="Show expansions and which stage scored each hit.")]
DictOpt = Annotated[list[Path] | None, typer.Option(
    "--dict", help="Extra expansion dictionary (TOML file or folder), merged over the shipped and user ones; "
    "repeatable. Format: docs/dictionaries.md.")]
AuditOpt = Annotated[Path | None, typer.Option("--audit", envvar="PISTEUR_AUDIT", show_default=False,
                                               help="Record this search in this audit log.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Count files and chunks and estimate the time with the chosen model; write nothing.")]


def _index_dir(index: Path | None) -> Path:
    return (index or default_index_dir()).expanduser()


def _engine(engine: str | None) -> str:
    import os

    return engine or os.environ.get("PISTEUR_ENGINE", "local")


def _fail(msg: str, code: int = 1) -> NoReturn:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def index(
    paths: PathsArg = None,
    model: ModelOpt = None,
    dims: Annotated[int | None, typer.Option(
        help="Matryoshka: keep the first N dims (models that support it).")] = None,
    instruction: InstructionOpt = None,
    query_prefix: Annotated[str | None, typer.Option(
        help="Override the model's query prefix (e.g. 'query: ').")] = None,
    document_prefix: Annotated[str | None, typer.Option(
        help="Override the model's document prefix (e.g. 'passage: ').")] = None,
    chunk_size: Annotated[int | None, typer.Option(help="Tokens per chunk (model tokens).")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="Tokens shared by consecutive chunks.")] = None,
    precision: PrecisionOpt = None,
    ann: Annotated[str | None, typer.Option(help="Vector index: auto, flat, binary, hnsw, ivf.")] = None,
    no_tool_results: Annotated[bool, typer.Option(
        "--no-tool-results", help="Skip tool outputs (most of the bytes).")] = False,
    no_thinking: Annotated[bool, typer.Option("--no-thinking", help="Skip the assistant's thinking blocks.")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Delete the index and re-index everything.")] = False,
    lexical_only: LexicalOnlyOpt = False,
    redact: RedactOpt = None,
    dry_run: DryRunOpt = False,
    index_dir: IndexOpt = None,
    engine: EngineOpt = None,
    uri: UriOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Index files and folders (incremental: only new, changed, grown or deleted files cost work).

    Every chunk is searchable by its words first; vectors follow (conversation turns before tool outputs,
    newest first). Interrupting keeps everything committed so far."""
    from pisteur import validate

    try:
        validate.index_options(precision_=precision, ann_=ann, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    except ValueError as exc:
        _fail(str(exc), 2)
    idir = _index_dir(index_dir)
    targets = _index_targets(paths)
    chunker = _chunker_option(chunk_size, chunk_overlap)
    vectors = _vectors_option(precision, ann)
    given: dict[str, object] = {"dims": dims, "instruction": instruction, "query_prefix": query_prefix,
                                "document_prefix": document_prefix}
    options = {k: v for k, v in given.items() if v is not None} or None
    if dry_run:
        _dry_run(idir, targets, model, options, chunker, not no_tool_results, not no_thinking, as_json)
        return
    report = _run_index(idir, targets, show_progress=not quiet and not as_json, model=model, model_options=options,
                        chunker=chunker, vectors=vectors, rebuild=rebuild, include_tool_results=not no_tool_results,
                        include_thinking=not no_thinking, engine=_engine(engine), uri=uri,
                        lexical_only=lexical_only, redact=redact)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return
    from pisteur.cli.render import print_index_report

    print_index_report(report, idir)
    _print_index_extras(report)


def _index_targets(paths: list[Path] | None) -> list[Path]:
    """The paths named, else the Claude Code sessions folder; each must exist."""
    from pisteur.indexer import default_sources

    targets = paths or default_sources()
    for p in targets:
        if not p.expanduser().exists():
            hint = "" if paths else (" (no Claude Code sessions there; set CLAUDE_CONFIG_DIR, or name the files "
                                     "and folders to index: pisteur index PATH...)")
            _fail(f"{p} does not exist{hint}")
    return targets


def _chunker_option(chunk_size: int | None, chunk_overlap: int | None) -> Any:
    """A chunker when the size or overlap is set (the other one from the defaults), else None."""
    from pisteur.chunk import ChunkerConfig

    if chunk_size is None and chunk_overlap is None:
        return None
    d = ChunkerConfig()
    try:
        return ChunkerConfig(size=chunk_size if chunk_size is not None else d.size,
                             overlap=chunk_overlap if chunk_overlap is not None else d.overlap)
    except ValueError as exc:
        _fail(str(exc), 2)


def _vectors_option(precision: str | None, ann: str | None) -> Any:
    if not (precision or ann):
        return None
    from pisteur.store.vectors_quant import config_for

    return config_for(precision or "float32", ann or "auto")


def _run_index(idir: Path, targets: list[Path], *, show_progress: bool, **settings: Any) -> Any:
    """Index with a progress display; a locked index, a bad setting or an interrupt ends with one line."""
    from pisteur.cli.progress import IndexProgress
    from pisteur.embed import EmbedderError
    from pisteur.indexer import index_paths
    from pisteur.store import manifest as mf
    from pisteur.store.lock import IndexLocked

    prog = IndexProgress(enabled=show_progress)
    try:
        with prog:
            return index_paths(idir, [p.expanduser() for p in targets], progress=prog, **settings)
    except (IndexLocked, mf.ManifestMismatch, EmbedderError, ValueError, RuntimeError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted: the index keeps everything committed so far; run the same command to finish",
              130)


def _print_index_extras(report: object) -> None:
    """Warnings and dense coverage after the summary (the summary itself is render.py's)."""
    from rich.console import Console
    from rich.markup import escape


    con = Console()
    warnings = getattr(report, "warnings", [])
    for path, msg in warnings[:20]:
        con.print(f"  [yellow]warning[/] {escape(path + ': ' if path else '')}{escape(msg)}", highlight=False)
    if len(warnings) > 20:
        con.print(f"  [yellow]… {len(warnings) - 20} more warning(s) (--json lists them all)[/]")
    pending = getattr(report, "dense_pending", 0)
    if pending:
        con.print(f"{pending} chunk(s) searchable by words, waiting for their vectors "
                  f"(dense covers {100 * getattr(report, 'dense_coverage', 1.0):.0f} %): run `pisteur index` "
                  "again, or keep `pisteur serve` running, to finish", highlight=False)


def _dry_run(idir: Path, targets: list[Path], model: str | None, options: dict[str, object] | None,
             chunker: object, tool_results: bool, thinking: bool, as_json: bool) -> None:
    from pisteur.embed import EmbedderError
    from pisteur.index.dryrun import dry_run

    try:
        est = dry_run(idir, [p.expanduser() for p in targets], model=model, model_options=options,
                      chunker=chunker, include_tool_results=tool_results, include_thinking=thinking)  # type: ignore[arg-type]
    except (EmbedderError, ValueError, RuntimeError, FileNotFoundError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(est.to_json(), ensure_ascii=False))
        return

    def hms(s: float | None) -> str:
        return "?" if s is None else time.strftime("%H:%M:%S", time.gmtime(s))

    print(f"{est.files} file(s) to read ({est.bytes / 1e6:.1f} MB), {est.unchanged} unchanged, "
          f"{len(est.skipped)} skipped")
    print(f"{est.chunks} chunks ({est.distinct_texts} distinct texts) {est.chunks_by_kind}")
    print(f"searchable by words after ~{hms(est.read_seconds)} (reading and chunking took {est.read_seconds} s)")
    rate = f"{est.chunks_per_second} chunks/s" if est.chunks_per_second else "no chunk to embed"
    print(f"model {est.model}: {rate} here (measured on {est.sample_chunks} chunks) -> dense vectors in "
          f"~{hms(est.dense_seconds)}")
    print("dry run: nothing was written")


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in French or English.")],
    k: Annotated[int, typer.Option("-k", help="Number of hits.")] = 10,
    kind: KindOpt = None,
    project: Annotated[str | None, typer.Option(help="Only chunks whose project (cwd) contains this.")] = None,
    session: Annotated[str | None, typer.Option(help="Only this session (id or prefix).")] = None,
    source: Annotated[str | None, typer.Option(help="Only sources whose path contains this.")] = None,
    since: Annotated[str | None, typer.Option("--since", "--from", help="From this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option("--until", "--to", help="Up to this date (YYYY-MM-DD).")] = None,
    mode: Annotated[str | None, typer.Option(help=f"{OPTION_HELP['mode']} (default: hybrid).")] = None,
    no_expand: Annotated[bool, typer.Option("--no-expand", help=f"No {OPTION_HELP['expand']}.")] = False,
    no_rerank: Annotated[bool, typer.Option("--no-rerank", help="Skip the second-stage re-scoring.")] = False,
    explain: ExplainOpt = False,
    dictionary: DictOpt = None,
    fusion: Annotated[str | None, typer.Option(help=f"{OPTION_HELP['fusion']} (default: weighted).")] = None,
    index_dir: IndexOpt = None,
    engine: EngineOpt = None,
    uri: UriOpt = None,
    as_json: JsonOpt = False,
    audit: AuditOpt = None,
) -> None:
    """Search the index (hybrid French-aware retrieval; filters by kind, project, session, date, source)."""
    from pisteur import validate
    from pisteur.embed import EmbedderError, embedder_for_manifest
    from pisteur.retrieve.pipeline import search as run_search
    from pisteur.serve.limits import check_query
    from pisteur.store import open_store

    try:
        check_query(query)
        query, k = validate.query(query), validate.top_k(k)
        filters = validate.filters(kinds_=kind, project=project, session=session, source=source, since=since,
                                   until=until)
    except ValueError as exc:
        _fail(str(exc), 2)
    try:
        store = open_store(_index_dir(index_dir), engine=_engine(engine), uri=uri)
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        _fail(str(exc))
    options = _search_options(mode, fusion, no_expand, no_rerank, dictionary)
    try:
        embedder = embedder_for_manifest(store.manifest(), lazy=True, workers=1)
    except EmbedderError as exc:
        _fail(str(exc))
    try:
        result = run_search(store, embedder, query, k=k, filters=filters, options=options)
    except ValueError as exc:  # a bad option value, or a dictionary that cannot be read
        _fail(str(exc))
    _audit_search(audit, query, k, {"kind": kind, "project": project, "session": session, "source": source,
                                    "date_from": since, "date_to": until}, [h.id for h in result.hits])
    _print_search(store, query, result, explain=explain, as_json=as_json)


def _print_search(store: Any, query: str, result: Any, *, explain: bool, as_json: bool) -> None:
    """The hits with their titles: one JSON object per line, or the terminal rendering."""
    from pisteur.context import add_titles

    add_titles(store, result.hits)
    if as_json:
        out = sys.stdout
        for h in result.hits:
            out.write(json.dumps(h.to_json(), ensure_ascii=False) + "\n")
        return
    from pisteur.cli.render import print_hits

    print_hits(query, result, explain=explain)


def _search_options(mode: str | None, fusion: str | None, no_expand: bool, no_rerank: bool,
                    dictionary: list[Path] | None) -> SearchOptions:
    """The search command's flags as options over the defaults (a missing dictionary is an error)."""
    from pisteur.retrieve.options import SearchOptions

    for d in dictionary or []:
        if not d.exists():
            _fail(f"dictionary {d} does not exist")
    try:
        return SearchOptions().merged({
            "mode": mode, "fusion": fusion, "expand": False if no_expand else None,
            "rerank": "none" if no_rerank else None,
            "dictionaries": [str(d) for d in dictionary] if dictionary else None,
        })
    except ValueError as exc:
        _fail(str(exc))


def _audit_search(audit: Path | None, query: str, k: int, filters: dict[str, Any], hits: list[int]) -> None:
    """Record the search in the audit log when one is set (a log that cannot be written is an error)."""
    from pisteur.serve.audit import AuditError, from_setting

    try:
        if (log := from_setting(audit)) is not None:
            log.search("cli", query, k, filters, hits)
    except AuditError as exc:
        _fail(str(exc))


def status(index_dir: IndexOpt = None, engine: EngineOpt = None, uri: UriOpt = None,
           as_json: JsonOpt = False) -> None:
    """Show what the index holds: sources, chunks, model, bytes on disk, last update, skipped files."""
    from pisteur.store import open_store

    idir = _index_dir(index_dir)
    try:
        store = open_store(idir, engine=_engine(engine), uri=uri)
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        _fail(str(exc))
    st = store.stats()
    skipped = [(s.path, s.reason) for s in store.sources().values() if s.status == "skipped"]
    st["skipped"] = [{"path": p, "reason": r} for p, r in skipped]
    if as_json:
        print(json.dumps(st, ensure_ascii=False))
        return
    from pisteur.cli.progress import dense_line
    from pisteur.cli.render import print_status

    print_status(st)
    line = dense_line(st)
    if line:
        print(line)


def remove(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders whose chunks to remove.")],
    index_dir: IndexOpt = None,
    engine: EngineOpt = None,
    uri: UriOpt = None,
) -> None:
    """Remove files (or everything under folders) from the index. The files themselves are not touched."""
    from pisteur.indexer import remove_paths
    from pisteur.store.lock import IndexLocked

    try:
        n = remove_paths(_index_dir(index_dir), paths, engine=_engine(engine), uri=uri)
    except (IndexLocked, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    print(f"removed {n} source(s)")


def register(app: typer.Typer) -> None:
    app.command()(index)
    app.command()(search)
    app.command()(status)
    app.command()(remove)
