from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pisteur.serve.live import is_self_echo, keep_segment, snapshot
from pisteur.types import Segment

from .conftest import MODEL, session_line, write_session

SELF_RESULT = json.dumps({"origin": "pisteur", "query": "bug migration", "hits": [
    {"id": 3, "snippet": "La migration échouait sur la colonne created_at"}]}, ensure_ascii=False)


def _tool_use(uuid: str, ts: str, tools: list[tuple[str, str, dict]]) -> str:
    content = [{"type": "tool_use", "id": tid, "name": name, "input": inp} for tid, name, inp in tools]
    return session_line("assistant", "", uuid=uuid, ts=ts, content=content)


def _tool_result(uuid: str, ts: str, results: list[tuple[str, str]]) -> str:
    content = [{"type": "tool_result", "tool_use_id": tid, "content": [{"type": "text", "text": text}]}
               for tid, text in results]
    return session_line("user", "", uuid=uuid, ts=ts, content=content)


def _echo_session(path: Path) -> None:
    """A session: a human question, a pisteur search + a Bash call, their results, an answer; then a turn
    made only of pisteur calls."""
    lines = [
        session_line("user", "Retrouve comment on a corrigé le bug de migration", uuid="a1", ts="2026-11-01T10:00:00Z"),
        _tool_use("a2", "2026-11-01T10:00:01Z", [("t1", "mcp__pisteur__search", {"query": "bug migration"}),
                                                 ("t2", "Bash", {"command": "git log --oneline"})]),
        _tool_result("a3", "2026-11-01T10:00:02Z", [("t1", SELF_RESULT), ("t2", "abc123 fix fuseau UTC alembic")]),
        session_line("assistant", "On a forcé le fuseau UTC dans alembic.", uuid="a4", ts="2026-11-01T10:00:03Z"),
        _tool_use("a5", "2026-11-01T10:01:00Z", [("t3", "mcp__pisteur__read", {"id": 3})]),
        _tool_result("a6", "2026-11-01T10:01:01Z", [("t3", SELF_RESULT)]),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")


def test_self_echo_segments_from_the_real_reader(tmp_path: Path):
    from pisteur import ingest

    p = tmp_path / "projects" / "-home-u-proj" / "s1.jsonl"
    _echo_session(p)
    segs = ingest.read(p, "claude").segments
    results = [s for s in segs if s.kind == "tool_result"]
    assert results, [s.kind for s in segs]
    kept = [s for s in segs if keep_segment(s)]
    kept_text = "\n".join(s.text for s in kept)
    assert "fuseau UTC alembic" in kept_text  # the Bash result survives
    assert '"origin": "pisteur"' not in kept_text and "created_at" not in kept_text  # pisteur's results don't
    assert "bug de migration" in kept_text  # the human's question survives


def test_is_self_echo_units():
    only_self = Segment("[mcp__pisteur__search] query=x\n" + SELF_RESULT, "tool_result",
                        {"tools": ["mcp__pisteur__search"]})
    assert is_self_echo(only_self) and not keep_segment(only_self)
    stamped = Segment("[tool]\n" + SELF_RESULT, "tool_result", {"tools": []})
    assert is_self_echo(stamped)
    other = Segment("[Bash] ls\nfichier.txt", "tool_result", {"tools": ["Bash"]})
    assert not is_self_echo(other) and keep_segment(other) and other.text == "[Bash] ls\nfichier.txt"
    calls_only = Segment("Assistant: [mcp__pisteur__search] query=garde à vue\n[mcp__pisteur__read] id=4",
                         "exchange", {})
    assert is_self_echo(calls_only)
    human = Segment("User: cherche la GAV d'hier\nAssistant: [mcp__pisteur__search] query=GAV", "exchange", {})
    assert not is_self_echo(human) and keep_segment(human)
    doc = Segment("Un document qui parle de mcp__pisteur__search.", "document", {})
    assert not is_self_echo(doc)


def test_snapshot_sees_appends(tmp_path: Path):
    f = tmp_path / "a" / "s.jsonl"
    write_session(f, [("user", "bonjour")])
    s1 = snapshot([tmp_path])
    write_session(f, [("user", "encore")], start=1)
    assert snapshot([tmp_path]) != s1
    assert str(f) in s1


def _poll(service, query: str, want: str, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            r = service.search(query, 5)
            if any(want in service.read(h.id).passages[0].text for h in r.hits):
                return time.monotonic() - t0
        except Exception:  # index not created yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"{want!r} not searchable after {timeout} s; live state: {service.live.state()}")


def test_live_index_new_message_searchable(tmp_path: Path):
    """A message appended to a session while the server runs becomes searchable (target 10 s; the
    bound here is generous for loaded CI machines), and pisteur's own results never get indexed."""
    from pisteur.serve.service import Service

    projects = tmp_path / "claude" / "projects"
    sess = projects / "-home-u-proj" / "s1.jsonl"
    write_session(sess, [("user", "Comment configurer le proxy nginx ?"), ("assistant", "Avec proxy_pass.")])
    idx = tmp_path / "index"
    svc = Service(idx, live=True, sources=[projects], live_interval=0.3, model=MODEL)
    svc.start(warm=False)
    try:
        _poll(svc, "proxy nginx", "proxy nginx", 30)
        gen0 = svc.status().generation
        write_session(sess, [("user", "Le certificat TLS du serveur zanzibar expire demain"),
                             ("assistant", "Renouvelle-le avec certbot.")], start=2)
        took = _poll(svc, "certificat TLS zanzibar", "zanzibar", 30)
        assert svc.status().generation > gen0
        # a pisteur search + result appended to the session is not indexed back
        with sess.open("a", encoding="utf-8") as f:
            f.write(session_line("user", "cherche le ticket quokka", uuid="q1", ts="2026-11-09T10:00:00Z"))
            f.write(_tool_use("q2", "2026-11-09T10:00:01Z", [("t9", "mcp__pisteur__search", {"query": "quokka"})]))
            f.write(_tool_result("q3", "2026-11-09T10:00:02Z",
                                 [("t9", SELF_RESULT.replace("created_at", "ornithorynque"))]))
        _poll(svc, "ticket quokka", "quokka", 30)
        r = svc.search("ornithorynque", 10)
        texts = [svc.read(h.id).passages[0].text for h in r.hits]
        assert not any("ornithorynque" in t for t in texts)
        st = svc.status()
        assert st.live["runs"] >= 3 and st.live["errors"] == 0
        print(f"new message searchable after {took:.2f} s")
    finally:
        svc.close()


def test_searches_not_blocked_while_indexing(tmp_path: Path, docs_index: Path):
    """A slow indexing pass (writer holding the lock) does not block searches."""
    import threading

    from pisteur.serve.live import LiveIndexer
    from pisteur.serve.service import Service

    started, release = threading.Event(), threading.Event()

    def slow_index(index_dir, sources, progress):
        from pisteur.store.lock import WriterLock

        with WriterLock(index_dir):
            progress("start", files=1)
            started.set()
            release.wait(20)
            progress("file", path="x")
        return {"added": 0}

    svc = Service(docs_index)
    svc.live = LiveIndexer(docs_index, [tmp_path / "docs"], interval=0.1, run_index=slow_index)
    svc.start(warm=False)
    try:
        assert started.wait(20)
        t0 = time.monotonic()
        r = svc.search("recette du pain", 3)
        assert r.hits and time.monotonic() - t0 < 5
        st = svc.status()
        assert st.live["running"] and st.live["files_total"] == 1 and st.live["phase"] == "indexing"
        assert "pisteur_indexing_in_progress 1" in svc.prometheus()
    finally:
        release.set()
        svc.close()
    assert svc.live.state()["runs"] >= 1


@pytest.mark.parametrize("busy", [True])
def test_index_locked_waits_for_next_tick(tmp_path: Path, docs_index: Path, busy: bool):
    from pisteur.serve.live import LiveIndexer
    from pisteur.store.lock import WriterLock

    li = LiveIndexer(docs_index, [tmp_path / "docs"], model=MODEL)
    assert li.state()["phase"] == "pending"  # no pass yet: the page must not say "up to date"
    with WriterLock(docs_index):
        assert li.run_once() is False
        assert li.state()["waiting_for_lock"] is busy
        assert li.state()["phase"] == "waiting_for_lock"
    assert li.run_once() is True
    assert li.state()["phase"] == "up_to_date"
    li.stop()


def test_web_page_shows_the_phase_not_up_to_date():
    from importlib import resources

    js = resources.files("pisteur.serve").joinpath("web").joinpath("app.js").read_text(encoding="utf-8")
    status = js[js.index("async function refreshStatus"):]
    status = status[:status.index("\n}\n")]
    # "à jour" only in the up_to_date branch; the waiting and pending phases have their own words
    assert 'phase === "up_to_date"' in status and status.count("à jour") == 1
    assert status.index('phase === "up_to_date"') < status.index("à jour")
    assert 'phase === "waiting_for_lock"' in status and 'phase === "pending"' in status


def test_live_follows_an_index_rebuilt_with_another_model(tmp_path: Path):
    from pisteur.indexer import index_paths
    from pisteur.serve.live import LiveIndexer

    projects = tmp_path / "projects"
    write_session(projects / "p" / "s.jsonl", [("user", "premier message"), ("assistant", "réponse")])
    idx = tmp_path / "index"
    index_paths(idx, [projects], model=MODEL)
    li = LiveIndexer(idx, [projects])
    assert li.run_once()
    index_paths(idx, [projects], model="test-hash:other", rebuild=True)  # the user changed the model
    write_session(projects / "p" / "s.jsonl", [("user", "deuxième message")], start=2)
    assert li.run_once()  # no ManifestMismatch: the live indexer reloaded the index's new model
    assert li._embedder.name == "test-hash:other"
    li.stop()


def test_read_neighbours_are_turns(tmp_path: Path):
    """`read` with before/after on a session gives the neighbouring exchanges, not the tool output between."""
    from pisteur.indexer import index_paths
    from pisteur.serve.service import Service

    p = tmp_path / "projects" / "-home-u-proj" / "s1.jsonl"
    lines = [
        session_line("user", "Premier sujet : le cache redis", uuid="b1", ts="2026-11-01T10:00:00Z"),
        _tool_use("b2", "2026-11-01T10:00:01Z", [("t1", "Bash", {"command": "redis-cli info"})]),
        _tool_result("b3", "2026-11-01T10:00:02Z", [("t1", "redis_version:7.2 used_memory:1M")]),
        session_line("assistant", "Redis tourne en 7.2.", uuid="b4", ts="2026-11-01T10:00:03Z"),
        session_line("user", "Deuxième sujet : la file kafka", uuid="b5", ts="2026-11-01T10:01:00Z"),
        session_line("assistant", "Kafka a trois partitions.", uuid="b6", ts="2026-11-01T10:01:01Z"),
        session_line("user", "Troisième sujet : le quota postgres", uuid="b7", ts="2026-11-01T10:02:00Z"),
        session_line("assistant", "Le quota est de 10 Go.", uuid="b8", ts="2026-11-01T10:02:01Z"),
    ]
    p.parent.mkdir(parents=True)
    p.write_text("".join(lines), encoding="utf-8")
    index_paths(tmp_path / "idx", [tmp_path / "projects"], model=MODEL)
    svc = Service(tmp_path / "idx")
    hit = next(h for h in svc.search("file kafka partitions", 5).hits if h.kind == "exchange")
    r = svc.read(hit.id, before=1, after=1)
    kinds = [ps.kind for ps in r.passages]
    texts = [ps.text for ps in r.passages]
    assert kinds == ["exchange", "exchange", "exchange"], kinds
    assert "redis" in texts[0] and "kafka" in texts[1] and "postgres" in texts[2]
    assert [ps.is_hit for ps in r.passages] == [False, True, False]
    assert r.passages[1].uuids == ["b5", "b6"] and r.passages[1].ts_first.startswith("2026-11-01T10:01")
    svc.close()
