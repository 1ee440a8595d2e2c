"""The exact commands to install a catalogued model for each backend, and the ``pisteur index`` line."""

from __future__ import annotations

from pisteur.models.catalog import ModelInfo

MODELS_DIR = "~/models"


def num_ctx_for(m: ModelInfo) -> int:
    """Context for an Ollama alias: the model's, capped at 8192 (the sessions survey's setting for BGE-M3/Qwen3)."""
    return min(m.max_tokens, 8192)


Steps = list[tuple[str, str]]


def setup_commands(m: ModelInfo, backend: str | None = None, precision: str = "Q8_0") -> Steps:
    """(comment, shell command) pairs, in order; ``backend`` defaults to the model's most direct one."""
    backend = backend or ("ollama" if m.ollama else "st" if "st" in m.backends else (m.backends or ("",))[0])
    if m.packaged:
        return [("packaged with pisteur: nothing to download", f"pisteur index --model {m.spec}")]
    if m.api:
        return _api_steps(m)
    if backend == "ollama":
        steps = _ollama_steps(m)
    elif backend == "st":
        steps = _st_steps(m)
    elif backend == "gguf":
        steps = _gguf_steps(m, precision)
    elif backend == "openai":
        steps = _openai_steps(m)
    else:
        raise ValueError(f"no setup known for backend '{backend}'")
    if m.mrl and m.dims > 1024 and m.mrl[0] <= 1024:
        steps.append(("optional: Matryoshka, 1024 dims to cut storage (sessions survey)",
                      steps[-1][1] + " --dims 1024"))
    if m.query_template:
        shown = m.query_template.replace("{task}", m.default_task).replace("\n", "\\n")
        steps.append(("the query instruction pisteur applies (queries only; override: instruction=)", "# " + shown))
    return steps


def _api_steps(m: ModelInfo) -> Steps:
    if m.family == "OpenAI":
        return [
            ("hosted API: put the key in the environment", "export OPENAI_API_KEY=..."),
            ("index", f"pisteur index --model openai:{m.id}"),
        ]
    return [
        ("hosted API: put the provider's key in the environment", "export PROVIDER_API_KEY=..."),
        ("point pisteur at the provider's OpenAI-compatible endpoint, if it has one",
         "export PISTEUR_OPENAI_BASE_URL=https://.../v1"),
        ("index (api_key_env=PROVIDER_API_KEY as a backend option)", f"pisteur index --model openai:{m.id}"),
    ]


def _ollama_steps(m: ModelInfo) -> Steps:
    if not m.ollama:
        raise ValueError(f"{m.name} is not in the Ollama library; try --backend st or gguf")
    alias = f"pisteur-{m.id}"
    ctx = num_ctx_for(m)
    return [
        ("pull the model (default tag; other quantisations on ollama.com/library)", f"ollama pull {m.ollama}"),
        (
            f"optional: an alias with num_ctx {ctx} (pisteur also sends num_ctx per request)",
            f"printf 'FROM {m.ollama}\\nPARAMETER num_ctx {ctx}\\n' > Modelfile.{alias}\n"
            f"ollama create {alias} -f Modelfile.{alias}",
        ),
        ("index with the alias (or with ollama:" + m.ollama + ")", f"pisteur index --model ollama:{alias}"),
    ]


def _st_steps(m: ModelInfo) -> Steps:
    if not m.hf:
        raise ValueError(f"{m.name} has no Hugging Face repository in the catalogue")
    local = f"{MODELS_DIR}/{m.hf.split('/')[-1]}"
    steps = [
        ("install the extra", "pip install 'pisteur[st]'"),
        ("download once (on a machine with internet), to a local path", f"hf download {m.hf} --local-dir {local}"),
        ("index from the local path (no network at run time)", f"pisteur index --model st:{local}"),
    ]
    if m.st_options.get("trust_remote_code"):
        steps.insert(2, ("note: this model runs code from its repo (trust_remote_code)", ""))
    return steps


def _gguf_steps(m: ModelInfo, precision: str) -> Steps:
    repo = m.gguf or (m.hf + " (convert with llama.cpp's convert_hf_to_gguf.py: no official GGUF)")
    base = (m.gguf or m.hf).split("/")[-1].removesuffix("-GGUF")
    f = f"{MODELS_DIR}/{base}-{precision}.gguf"
    return [
        ("install the extra (llama-cpp-python builds from source: minutes)", "pip install 'pisteur[gguf]'"),
        ("download one quantisation", f"hf download {repo} --include '*{precision}.gguf' --local-dir {MODELS_DIR}"),
        ("index (pooling and EOS are set from the catalogue)", f"pisteur index --model gguf:{f}"),
    ]


def _openai_steps(m: ModelInfo) -> Steps:
    return [
        (
            "serve it with any OpenAI-compatible server, e.g. llama.cpp's",
            f"llama-server -m {MODELS_DIR}/MODEL.gguf --embedding --pooling {m.pooling} -c {num_ctx_for(m)}",
        ),
        ("point pisteur at it", "export PISTEUR_OPENAI_BASE_URL=http://127.0.0.1:8080/v1"),
        ("index", f"pisteur index --model openai:{m.hf or m.id}"),
    ]


def render(steps: list[tuple[str, str]]) -> str:
    return "\n".join(f"# {c}\n{cmd}" if cmd else f"# {c}" for c, cmd in steps)
