"""Prometheus text exposition (format 0.0.4), hand-written: a histogram, counters and gauges.

No dependency: the few series pisteur exports don't need prometheus_client.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence

# Search latency buckets (seconds): warm searches are tens of ms; cold ones (model load) seconds.
# (name, type, help, [(labels, value)...])
Gauge = tuple[str, str, str, list[tuple[dict[str, str], float]]]
LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)


def _fmt(v: float) -> str:
    if v == float("inf"):
        return "+Inf"
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    esc = {k: str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
           for k, v in labels.items()}
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(esc.items())) + "}"


class Histogram:
    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0
        self._lock = threading.Lock()

    def observe(self, v: float) -> None:
        with self._lock:
            self.counts[bisect.bisect_left(self.buckets, v)] += 1
            self.sum += v
            self.count += 1

    def quantile(self, q: float) -> float | None:
        """Upper bucket bound holding the q-quantile (coarse; the bench measures exact percentiles)."""
        if not self.count:
            return None
        target, acc = q * self.count, 0
        for bound, c in zip((*self.buckets, float("inf")), self.counts, strict=True):
            acc += c
            if acc >= target:
                return bound
        return float("inf")


class Metrics:
    def __init__(self) -> None:
        self.search_latency: dict[str, Histogram] = {}
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._lock = threading.Lock()

    def observe_search(self, seconds: float, *, via: str, cached: str) -> None:
        key = f"{via}|{cached}"
        with self._lock:
            h = self.search_latency.get(key)
            if h is None:
                h = self.search_latency[key] = Histogram()
        h.observe(seconds)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.counters[key] = self.counters.get(key, 0.0) + value

    def searches(self) -> int:
        return sum(h.count for h in self.search_latency.values())

    def render(self, gauges: Callable[[], list[Gauge]] | None = None) -> str:
        out: list[str] = []
        out.append("# HELP pisteur_search_latency_seconds Search latency (server side, end to end).")
        out.append("# TYPE pisteur_search_latency_seconds histogram")
        for key, h in sorted(self.search_latency.items()):
            via, cached = key.split("|")
            lab = {"via": via, "cached": cached}
            acc = 0
            for bound, c in zip((*h.buckets, float("inf")), h.counts, strict=True):
                acc += c
                le = _labels({**lab, "le": _fmt(bound)})
                out.append(f"pisteur_search_latency_seconds_bucket{le} {acc}")
            out.append(f"pisteur_search_latency_seconds_sum{_labels(lab)} {_fmt(h.sum)}")
            out.append(f"pisteur_search_latency_seconds_count{_labels(lab)} {h.count}")
        names: dict[str, list[tuple[dict[str, str], float]]] = {}
        for (name, labels), v in sorted(self.counters.items()):
            names.setdefault(name, []).append((dict(labels), v))
        for name, series in names.items():
            out.append(f"# TYPE {name} counter")
            for lab, v in series:
                out.append(f"{name}{_labels(lab)} {_fmt(v)}")
        for name, kind, help_, samples in gauges() if gauges else []:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            for lab, v in samples:
                out.append(f"{name}{_labels(lab)} {_fmt(float(v))}")
        return "\n".join(out) + "\n"
