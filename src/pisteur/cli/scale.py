"""``pisteur export`` / ``pisteur import`` / ``pisteur migrate``: move an index between machines and engines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from pisteur.cli.core import _index_dir

IndexOpt = Annotated[Path | None, typer.Option("--index", "-i",
                                              help="Index directory (default: $PISTEUR_INDEX).")]
PrecisionOpt = Annotated[str | None, typer.Option(
    help="Vector precision of the new index: float32, float16, int8, binary.")]
AnnOpt = Annotated[str | None, typer.Option(help="Vector search of the new index: auto, flat, binary, hnsw, ivf.")]
PrefixOpt = Annotated[str, typer.Option(help="Milvus collection prefix (<prefix>_chunks, ...).")]




def _vectors(precision: str | None, ann: str | None) -> dict | None:
    if not (precision or ann):
        return None
    from pisteur.store.vectors_quant import config_for

    return config_for(precision or "float32", ann or "auto")


def _done(payload: dict, as_json: bool, line: str) -> None:
    print(json.dumps(payload, ensure_ascii=False) if as_json else line)


def export(
    out: Annotated[Path, typer.Argument(help="Directory to write (chunks.jsonl, sources.jsonl, vectors.npy).")],
    index_dir: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Export an index to a portable directory (JSONL + a .npy of float32 vectors)."""
    from pisteur.cli.core import _fail
    from pisteur.store.transfer import ExportTargetError, export_index

    try:
        info = export_index(_index_dir(index_dir), out)
    except ExportTargetError as exc:
        _fail(str(exc), 2)
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        _fail(str(exc))
    _done({"out": str(out), "chunks": info["chunks"], "dims": info["dims"]}, as_json,
          f"exported {info['chunks']} chunks ({info['dims']}-d) to {out}")


def import_(
    src: Annotated[Path, typer.Argument(help="A directory written by `pisteur export`.")],
    index_dir: IndexOpt = None,
    engine: Annotated[str, typer.Option(help="local or milvus")] = "local",
    uri: Annotated[str | None, typer.Option(help="Milvus URI (file path for Milvus Lite, http://host:19530)")] = None,
    prefix: PrefixOpt = "pisteur",
    precision: PrecisionOpt = None,
    ann: AnnOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import an export into a new local index, or into Milvus with --engine milvus --uri URI."""
    from pisteur.store.transfer import import_export

    try:
        if engine == "milvus":
            n = import_export(src, milvus_uri=uri or os.environ.get("PISTEUR_MILVUS_URI"), prefix=prefix)
            where = f"milvus {uri} ({prefix}_chunks)"
        else:
            dest = _index_dir(index_dir)
            n = import_export(src, index_dir=dest, vectors=_vectors(precision, ann))
            where = str(dest)
    except (FileExistsError, ValueError, ImportError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _done({"imported": n, "into": where}, as_json, f"imported {n} chunks into {where}")


def migrate(
    to: Annotated[str, typer.Option("--to", help="milvus, or local (a copy with other --precision/--ann)")],
    index_dir: IndexOpt = None,
    uri: Annotated[str | None, typer.Option(help="Milvus URI")] = None,
    dest: Annotated[Path | None, typer.Option(help="Target directory for --to local")] = None,
    prefix: PrefixOpt = "pisteur",
    precision: PrecisionOpt = None,
    ann: AnnOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Copy an index to Milvus (or to a local index with other vector settings), streaming, no re-embedding."""
    from pisteur.store.transfer import migrate as run

    try:
        n = run(_index_dir(index_dir), to=to, uri=uri or os.environ.get("PISTEUR_MILVUS_URI"), dest=dest,
                prefix=prefix, vectors=_vectors(precision, ann))
    except (FileExistsError, ValueError, ImportError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _done({"migrated": n, "to": to, "uri": uri, "dest": str(dest) if dest else None}, as_json,
          f"migrated {n} chunks to {to} {uri or dest}")


def register(app: typer.Typer) -> None:
    app.command(name="export")(export)
    app.command(name="import")(import_)
    app.command(name="migrate")(migrate)
