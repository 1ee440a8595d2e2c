"""``pisteur models``: the catalogue (list, show), what this machine can run (recommend), how to install a
model (setup) and whether two backends give the same vectors (verify)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(
    help="Embedding models: catalogue, hardware recommendation, setup commands, cross-backend check.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _console():  # noqa: ANN202
    from rich.console import Console

    return Console()


def _fail(msg: str, code: int = 1) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


def parse_options(items: list[str] | None) -> dict[str, object]:
    """``["max_tokens=256", "fp16=false", "base_url=http://h:8000/v1"]`` -> typed options."""
    out: dict[str, object] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep:
            _fail(f"option '{item}' is not KEY=VALUE")
        value: object = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for cast in (int, float):
                try:
                    value = cast(raw)
                    break
                except ValueError:
                    pass
        out[key.strip()] = value
    return out


def _gb(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


@app.command("list")
def list_models(
    lang: Annotated[str | None, typer.Option(help="Only models for this language: fr, en, code.")] = None,
    max_ram: Annotated[float | None, typer.Option(help="Only models that fit in this many GB of RAM.")] = None,
    max_vram: Annotated[float | None, typer.Option(help="Only models that fit in this many GB of VRAM.")] = None,
    local: Annotated[bool, typer.Option("--local", help="Hide hosted APIs.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The catalogue: every model the surveys discuss, with memory by precision (computed) and scores (quoted)."""
    from rich.table import Table

    from pisteur.models.catalog import filter_models

    models = filter_models(lang, max_ram, max_vram, include_api=not local)
    if as_json:
        print(json.dumps([m.to_dict() for m in models], ensure_ascii=False, indent=1))
        return
    t = Table(title=f"{len(models)} embedding models (memory: computed GB; `pisteur models show ID` for scores)")
    t.add_column("id", no_wrap=True)
    for col in ("params", "dims", "MRL", "ctx", "lang", "licence", "FP16", "Q8_0", "Q4_K_M", "runs with"):
        t.add_column(col, overflow="fold")
    for m in models:
        mem = m.memory()
        langs = f"multi({m.lang_count})" if "multi" in m.languages else ",".join(m.languages)
        t.add_row(
            m.id,
            f"{m.params_b:g}B" if m.params_b else "API",
            str(m.dims),
            f"{m.mrl[0]}-{m.mrl[1]}" if m.mrl else "",
            str(m.max_tokens),
            langs,
            m.licence,
            _gb(mem.get("FP16")),
            _gb(mem.get("Q8_0")),
            _gb(mem.get("Q4_K_M")),
            ",".join(m.backends),
        )
    _console().print(t)


@app.command()
def show(name: Annotated[str, typer.Argument(help="Catalogue id, name, Ollama tag, HF id or BACKEND:NAME.")],
         as_json: JsonOpt = False) -> None:
    """Everything the catalogue knows about one model, with where each fact comes from."""
    from rich.table import Table

    from pisteur.models.catalog import get_model

    m = get_model(name)
    if m is None:
        _fail(f"'{name}' is not in the catalogue (see `pisteur models list`)")
        return
    if as_json:
        print(json.dumps(m.to_dict(), ensure_ascii=False, indent=1))
        return
    t = Table(title=m.name, show_header=True)
    t.add_column("fact")
    t.add_column("value", overflow="fold")
    t.add_column("from")
    facts = [
        ("family", m.family), ("params_b", m.params_b), ("dims", m.dims),
        ("mrl", f"{m.mrl[0]}..{m.mrl[1]}" if m.mrl else "no"), ("max_tokens", m.max_tokens),
        ("languages", ", ".join(m.languages) + (f" ({m.lang_count})" if m.lang_count else "")),
        ("licence", m.licence), ("pooling", m.pooling), ("eos", m.eos),
        ("query_prefix", repr(m.query_prefix) if m.query_prefix else ""),
        ("document_prefix", repr(m.document_prefix) if m.document_prefix else ""),
        ("query_template", m.query_template.replace("{task}", m.default_task) if m.query_template else ""),
        ("ollama", m.ollama), ("hf", m.hf), ("gguf", m.gguf), ("backends", ", ".join(m.backends)),
        ("default --model", m.default_spec()),
    ]
    for k, v in facts:
        if v not in ("", None):
            t.add_row(k, str(v), m.provenance(k))
    for p, gb in m.memory().items():
        t.add_row(f"memory {p}", f"{gb:g} GB", "computed")
    for s in m.scores:
        t.add_row(f"score: {s.metric}", s.value, s.source)
    for text, src in m.survey_memory:
        t.add_row("memory (survey)", text, src)
    for n in m.notes:
        t.add_row("note", n, "")
    _console().print(t)


@app.command()
def recommend(
    ram: Annotated[float | None, typer.Option(help="Plan for a machine with this much RAM (GB).")] = None,
    vram: Annotated[float | None, typer.Option(help="Plan for a GPU with this much VRAM (GB); 0 = no GPU.")] = None,
    gpu: Annotated[str | None, typer.Option(help="Name of the planned GPU (display only).")] = None,
    profile: Annotated[str, typer.Option(
        help="mixed: Claude Code sessions (French + English + code); french: French documents and SMS.")] = "mixed",
    headroom: Annotated[float | None, typer.Option(
        help="GB of VRAM to keep free for other GPU work (default: half the VRAM).")] = None,
    top: Annotated[int, typer.Option(help="How many models to show.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Rank the models this machine (or a planned one) can run, with one line of reasoning each."""
    from rich.table import Table

    from pisteur.models.hardware import detect, planned
    from pisteur.models.recommend import recommend as rank

    if profile not in ("mixed", "french"):
        _fail("--profile is mixed or french")
    hw = detect() if ram is None or vram is None else None
    hw = planned(ram, vram, gpu, hw)
    recs = rank(hw, profile=profile, headroom_gb=headroom, top=top)
    if as_json:
        print(json.dumps({"hardware": hw.to_dict(), "profile": profile,
                          "recommendations": [r.to_dict() for r in recs]}, ensure_ascii=False, indent=1))
        return
    g = hw.gpu
    c = _console()
    c.print(f"[bold]{hw.source}[/]: RAM {hw.ram_gb:g} GB, {hw.cpu_cores} cores, AVX2 {'yes' if hw.avx2 else 'no'}, "
            + (f"GPU {g.name} {g.vram_gb:g} GB" if g else "no GPU"), highlight=False)
    t = Table(title=f"models for profile '{profile}' (best first)")
    for col in ("#", "model", "where", "--model", "why"):
        t.add_column(col, overflow="fold")
    for i, r in enumerate(recs, 1):
        t.add_row(str(i), r.model.id, f"{r.device} {r.precision}", r.spec, r.reason)
    c.print(t)
    c.print("Then: `pisteur models setup NAME` prints the install commands.", highlight=False)


@app.command()
def setup(
    name: Annotated[str, typer.Argument(help="Catalogue id, name, Ollama tag or HF id.")],
    backend: Annotated[str | None, typer.Option(help="ollama, st, gguf or openai (default: the most direct).")] = None,
    precision: Annotated[str, typer.Option(help="GGUF quantisation to download (gguf backend).")] = "Q8_0",
) -> None:
    """Print the exact commands to install a model and index with it."""
    from pisteur.models.catalog import get_model
    from pisteur.models.setup import render, setup_commands

    m = get_model(name)
    if m is None:
        _fail(f"'{name}' is not in the catalogue (see `pisteur models list`)")
        return
    try:
        print(render(setup_commands(m, backend, precision)))
    except ValueError as exc:
        _fail(str(exc))


@app.command()
def verify(
    a: Annotated[str, typer.Argument(help="First BACKEND:NAME, e.g. ollama:qwen3-embedding:0.6b")],
    b: Annotated[str, typer.Argument(help="Second BACKEND:NAME of the same model, e.g. st:/models/Qwen3-0.6B")],
    threshold: Annotated[float, typer.Option(help="Minimum mean cosine.")] = 0.99,
    dims: Annotated[int | None, typer.Option(help="Matryoshka dims applied to both sides.")] = None,
    opt_a: Annotated[list[str] | None, typer.Option(
        "--opt-a", help="Backend option for A, KEY=VALUE (repeatable): base_url=..., pooling=last, ...")] = None,
    opt_b: Annotated[list[str] | None, typer.Option("--opt-b", help="Backend option for B, KEY=VALUE.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Embed a fixed probe set (French, English, code, long text) with two backends of the same model;
    exit 1 when the mean cosine is below the threshold (a wrong template, EOS or pooling)."""
    from rich.table import Table

    from pisteur.embed import EmbedderError, load_embedder
    from pisteur.models.verify import verify as run_verify

    opts = {"dims": dims} if dims else {}
    try:
        ea = load_embedder(a, **opts, **parse_options(opt_a))
        eb = load_embedder(b, **opts, **parse_options(opt_b))
        rep = run_verify(ea, eb, threshold)
    except EmbedderError as exc:
        _fail(str(exc), 2)
        return
    if as_json:
        print(json.dumps(rep.to_dict(), ensure_ascii=False, indent=1))
    else:
        t = Table(title=f"{a}  vs  {b}")
        t.add_column("probe")
        t.add_column("cosine", justify="right")
        for k, v in rep.doc_cosines.items():
            t.add_row(f"document {k}", f"{v:.4f}")
        for k, v in rep.query_cosines.items():
            t.add_row(f"query '{k}'", f"{v:.4f}")
        c = _console()
        if rep.error:
            c.print(f"[red]{rep.error}[/]")
        else:
            c.print(t)
            c.print(f"mean cosine {rep.mean_cosine:.4f} (threshold {threshold}); top-1 agreement "
                    f"{rep.top1_agreement:.0%}, top-3 overlap {rep.rank_overlap:.0%}", highlight=False)
            c.print("[green]same vectors[/]" if rep.passed else
                    "[red]the backends disagree: check the query instruction, EOS token and pooling[/]")
    if not rep.passed:
        raise typer.Exit(1)
