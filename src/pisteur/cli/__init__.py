"""The ``pisteur`` command line. Each command group lives in its own module."""

from __future__ import annotations

import importlib
import sys

import typer

from pisteur.cli import core
from pisteur.cli.helpfmt import tidy_metavars

app = typer.Typer(
    name="pisteur",
    help="Local-first, French-first semantic search over Claude Code sessions and French documents.\n\n"
    "Start with `pisteur index` (your ~/.claude/projects by default, or files/folders), then "
    "`pisteur search \"où a-t-on corrigé le bug de migration ?\"`.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
core.register(app)

# Command groups written as separate modules; each is optional so a partial install still works.
for mod, attr, kind, name in (
    ("pisteur.cli.models", "app", "group", "models"),
    ("pisteur.cli.bench", "bench", "command", "bench"),
    ("pisteur.cli.read", "read", "command", "read"),
    ("pisteur.cli.serve", "register", "register", None),
    ("pisteur.cli.scale", "register", "register", None),
    ("pisteur.cli.audit", "app", "group", "audit"),
    ("pisteur.cli.tune", "register", "register", None),
):
    try:
        m = importlib.import_module(mod)
    except ModuleNotFoundError as exc:
        if exc.name != mod:
            raise
        continue
    obj = getattr(m, attr, None)
    if obj is None:
        continue
    if kind == "group":
        app.add_typer(obj, name=name)
    elif kind == "command":
        app.command(name=name)(obj)
    else:
        obj(app)

tidy_metavars(app)


# Libraries of the optional extras (pyproject.toml), by top-level module name.
EXTRAS = {"fastapi": "serve", "uvicorn": "serve", "mcp": "serve", "httpx": "serve", "pymilvus": "milvus",
          "milvus_lite": "milvus", "sentence_transformers": "st", "torch": "st", "transformers": "st",
          "llama_cpp": "gguf"}


def main() -> None:
    try:
        app()
    except ImportError as exc:  # an optional extra is not installed: say which, in one line
        extra = EXTRAS.get((getattr(exc, "name", None) or "").split(".")[0])
        if extra is not None:
            msg = f"this needs the '{extra}' extra ({exc.name} is not installed): pip install 'pisteur[{extra}]'"
        elif "pisteur[" in str(exc):  # our own modules name the extra they need
            msg = str(exc)
        else:
            raise
        print(f"error: {msg}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
