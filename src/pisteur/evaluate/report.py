"""One self-contained HTML page for a bench run: the table, a quality-vs-latency scatter and the gain of
each stage, as inline SVG (no script, no stylesheet or font from elsewhere)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

METRIC_COLS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "p@10")
SINGLE = ("bm25", "dense")  # presets that run one retriever alone
PALETTE = (
    "#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3", "#2e4057", "#a05195", "#f95d6a", "#7a5c1e",
    "#3d9970", "#b10dc9",
)


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def scatter_svg(points: Sequence[tuple[str, float, float]], width: int = 640, height: int = 380) -> str:
    """nDCG@10 (y) against p50 latency in ms (x, log scale)."""
    if not points:
        return ""
    ml, mr, mt, mb = 60, 160, 20, 45
    xs = [max(p[1], 0.01) for p in points]
    ys = [p[2] for p in points]
    lx0, lx1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    if lx1 == lx0:
        lx1 += 1
    y0 = max(0.0, math.floor((min(ys) - 0.02) * 20) / 20)
    y1 = min(1.0, math.ceil((max(ys) + 0.02) * 20) / 20)
    if y1 <= y0:
        y1 = y0 + 0.05
    pw, ph = width - ml - mr, height - mt - mb

    def px(v: float) -> float:
        return ml + (math.log10(max(v, 0.01)) - lx0) / (lx1 - lx0) * pw

    def py(v: float) -> float:
        return mt + (1 - (v - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="nDCG@10 against latency">']
    out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>')
    for e in range(lx0, lx1 + 1):
        x = px(10**e)
        out.append(f'<line x1="{x:.1f}" y1="{mt}" x2="{x:.1f}" y2="{mt + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{mt + ph + 16}" font-size="11" text-anchor="middle">{10**e:g}</text>')
    steps = 5
    for i in range(steps + 1):
        v = y0 + (y1 - y0) * i / steps
        y = py(v)
        out.append(f'<line x1="{ml}" y1="{y:.1f}" x2="{ml + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{ml - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{v:.2f}</text>')
    out.append(f'<text x="{ml + pw / 2}" y="{height - 8}" font-size="12" text-anchor="middle">'
               "latency p50 (ms, log scale)</text>")
    out.append(f'<text x="14" y="{mt + ph / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 14 {mt + ph / 2})">nDCG@10</text>')
    for i, (label, x, y) in enumerate(points):
        c = PALETTE[i % len(PALETTE)]
        cx, cy = px(x), py(y)
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{c}"><title>{_esc(label)}: '
                   f"{y:.3f} at {x:.1f} ms</title></circle>")
        ly = mt + 14 + i * 16
        out.append(f'<circle cx="{ml + pw + 14}" cy="{ly - 4}" r="4" fill="{c}"/>')
        out.append(f'<text x="{ml + pw + 22}" y="{ly}" font-size="11">{_esc(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def bars_svg(rows: Sequence[tuple[str, float, float | None]], width: int = 640) -> str:
    """One bar per configuration (nDCG@10) with its change against a baseline written beside it."""
    if not rows:
        return ""
    bh, gap, ml, mr, mt = 20, 8, 170, 110, 10
    height = mt * 2 + len(rows) * (bh + gap)
    pw = width - ml - mr
    top = max(r[1] for r in rows) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="nDCG@10 per configuration">']
    for i, (label, v, delta) in enumerate(rows):
        y = mt + i * (bh + gap)
        w = pw * v / top
        c = PALETTE[i % len(PALETTE)]
        out.append(f'<text x="{ml - 8}" y="{y + 14}" font-size="12" text-anchor="end">{_esc(label)}</text>')
        out.append(f'<rect x="{ml}" y="{y}" width="{w:.1f}" height="{bh}" fill="{c}"/>')
        d = "" if delta is None else f" ({delta:+.3f})"
        colour = "#333" if delta is None else ("#1a7f37" if delta >= 0 else "#c62828")
        out.append(f'<text x="{ml + w + 6:.1f}" y="{y + 14}" font-size="12" fill="{colour}">{v:.3f}{d}</text>')
    out.append("</svg>")
    return "".join(out)


def verify_cell(v: dict[str, Any] | None) -> str:
    """The cross-runtime check of one bake-off model: its reference, the mean cosine, pass or fail."""
    if not v or v.get("reference") is None:
        return "—" if not v else str(v.get("note", "—"))
    verdict = "pass" if v.get("passed") else "FAIL"
    cos = f", mean cosine {v['mean_cosine']:.5f}" if "mean_cosine" in v else ""
    return f"{verdict}: {v['reference']}{cos}" + (f" ({v['note']})" if v.get("note") else "")


def extra_sections(bench: dict[str, Any]) -> str:
    """The bake-off table and recommendation, and tuned-vs-untuned, when the run has them."""
    out = []
    bo = bench.get("bakeoff")
    if bo:
        head = ("model", "configuration", "nDCG@10", "R@10", "nDCG@10 fr", "nDCG@10 en", "p50 ms", "index build",
                "on disk", "same vectors as")
        rows = []
        for r in bo["rows"]:
            lang = r.get("by_language", {})
            per_lang = [f"{lang[k]['ndcg@10']:.4f} ({lang[k]['queries']} q)" if k in lang else "—"
                        for k in ("fr", "en")]
            cells = [_esc(r["model"]), _esc(r["config"]), f"{r['ndcg@10']:.4f}", f"{r['recall@10']:.4f}", *per_lang,
                     f"{r['p50_ms']:.1f}", f"{r.get('build_seconds') or 0:.1f} s",
                     f"{(r.get('bytes_on_disk') or 0) / 1e6:.1f} MB", _esc(verify_cell(r.get("verify")))]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append("<h2>Model bake-off</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
                   + "".join(rows) + f"</table><p><b>Recommended:</b> {_esc(bo['recommendation'])}</p>")
    tu = bench.get("tuning")
    if tu:
        rows = [f"<tr><td>{_esc(p['config'])}</td><td>{p['untuned']:.4f}</td><td>{p['tuned']:.4f}</td>"
                f"<td>{p['gain']:+.4f}</td></tr>" for p in tu["pairs"]]
        chosen = [f"<li>{_esc(m)}: {_esc((r.get('calibration') or {}).get('overrides', {}))}"
                  f"{'; query adapter' if (r.get('adapter') or {}).get('kept') else ''}</li>"
                  for m, r in tu.get("reports", {}).items()]
        out.append("<h2>Tuned to the corpus</h2><p class=\"note\">Synthetic queries from the corpus alone (never "
                   "the dataset's queries or judgments), calibration, query adapter.</p><table><tr><th>configuration"
                   "</th><th>untuned nDCG@10</th><th>tuned</th><th>gain</th></tr>" + "".join(rows) + "</table><ul>"
                   + "".join(chosen) + "</ul>")
    return "".join(out)


def render(bench: dict[str, Any]) -> str:
    """``bench``: the JSON document of ``pisteur bench --json``."""
    results = bench["results"]
    head = "".join(f"<th>{_esc(c)}</th>" for c in ("configuration", "model", *METRIC_COLS, "p50 ms", "p95 ms"))
    body = []
    for r in results:
        m, lat = r["metrics"], r["latency_ms"]
        cells = [_esc(r["config"]), _esc(r["model"]), *(f"{m.get(c, 0):.4f}" for c in METRIC_COLS),
                 f"{lat['p50']:.1f}", f"{lat['p95']:.1f}"]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    idx_rows = []
    for name, info in bench.get("indexes", {}).items():
        idx_rows.append(
            f"<tr><td>{_esc(name)}</td><td>{info.get('chunks', '')}</td>"
            f"<td>{info.get('bytes_on_disk', 0) / 1e6:.1f} MB</td><td>{info.get('build_seconds', 0):.1f} s</td>"
            f"<td>{info.get('embedded', '')}</td><td>{_esc(info.get('path', ''))}</td></tr>"
        )
    points = [(r["config"], r["latency_ms"]["p50"], r["metrics"]["ndcg@10"]) for r in results]
    singles = [r for r in results if r["config"].split("@")[0].split(",")[0] in SINGLE]
    base = max(singles, key=lambda r: r["metrics"]["ndcg@10"]) if singles else None
    bars = []
    for r in results:
        v = r["metrics"]["ndcg@10"]
        bars.append((r["config"], v, None if base is None or r is base else v - base["metrics"]["ndcg@10"]))
    base_note = (f"change against the best single retriever, {base['config']}" if base is not None
                 else "no single-retriever configuration in this run")
    ds = bench.get("dataset", {})
    title = f"pisteur bench — {ds.get('name', '')}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1000px}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child,td:nth-child(2){{text-align:left}}th{{background:#f0f0f0}}
.note{{color:#555;font-size:0.9em}}
</style></head><body>
<h1>{_esc(title)}</h1>
<p class="note">{_esc(ds.get('path', ''))}: {ds.get('documents', '')} documents, {ds.get('queries', '')} judged queries
({_esc(bench.get('queries_fold', 'all'))}). {_esc(bench.get('machine', ''))} — {_esc(bench.get('date', ''))}.
Document-level judgments: a document's rank is that of its best chunk.</p>
<h2>Quality and latency</h2>
<table><tr>{head}</tr>{''.join(body)}</table>
<p class="note">Latency per query: pipeline wall time + the query's own embedding time (embedded once per model,
timed alone), warm, one process.</p>
{extra_sections(bench)}
<h2>nDCG@10 against latency</h2>
{scatter_svg(points)}
<h2>Gain per stage (nDCG@10; {_esc(base_note)})</h2>
{bars_svg(bars)}
<h2>Indexes</h2>
<table><tr><th>model</th><th>chunks</th><th>size</th><th>build</th><th>chunks embedded</th><th>path</th></tr>
{''.join(idx_rows)}</table>
<p class="note">Build time counts embedding-cache hits as free: "chunks embedded" is how many the model
really embedded during that build.</p>
</body></html>
"""
