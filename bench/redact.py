"""Secret redaction: recall on the synthetic labelled corpus, false positives on real sessions, speed.

    python bench/redact.py SESSIONS_DIR [--model e5-small] [--detect-secrets]

- recall: share of labelled secrets (tests/fixtures/secrets/make_corpus.py) whose value is gone from the
  redacted text; kind accuracy: share redacted under their own kind; negatives redacted (should be 0);
- false positives: every finding on the chunks of the real sessions under SESSIONS_DIR is listed with its
  kind and a masked context (review them: a real secret is a true positive), per 1,000 chunks;
- speed: MB/s of :func:`pisteur.ingest.redact.redact` on the session chunks; with ``--detect-secrets`` (if
  installed) the same figures for detect-secrets' default plugins, for comparison.

Writes bench/results/redact.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.ingest import discover, read
from pisteur.ingest.redact import find, redact
from pisteur.types import SkipFile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "secrets"))
from make_corpus import corpus  # noqa: E402


def write_result(name: str, command: str, results: dict[str, Any]) -> Path:
    from _common import write_result as write

    return write(name, command, results)


def recall() -> dict[str, Any]:
    cases = corpus()
    total = removed = same_kind = negatives_hit = 0
    missed: Counter[str] = Counter()
    for text, labels in cases:
        r = redact(text)
        if not labels and r.kinds:
            negatives_hit += 1
        for kind, value in labels:
            total += 1
            if value not in r.text:
                removed += 1
                same_kind += kind in r.kinds
            else:
                missed[kind] += 1
    negatives = sum(1 for _, labels in cases if not labels)
    return {"cases": len(cases), "secrets": total, "recall": round(removed / total, 4),
            "kind_accuracy": round(same_kind / total, 4), "missed_by_kind": dict(missed),
            "negatives": negatives, "negatives_redacted": negatives_hit}


def session_chunks(root: Path, model: str) -> list[str]:
    from pisteur.embed import load_embedder

    embedder = load_embedder(model)
    files, _ = discover([root])
    texts: list[str] = []
    for path, reader in files:
        try:
            segs = read(path, reader, redact=False).segments
        except SkipFile:
            continue
        texts.extend(c.text for c in chunk_segments(segs, ChunkerConfig(), embedder.count_tokens))
    return texts


def masked(text: str, start: int, end: int) -> str:
    value = text[start:end]
    shown = value[:4] + "…" + f"({len(value)} chars)"
    return (text[max(0, start - 40) : start] + shown + text[end : end + 20]).replace("\n", "⏎")


def false_positives(texts: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    findings = [(i, f) for i, t in enumerate(texts) for f in find(t)]
    seconds = time.perf_counter() - t0
    size = sum(len(t.encode()) for t in texts)
    listed = [{"chunk": i, "kind": k, "context": masked(texts[i], s, e)} for i, (s, e, k) in findings]
    return {"chunks": len(texts), "mb": round(size / 1e6, 2), "findings": len(findings),
            "per_1000_chunks": round(1000 * len(findings) / max(1, len(texts)), 3),
            "by_kind": dict(Counter(k for _, (_, _, k) in findings)), "listed": listed[:50],
            "seconds": round(seconds, 3), "mb_per_s": round(size / 1e6 / max(seconds, 1e-9), 1)}


def _ds_scan(texts: list[str]) -> list[set[str]]:
    """detect-secrets' file scan (default plugins and filters) of each text: the secret values found."""
    import tempfile

    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    with tempfile.TemporaryDirectory() as tmp, default_settings():
        paths = []
        for i, text in enumerate(texts):
            path = Path(tmp) / f"t{i:06d}.txt"
            path.write_text(text)
            paths.append(str(path))
        found: list[set[str]] = [set() for _ in texts]
        for path in paths:
            secrets = SecretsCollection()
            secrets.scan_file(path)
            for _, secret in secrets:
                found[int(Path(path).stem[1:])].add(secret.secret_value or "")
    return found


def detect_secrets_figures(texts: list[str]) -> dict[str, Any]:
    try:
        import detect_secrets  # noqa: F401
    except ImportError:
        return {"skipped": "detect-secrets is not installed"}
    size = sum(len(t.encode()) for t in texts)
    t0 = time.perf_counter()
    hits = sum(len(f) for f in _ds_scan(texts))
    seconds = time.perf_counter() - t0
    cases = corpus()
    found = _ds_scan([text for text, _ in cases])
    total = removed = 0
    for (_, labels), values in zip(cases, found, strict=True):
        for _, value in labels:
            total += 1
            removed += any(v and (v in value or value in v) for v in values)
    return {"findings_on_sessions": hits, "per_1000_chunks": round(1000 * hits / max(1, len(texts)), 3),
            "seconds": round(seconds, 3), "mb_per_s": round(size / 1e6 / max(seconds, 1e-9), 2),
            "recall_on_corpus": round(removed / max(1, total), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sessions", type=Path, help="a folder of Claude Code sessions (.jsonl)")
    ap.add_argument("--model", default="e5-small", help="the tokenizer that cuts the chunks")
    ap.add_argument("--detect-secrets", action="store_true", help="also measure detect-secrets, if installed")
    args = ap.parse_args()
    results: dict[str, Any] = {"corpus": recall()}
    texts = session_chunks(args.sessions, args.model)
    results["sessions"] = false_positives(texts)
    if args.detect_secrets:
        results["detect_secrets"] = detect_secrets_figures(texts)
    name = args.sessions.name
    cmd = f"python bench/redact.py {name} --model {args.model}" + (" --detect-secrets" if args.detect_secrets else "")
    out = write_result("redact", cmd, results)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "listed"} for k, v in results.items()}, indent=1))
    for item in results["sessions"]["listed"]:
        print(item["kind"], "|", item["context"])
    print("wrote", out.relative_to(ROOT))


if __name__ == "__main__":
    main()
