"""The bench suite's own pieces: the session query set, the shared helpers, the session eval scoring, and the
scale generators (their output must be what the product reads)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import _common  # noqa: E402
import scale_history  # noqa: E402
import sessions_eval  # noqa: E402
from _sms_templates import write_sms_export  # noqa: E402

SESSIONS = BENCH / "data" / "claude-sessions"
QUERIES = BENCH / "data" / "session-queries"


def _read(path: Path) -> list:
    """Segments of one file, read by the reader the product's discovery picks for it."""
    from pisteur.ingest import discover, read

    files, skipped = discover([path])
    assert not skipped and len(files) == 1, skipped
    return read(path, files[0][1]).segments


def _fixture_uuids() -> set[str]:
    out = set()
    for f in SESSIONS.rglob("*.jsonl"):
        for line in f.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if isinstance(rec.get("uuid"), str):
                out.add(rec["uuid"])
    return out


def test_session_query_set_is_judged_on_real_messages() -> None:
    queries = sessions_eval.load_queries(QUERIES)
    by_lang = {lang: [q for q in queries if q.lang == lang] for lang in ("en", "fr")}
    assert len(queries) >= 40 and all(len(v) >= 15 for v in by_lang.values())
    assert {q.split for q in queries} == {"train", "held-out"}
    assert len({q.qid for q in queries}) == len(queries)
    known = _fixture_uuids()
    for q in queries:
        assert q.judged and q.judged <= known, q.qid
    rows = [line.split("\t") for line in (QUERIES / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    split = {q.qid: q.split for q in queries}
    assert all(split[qid] == s for qid, _, _, s in rows)


def test_a_hit_counts_when_it_covers_a_judged_uuid() -> None:
    q = sessions_eval.Query("q1", "x", "fr", "vague", "train", frozenset({"u-good", "u-other"}))
    hits = [{"id": 1, "uuids": ["u-a"]}, {"id": 2, "uuids": ["u-b", "u-good"]}, {"id": 3, "uuids": ["u-other"]}]
    row = sessions_eval.score_query(q, hits)
    assert row["rank"] == 2 and row["success@10"] == 1.0 and row["mrr@10"] == pytest.approx(0.5)
    miss = sessions_eval.score_query(q, [{"id": 9, "uuids": ["u-z"]}, {"id": 8}])
    assert miss["rank"] is None and miss["success@10"] == 0.0 and miss["mrr@10"] == 0.0
    agg = sessions_eval.aggregate([row, {**miss, "lang": "en"}])
    assert agg["all"]["success@10"] == 0.5 and agg["lang"]["fr"]["mrr@10"] == 0.5 and agg["lang"]["en"]["n"] == 1


def test_percentiles_agree_with_numpy() -> None:
    xs = [random.Random(3).random() for _ in range(37)]
    for q in (0, 50, 95, 100):
        assert _common.percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))
    t = _common.timing([0.001, 0.002, 0.003])
    assert t.p50_ms == pytest.approx(2.0) and t.n == 3


def test_a_missing_dataset_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PISTEUR_EVAL_DIR", raising=False)
    with pytest.raises(SystemExit, match="PISTEUR_EVAL_DIR"):
        _common.eval_path(None, "piaf-dev")
    monkeypatch.setenv("PISTEUR_EVAL_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match="does not exist"):
        _common.eval_path(None, "piaf-dev")
    (tmp_path / "piaf-dev").mkdir()
    assert _common.eval_path(None, "piaf-dev") == tmp_path / "piaf-dev"


def test_generated_history_is_new_and_readable_by_the_product(tmp_path: Path) -> None:
    report = scale_history.write_history(tmp_path, scale_history.Plan(mb=4, months=6, projects=3, seed=7))
    root = tmp_path / "claude" / "projects"
    assert report["bytes"] >= 4e6 and report["main_sessions"] >= 2
    check = scale_history.check_history(root)
    assert check["invalid_lines"] == 0 and check["duplicate_uuids"] == 0
    assert not _fixture_uuids() & _all_uuids(root)  # every uuid is new
    mains = sorted(p for p in root.glob("*/*.jsonl"))
    subs = sorted(p for p in root.glob("*/*/subagents/agent-*.jsonl") if "acompact" not in p.name)
    assert mains and subs
    segs = _read(mains[0])
    assert segs and {s.meta["session_id"] for s in segs} == {mains[0].stem}
    first = min(s.meta["ts_first"] for s in segs if s.meta.get("ts_first"))
    assert "2025-01-01" <= first[:10] <= "2025-08-01"
    assert _read(subs[0])


def _all_uuids(root: Path) -> set[str]:
    return {json.loads(line).get("uuid") for f in root.rglob("*.jsonl") for line in f.read_text().splitlines()} - {
        None}


def test_sms_export_is_read_as_messages_with_dictionary_forms(tmp_path: Path) -> None:
    report = write_sms_export(tmp_path, 400, months=3, seed=5)
    assert report["messages"] == 400
    segs = _read(tmp_path / "export-000.csv")
    assert len(segs) == 400 and {s.kind for s in segs} == {"message"}
    text = " ".join(s.text for s in segs).lower()
    assert any(f" {w} " in f" {text} " for w in ("rdv", "tkt", "dsl", "stp", "slt", "mrc"))


TEXTS = [
    "Le suspect a été interpellé devant la gare de Lyon après un contrôle routier.",
    "Rendez-vous ce soir au tabac, t'inquiète je ramène le colis.",
    "La migration de la base SQLite a échoué : ALTER TABLE n'est pas supporté.",
    "Le procès-verbal d'audition mentionne un véhicule volé et un rendez-vous à la gare.",
    "Les enquêteurs ont saisi le téléphone du suspect lors de la garde à vue.",
    "Le test d'idempotence échoue car la synchronisation crée des messages en double.",
    "Un contrôle routier a permis de retrouver le véhicule volé près de la gare.",
]


def test_bm25_replica_matches_the_store(tmp_path: Path) -> None:
    """bench/_bm25.py is a copy of the store's lexical score kept for speed: it must give the same scores."""
    from _bm25 import Bm25
    from helpers import HashEmbedder

    from pisteur.indexer import index_paths
    from pisteur.retrieve.analysis import analyze, analyze_query
    from pisteur.store import open_store

    docs = tmp_path / "docs"
    docs.mkdir()
    for i, t in enumerate(TEXTS):
        (docs / f"d{i}.txt").write_text(t, encoding="utf-8")
    index_paths(tmp_path / "idx", [docs], embedder=HashEmbedder())
    store = open_store(tmp_path / "idx")
    hits = store.get([cid for cid, _ in store.lexical_search(analyze_query("gare"), 100)])
    assert hits
    ids = [int(h.id) for h in store.get(list(range(1, 100)))]
    texts = [h.text for h in store.get(ids)]
    replica = Bm25([analyze(t) for t in texts])
    for query in ("gare", "véhicule volé près de la gare", "rendez-vous au tabac", "migration SQLite échoue",
                  "suspect suspect garde à vue"):
        terms = analyze_query(query)
        got = dict(store.lexical_search(terms, 100))
        want = replica.scores(terms)
        assert got, query
        for cid, score in got.items():
            assert score == pytest.approx(want[ids.index(cid)], rel=1e-6, abs=1e-9), query
        assert {ids[i] for i in np.flatnonzero(want > 0)} == set(got), query


def test_fusion_and_ndcg_used_by_the_tuning_scripts_are_the_products() -> None:
    """bench/piaf_tune.py fuses whole score matrices (vectorised) and computes nDCG@10 from the gold passage's
    rank: both must equal pisteur.retrieve.fusion and pisteur.evaluate.metrics on the same lists."""
    import piaf_tune

    from pisteur.evaluate.metrics import ndcg_at
    from pisteur.retrieve.fusion import fuse

    rng = np.random.default_rng(4)
    n_docs, n = 300, piaf_tune.N
    mats = {"a": rng.normal(size=(5, n_docs)), "b": rng.gamma(2.0, size=(5, n_docs))}
    ranks = {k: piaf_tune.ranks(v) for k, v in mats.items()}
    gold = rng.integers(0, n_docs, size=5)
    for how, method, norm in (("rrf", "rrf", "minmax"), ("minmax", "weighted", "minmax"),
                              ("zscore", "weighted", "zscore")):
        fused = 0.7 * piaf_tune.norm_list(mats["a"], ranks["a"], how) + 1.3 * piaf_tune.norm_list(
            mats["b"], ranks["b"], how)
        for q in range(5):
            lists = [[(int(d), float(m[q, d])) for d in np.argsort(-m[q], kind="stable")[:n]] for m in mats.values()]
            want = fuse(lists, method, [0.7, 1.3], norm=norm)
            top = [d for d, _ in want[:20]]
            got = sorted(top, key=lambda d: -fused[q, d])
            assert got == top, how
            assert np.allclose([fused[q, d] for d in top], [s for _, s in want[:20]]), how
        rows = np.arange(5)
        ndcg = np.mean([ndcg_at([str(d) for d in np.argsort(-fused[q], kind="stable")], {str(gold[q]): 1}, 10)
                        for q in rows])
        assert piaf_tune.ndcg10(fused, gold, rows) == pytest.approx(ndcg)


def test_recorded_commands_name_no_machine_path() -> None:
    repo = str(_common.REPO_DIR)
    cmd = _common.command_line([f"{repo}/bench/x.py", "/data/gen/claude/projects", "--index", "/var/tmp/i", "-k", "3"])
    assert cmd == "python bench/x.py PATH --index INDEX -k 3"
    for f in (BENCH / "results").glob("*.json"):
        assert "/tmp/" not in json.loads(f.read_text(encoding="utf-8"))["command"], f
