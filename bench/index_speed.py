"""First-index speed on real Claude Code sessions: time to every chunk searchable, time to full dense,
chunks/s, peak RSS, and the cost of re-indexing a session after one appended exchange.

Each measurement runs in a fresh child process (its own peak RSS). ``--old-src DIR`` measures the same
steps with another checkout's ``src`` (e.g. ``git worktree add /tmp/old main``), in the same run.

    python bench/index_speed.py SESSIONS_DIR --model e5-small --model use-m3 [--old-src /tmp/old/src]
        [--dense-seconds 600] [--out bench/results/index_speed.json]

``--dense-seconds`` caps the dense phase of the new code path and the whole old run (the time to full
dense is then extrapolated from the measured rate and marked ``"estimated": true``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import command_line, write_result

APPEND_TEXT = ("Peux-tu résumer ce que nous avons changé dans l'indexeur aujourd'hui ?",
               "Nous avons séparé la lecture lexicale du calcul des vecteurs.")


def _append_exchange(session: Path) -> None:
    """Append one user turn and one assistant answer, shaped like Claude Code's records."""
    last = json.loads(session.read_text(encoding="utf-8").splitlines()[-1])
    sid, parent = last.get("sessionId", "bench"), last.get("uuid")
    recs = []
    for i, (role, text) in enumerate(zip(("user", "assistant"), APPEND_TEXT, strict=True)):
        content = text if role == "user" else [{"type": "text", "text": text}]
        recs.append({"type": role, "uuid": f"bench-{i}", "parentUuid": parent, "sessionId": sid,
                     "cwd": last.get("cwd", "/bench"), "timestamp": f"2099-01-01T00:00:0{i}Z",
                     "isSidechain": False, "message": {"role": role, "content": content}})
        parent = f"bench-{i}"
    with open(session, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)


def child(args: argparse.Namespace) -> None:
    """Runs inside the measured process: index, then (optionally) append to one session and re-index."""
    from pisteur.indexer import index_paths

    events: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(event: str, **info: object) -> None:
        if event not in events:
            events[event] = round(time.perf_counter() - t0, 2)

    kw = {"dense_seconds": args.dense_seconds} if args.dense_seconds and args.new else {}
    rep = index_paths(Path(args.index), [Path(args.data)], model=args.model, progress=progress, **kw)
    out = {"first": rep.to_json(), "events": events}
    if args.append and not getattr(rep, "dense_pending", 0):  # a capped dense pass would resume here
        session = max(Path(args.data).rglob("*.jsonl"), key=lambda p: p.stat().st_size)
        _append_exchange(session)
        t1 = time.perf_counter()
        rep2 = index_paths(Path(args.index), [Path(args.data)], model=args.model, **kw)
        out["append"] = {"seconds": round(time.perf_counter() - t1, 2), **rep2.to_json()}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    # the packaged model may embed in worker processes (closed, hence waited for, by then)
    out["peak_rss_workers_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    print("RESULT " + json.dumps(out))


def measure(data: Path, model: str, src: Path, new: bool, dense_seconds: float | None) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="pisteur-idxspeed-"))
    try:
        copy = work / "sessions"
        shutil.copytree(data, copy)
        cmd = [sys.executable, __file__, "--child", str(copy), "--index", str(work / "idx"), "--model", model,
               "--append"]
        if new:
            cmd.append("--new")
        if dense_seconds:
            cmd += ["--dense-seconds", str(dense_seconds)]
        env = {**os.environ, "PYTHONPATH": str(src)}
        t0 = time.perf_counter()
        # its own session: a capped run is killed with the model's worker processes
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=None if new or not dense_seconds else dense_seconds)
        except subprocess.TimeoutExpired:  # the old path, capped: its rate from what it committed
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"capped_s": dense_seconds, "committed": _committed(work / "idx")}
        wall = time.perf_counter() - t0
        line = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not line:
            return {"error": stderr[-2000:]}
        res = json.loads(line[0][7:])
        return {"wall_s": round(wall, 1), **res}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _committed(idx: Path) -> int:
    import sqlite3

    con = sqlite3.connect(idx / "index.sqlite")
    try:
        return int(con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    finally:
        con.close()


def summarise(res: dict[str, object], new: bool, total_chunks: int | None = None) -> dict[str, object]:
    if "error" in res:
        return res
    if "capped_s" in res:  # the old path did not finish within the cap: extrapolate from its rate
        rate = int(res["committed"]) / float(res["capped_s"])  # type: ignore[arg-type]
        full = round(total_chunks / rate, 1) if rate and total_chunks else None
        return {"capped_s": res["capped_s"], "chunks_committed": res["committed"], "chunks_per_s": round(rate, 2),
                "seconds_searchable": full, "seconds_full_dense": full, "estimated": True}
    first = res["first"]  # type: ignore[index]
    total = first["seconds"]
    chunks = first.get("chunks_stored") or first.get("chunks_embedded")
    out = {"chunks": chunks, "seconds_total": total, "peak_rss_mb": res["peak_rss_mb"],
           "peak_rss_workers_mb": res.get("peak_rss_workers_mb"),
           "append": {k: res["append"].get(k) for k in ("seconds", "chunks_embedded", "chunks_reused",  # type: ignore[union-attr]
                                                          "chunks_stored") if k in res["append"]}  # type: ignore[operator]
           if "append" in res else None}
    if not new:  # before: per-file commits, every chunk searchable only at the end
        out.update(seconds_searchable=total, seconds_full_dense=total,
                   chunks_per_s=round(first["chunks_embedded"] / total, 2))
        return out
    dense_s = total - first["seconds_searchable"]
    rate = first["chunks_dense"] / dense_s if dense_s > 0 else None
    pending = first["dense_pending"]
    full = total if not pending else (first["seconds_searchable"] + (first["chunks_dense"] + pending) / rate
                                      if rate else None)
    out.update(seconds_searchable=first["seconds_searchable"], seconds_full_dense=round(full, 1) if full else None,
               estimated=bool(pending), dense_chunks_per_s=round(rate, 2) if rate else None,
               texts_embedded=first["chunks_embedded"], chunks_dense=first["chunks_dense"],
               dense_pending=pending, warnings=len(first["warnings"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--model", action="append")
    ap.add_argument("--old-src", type=Path)
    ap.add_argument("--dense-seconds", type=float)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "index_speed.json")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--index", help=argparse.SUPPRESS)
    ap.add_argument("--append", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--new", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.model = args.model[0]
        child(args)
        return
    new_src = Path(__file__).resolve().parent.parent / "src"
    results: dict[str, object] = {}
    for model in args.model or ["e5-small"]:
        results[model] = {"after": summarise(measure(args.data, model, new_src, True, args.dense_seconds), True)}
        if args.old_src:
            chunks = results[model]["after"].get("chunks")  # type: ignore[union-attr]
            old = measure(args.data, model, args.old_src, False, args.dense_seconds)
            results[model]["before"] = summarise(old, False, chunks)  # type: ignore[index]
        print(json.dumps({model: results[model]}, indent=1), flush=True)
    data_mb = round(sum(p.stat().st_size for p in args.data.rglob("*") if p.is_file()) / 1e6, 1)
    print(write_result(args.out.stem, command_line(), {"data_mb": data_mb, **results}, out_dir=args.out.parent))


if __name__ == "__main__":
    main()
