"""Fuzzing the readers: malformed files of every kind mixed with good ones, indexed by the real CLI.

    python bench/fuzz.py [--files 2100] [--batch 210] [--model use-m3] [--seed 7]

Builds a corpus in a temporary folder (truncations, bit flips, random bytes, wrong encodings, lone surrogates,
giant lines, ZIP bombs, deeply nested JSON, MIME part floods, file names that are not UTF-8, records of the
wrong type...) from the good samples in samples/ and tests/fixtures/claude, split into batches that each also
hold a copy of every good sample. For each batch:

- ``pisteur index BATCH --index TMP --model MODEL --json`` in a subprocess: an aborted run is a non-zero exit
  or no JSON report; a good file is indexed when the report does not list it as skipped;
- a probe subprocess reads and chunks every file of the batch on its own (reader + chunker time per file).

Reports aborted runs, good files indexed, the slowest files, the peak RSS of the subprocesses, and what the
skipped files were skipped for. Writes bench/results/fuzz.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOOD_DIRS = [ROOT / "samples" / "docs", ROOT / "samples" / "claude", ROOT / "tests" / "fixtures" / "claude" / "legacy"]
EXTS = (".jsonl", ".txt", ".md", ".html", ".eml", ".pdf", ".docx", ".csv", ".json")
Fuzz = Callable[[random.Random, dict[str, list[bytes]]], tuple[bytes, bytes]]  # -> (file name, content)


def good_samples() -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for folder in GOOD_DIRS:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in EXTS:
                out.setdefault(path.suffix, []).append(path.read_bytes())
    json_export = [{"from": "Alex", "date": "2024-03-02T10:00:00", "text": "rdv 18h devant la gare"},
                   {"from": "Sam", "date": "2024-03-02T10:05:00", "text": "ok j'arrive"}]
    out[".json"] = [json.dumps(json_export, ensure_ascii=False).encode()]
    return out


def _pick(rnd: random.Random, good: dict[str, list[bytes]], ext: str | None = None) -> tuple[str, bytes]:
    ext = ext or rnd.choice(sorted(good))
    return ext, rnd.choice(good[ext])


def truncated(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    ext, data = _pick(rnd, good)
    return ext.encode(), data[: rnd.randint(0, max(1, len(data) - 1))]


def bitflip(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    ext, data = _pick(rnd, good)
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 50)):
        buf[rnd.randrange(len(buf))] = rnd.randrange(256)
    return ext.encode(), bytes(buf)


def random_bytes(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    return rnd.choice(EXTS).encode(), rnd.randbytes(rnd.randint(1, 65536))


def wrong_encoding(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    ext, data = _pick(rnd, good, rnd.choice([".jsonl", ".txt", ".md", ".csv", ".json", ".html", ".eml"]))
    text = data.decode("utf-8", "replace")
    enc = rnd.choice(["utf-16-le", "utf-16-be", "latin-1", "cp1252", "broken"])
    if enc == "broken":  # invalid UTF-8 sequences sprinkled in
        return ext.encode(), b"\xff\xfe\xc3(".join(data[i : i + 97] for i in range(0, len(data), 97))
    return ext.encode(), text.encode(enc, "replace")


def surrogates(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    ext = rnd.choice([".jsonl", ".json"])
    if ext == ".json":
        return b".json", b'[{"from":"A","date":"2024-01-01","text":"coup\\ud83d\\ude00\\ud83d pe \\udfff"}]'
    line = '{"type":"user","uuid":"u%d","message":{"role":"user","content":"emoji coup\\u00e9 \\ud83d fin"}}\n'
    return b".jsonl", "".join(line % i for i in range(rnd.randint(1, 20))).encode()


def giant_line(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    size = rnd.choice([100_000, 300_000, 1_000_000])
    blob = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(size // 10)) * 10
    kind = rnd.choice([".txt", ".jsonl", ".csv"])
    if kind == ".jsonl":
        rec = {"type": "user", "uuid": "g", "message": {"role": "user", "content": blob}}
        return b".jsonl", json.dumps(rec).encode() + b"\n"
    if kind == ".csv":
        return b".csv", f"date,expediteur,message\n2024-01-01,A,{blob}\n".encode()
    return b".txt", blob.encode()


_BOMB: bytes = b""


def zip_bomb(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    global _BOMB
    if not _BOMB:
        import io
        import zipfile

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("[Content_Types].xml", "<Types/>")
            zf.writestr("word/document.xml", b"\0" * (200 * 1024 * 1024))
        _BOMB = buf.getvalue()
    return b".docx", _BOMB


def deep_json(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    depth = rnd.choice([1000, 100_000])
    if rnd.random() < 0.5:
        return b".jsonl", b'{"type":"user","message":' + b"[" * depth + b"]" * depth + b"}\n"
    return b".json", b'[{"text":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}]"


def mime_flood(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    parts = rnd.choice([5_000, 50_000])
    head = (b"From: a@example.org\r\nSubject: flood\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nbonjour\r\n')
    return b".eml", head + b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n" * parts + b"--B--\r\n"


def type_list(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    lines = [b'{"type":["user"],"uuid":"x"}', b'{"type":{"a":1}}', b'{"type":null}', b"[1,2]", b"42", b"null"]
    ok = b'{"type":"user","uuid":"u1","message":{"role":"user","content":"bonjour"}}'
    rnd.shuffle(lines)
    return b".jsonl", b"\n".join([*lines, ok]) + b"\n"


def misnamed(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    _, data = _pick(rnd, good, rnd.choice([".pdf", ".docx"]))
    return rnd.choice([b".txt", b".csv", b".jsonl", b".eml", b".json", b".md"]), data


def empty_ish(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    return rnd.choice(EXTS).encode(), rnd.choice([b"", b" \n\t\n", b"\0" * 1000, b"\xef\xbb\xbf", b"\n" * 10_000])


def bad_name(rnd: random.Random, good: dict[str, list[bytes]]) -> tuple[bytes, bytes]:
    ext, data = _pick(rnd, good)
    stem = rnd.choice(["caf\xe9".encode("latin-1"), b"a\nb", b"x" * 200, b"-rf", b"espace fin ", b"\xe2\x80\xae"])
    return stem + b"|" + ext.encode(), data


FUZZERS: dict[str, tuple[Fuzz, float]] = {  # name -> (generator, weight)
    "truncated": (truncated, 5), "bitflip": (bitflip, 4), "random-bytes": (random_bytes, 3),
    "wrong-encoding": (wrong_encoding, 3), "surrogates": (surrogates, 2), "giant-line": (giant_line, 0.4),
    "zip-bomb": (zip_bomb, 0.3), "deep-json": (deep_json, 1), "mime-flood": (mime_flood, 0.3),
    "type-list": (type_list, 1), "misnamed": (misnamed, 1), "empty": (empty_ish, 1), "bad-name": (bad_name, 1),
}


def build(out: Path, files: int, batch: int, seed: int) -> list[dict[str, Any]]:
    """Write the corpus under ``out``; returns one dict per batch: folder, good files, fuzz kinds by file."""
    rnd = random.Random(seed)
    good = good_samples()
    names, weights = list(FUZZERS), [w for _, w in FUZZERS.values()]
    batches = []
    for b in range(max(1, files // batch)):
        folder = out / f"batch{b:03d}"
        folder.mkdir(parents=True)
        kinds: dict[str, str] = {}
        for i in range(batch):
            kind = rnd.choices(names, weights)[0]
            name, data = FUZZERS[kind][0](rnd, good)
            stem, _, ext = name.rpartition(b"|") if b"|" in name else (b"", b"", name)
            path = os.path.join(os.fsencode(folder), b"f%04d_" % i + stem + ext)
            with open(path, "wb") as fh:
                fh.write(data)
            kinds[os.fsdecode(path)] = kind
        good_paths = []
        for ext, samples in sorted(good.items()):
            for j, data in enumerate(samples):
                path = folder / f"good_{j}{ext}"
                path.write_bytes(data)
                good_paths.append(str(path))
        batches.append({"folder": folder, "good": good_paths, "kinds": kinds})
    return batches


def probe(folder: Path, model: str) -> None:
    """Child mode: read and chunk every file on its own, print one JSON line per file (path, seconds, result)."""
    from pisteur.chunk import ChunkerConfig, chunk_segments
    from pisteur.embed import load_embedder
    from pisteur.ingest import discover, read
    from pisteur.types import SkipFile

    count = load_embedder(model).count_tokens
    files, skipped = discover([folder])
    for path, reader in files:
        t0 = time.perf_counter()
        try:
            segs = read(path, reader).segments
            outcome = f"{len(chunk_segments(segs, ChunkerConfig(), count))} chunks"
        except SkipFile as exc:
            outcome = f"skipped: {exc}"
        line = {"path": os.fsdecode(bytes(path)).encode("utf-8", "replace").decode(), "seconds":
                round(time.perf_counter() - t0, 3), "outcome": outcome[:120]}
        print(json.dumps(line), flush=True)


def run_batch(b: dict[str, Any], model: str, timeout: int) -> dict[str, Any]:
    folder: Path = b["folder"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cli = [sys.executable, "-c", "from pisteur.cli import main; main()"]
    with tempfile.TemporaryDirectory() as idx:
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([*cli, "index", str(folder), "--index", idx, "--model", model, "--json", "--quiet"],
                                  capture_output=True, text=True, timeout=timeout, env=env)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            rc, out, err = -1, "", "timeout"
        wall = time.perf_counter() - t0
    try:
        report = json.loads(out.strip().split("\n")[-1])  # not splitlines(): it also splits on \x1c, \x85...
    except (ValueError, IndexError):
        report = None
    skipped = {s["path"]: s["reason"] for s in (report or {}).get("skipped", [])}
    pr = subprocess.run([sys.executable, __file__, "--probe", str(folder), "--model", model],
                        capture_output=True, text=True, timeout=timeout, env=env)
    per_file = [json.loads(x) for x in pr.stdout.splitlines() if x.startswith("{")]
    return {"batch": folder.name, "rc": rc, "aborted": rc != 0 or report is None, "wall_s": round(wall, 1),
            "error": err.strip().splitlines()[-1][:300] if (rc != 0 or report is None) and err.strip() else None,
            "good": len(b["good"]), "good_indexed": sum(1 for g in b["good"] if g not in skipped),
            "skipped": skipped, "per_file": per_file, "probe_rc": pr.returncode}


def summarize(runs: list[dict[str, Any]], batches: list[dict[str, Any]]) -> dict[str, Any]:
    per_file = sorted((f for r in runs for f in r["per_file"]), key=lambda f: -f["seconds"])
    kinds = {k: v for b in batches for k, v in b["kinds"].items()}
    reasons = Counter(reason.split("(")[0].split(":")[0].strip()[:60] for r in runs for reason in r["skipped"].values())
    return {
        "files": sum(len(b["kinds"]) for b in batches), "good_files": sum(r["good"] for r in runs),
        "batches": len(runs), "aborted_runs": sum(r["aborted"] for r in runs),
        "aborts": [{"batch": r["batch"], "error": r["error"]} for r in runs if r["aborted"]],
        "good_indexed": sum(r["good_indexed"] for r in runs),
        "fuzz_kinds": dict(Counter(kinds.values())),
        "max_seconds_per_file": per_file[0]["seconds"] if per_file else None,
        "slowest": [{**f, "kind": kinds.get(f["path"], "good")} for f in per_file[:10]],
        "files_over_10s": sum(1 for f in per_file if f["seconds"] > 10),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "index_wall_s": round(sum(r["wall_s"] for r in runs), 1), "skip_reasons": dict(reasons.most_common(25)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2100, help="malformed files in all")
    ap.add_argument("--batch", type=int, default=210, help="malformed files per indexing run")
    ap.add_argument("--model", default="use-m3")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=int, default=900, help="seconds before a run counts as hung")
    ap.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        probe(args.probe, args.model)
        return
    tmp = Path(tempfile.mkdtemp(prefix="pisteur-fuzz-"))
    try:
        batches = build(tmp, args.files, args.batch, args.seed)
        runs = []
        for b in batches:
            runs.append(run_batch(b, args.model, args.timeout))
            r = runs[-1]
            print(f"{r['batch']}: rc={r['rc']} good {r['good_indexed']}/{r['good']} {r['wall_s']} s", flush=True)
        results = summarize(runs, batches)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    from _common import write_result

    out = write_result("fuzz", f"python bench/fuzz.py --files {args.files} --batch {args.batch} --model {args.model} "
                       f"--seed {args.seed}", results)
    print(json.dumps({k: v for k, v in results.items() if k != "slowest"}, indent=1, ensure_ascii=False))
    print("wrote", out.relative_to(ROOT))


if __name__ == "__main__":
    main()
