"""What this machine can run: RAM, CPU (cores, AVX2), GPU and VRAM, Apple silicon unified memory.

GPU via NVML (``pynvml``) when importable, else ``nvidia-smi --query-gpu``; on macOS arm64 the unified
memory from ``sysctl hw.memsize`` is usable by the GPU (Metal). Every probe fails soft: a missing tool
means "no such device", never an exception.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class GPU:
    name: str
    vram_gb: float
    free_gb: float | None = None
    kind: str = "cuda"  # cuda | metal


@dataclass
class Hardware:
    ram_gb: float
    cpu_cores: int
    avx2: bool
    gpus: list[GPU] = field(default_factory=list)
    unified_memory: bool = False
    source: str = "detected"

    @property
    def vram_gb(self) -> float:
        return max((g.vram_gb for g in self.gpus), default=0.0)

    @property
    def gpu(self) -> GPU | None:
        return max(self.gpus, key=lambda g: g.vram_gb, default=None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["vram_gb"] = self.vram_gb
        return d


def _run(cmd: list[str]) -> str:
    if not shutil.which(cmd[0]):
        return ""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def detect_ram_gb() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    out = _run(["sysctl", "-n", "hw.memsize"]).strip()
    if out.isdigit():
        return round(int(out) / 1024**3, 1)
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        return 0.0


def detect_avx2() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return " avx2" in line
    except OSError:
        pass
    out = _run(["sysctl", "-n", "machdep.cpu.leaf7_features"])
    return "AVX2" in out.upper()


def parse_nvidia_smi(out: str) -> list[GPU]:
    """Parse ``nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits``."""
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[1].replace(".", "").isdigit():
            free = float(parts[2]) / 1024 if len(parts) > 2 and parts[2].replace(".", "").isdigit() else None
            gpus.append(GPU(parts[0], round(float(parts[1]) / 1024, 1), round(free, 1) if free else None))
    return gpus


def detect_nvidia() -> list[GPU]:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            gpus = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                h = pynvml.nvmlDeviceGetHandleByIndex(i)
                mem = pynvml.nvmlDeviceGetMemoryInfo(h)
                name = pynvml.nvmlDeviceGetName(h)
                name = name.decode() if isinstance(name, bytes) else str(name)
                gpus.append(GPU(name, round(mem.total / 1024**3, 1), round(mem.free / 1024**3, 1)))
            return gpus
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # not installed, no driver, no device
        pass
    return parse_nvidia_smi(
        _run(["nvidia-smi", "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"])
    )


def detect_apple(ram_gb: float) -> list[GPU]:
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return []
    brand = _run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip() or "Apple silicon"
    # Metal may use ~2/3 of unified memory by default (~3/4 above 36 GB)
    share = 0.75 if ram_gb > 36 else 0.66
    return [GPU(f"{brand} (unified memory)", round(ram_gb * share, 1), None, "metal")]


def detect() -> Hardware:
    ram = detect_ram_gb()
    gpus = detect_nvidia()
    apple = detect_apple(ram) if not gpus else []
    return Hardware(
        ram_gb=ram,
        cpu_cores=os.cpu_count() or 1,
        avx2=detect_avx2(),
        gpus=gpus or apple,
        unified_memory=bool(apple),
    )


def planned(ram_gb: float | None, vram_gb: float | None, gpu: str | None, base: Hardware | None) -> Hardware:
    """Hardware for planning another machine: given facts replace the detected ones."""
    hw = base or Hardware(ram_gb=0.0, cpu_cores=8, avx2=True)
    gpus = list(hw.gpus)
    if vram_gb is not None:
        gpus = [GPU(gpu or "planned GPU", vram_gb)] if vram_gb > 0 else []
    elif gpu is not None:
        gpus = [GPU(gpu, hw.vram_gb)] if gpus else []
    return Hardware(
        ram_gb=ram_gb if ram_gb is not None else hw.ram_gb,
        cpu_cores=hw.cpu_cores,
        avx2=hw.avx2,
        gpus=gpus,
        unified_memory=hw.unified_memory and vram_gb is None,
        source="planned" if (ram_gb is not None or vram_gb is not None) else hw.source,
    )
