"""A hit in context: neighbouring turns skip the other pieces of the same exchange and the tool outputs
between turns; a tool output's context starts with the call that produced it; a session has a title."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import build_index, session_record, tool_result, tool_use

from pisteur.chunk import ChunkerConfig
from pisteur.context import add_titles, context_hits, session_title, title_of, tool_call
from pisteur.store import open_store

LONG_REDIS = " ".join(f"Le cache redis numéro {i} expire trop tôt sur le serveur de recette." for i in range(12))
LONG_OUTPUT = "\n".join(f"redis_key_{i}:expires_in={i * 7}s memory={i}M" for i in range(60))
LONG_KAFKA = " ".join(f"La file kafka {i} perd des messages quand le consommateur redémarre." for i in range(12))


def _session() -> str:
    return "".join([
        session_record("user", "Premier sujet : " + LONG_REDIS, uuid="b1", ts="2026-11-01T10:00:00Z"),
        tool_use("b2", "2026-11-01T10:00:01Z", "t1", "Bash", {"command": "redis-cli info keyspace"}),
        tool_result("b3", "2026-11-01T10:00:02Z", "t1", LONG_OUTPUT),
        session_record("assistant", "Redis tourne en 7.2.", uuid="b4", ts="2026-11-01T10:00:03Z"),
        session_record("user", "Deuxième sujet : " + LONG_KAFKA, uuid="b5", ts="2026-11-01T10:01:00Z"),
        session_record("assistant", "Kafka a trois partitions.", uuid="b6", ts="2026-11-01T10:01:01Z"),
        session_record("user", "Troisième sujet : le quota postgres", uuid="b7", ts="2026-11-01T10:02:00Z"),
        session_record("assistant", "Le quota est de 10 Go.", uuid="b8", ts="2026-11-01T10:02:01Z"),
    ])


@pytest.fixture
def store(tmp_path: Path):
    idx = build_index(tmp_path, {"projects/-home-u-proj/s1.jsonl": _session()},
                      chunker=ChunkerConfig(size=32, overlap=4))
    s = open_store(idx)
    yield s
    s.close()


def _chunks(store, kind: str) -> list:
    return sorted((h for h in store.iter_chunks() if h.kind == kind), key=lambda h: h.meta["ord"])


def test_the_fixture_cuts_exchanges_and_outputs_into_several_chunks(store) -> None:
    ex = [h for h in _chunks(store, "exchange") if "redis" in h.text]
    assert len(ex) >= 3 and len(_chunks(store, "tool_result")) >= 5


def test_after_an_exchange_is_the_next_turn_not_another_piece_of_it(store) -> None:
    first_piece = next(h for h in _chunks(store, "exchange") if "Premier sujet" in h.text)
    got = context_hits(store, first_piece.id, before=0, after=1)
    assert got is not None and got[0].id == first_piece.id
    nxt = got[1:]
    assert nxt and all(h.kind == "exchange" for h in nxt)
    assert "Deuxième sujet" in nxt[0].text  # the whole next exchange, from its start
    assert all("redis" not in h.text.lower() for h in nxt)


def test_before_a_later_turn_gives_the_whole_previous_exchange(store) -> None:
    last = next(h for h in _chunks(store, "exchange") if "Troisième sujet" in h.text)
    got = context_hits(store, last.id, before=1)
    assert got is not None and got[-1].id == last.id
    prev = got[:-1]
    assert "Deuxième sujet" in prev[0].text and all("kafka" in h.text.lower() for h in prev)


def test_a_tool_output_has_neighbours_and_its_call_first(store) -> None:
    outs = _chunks(store, "tool_result")
    middle = outs[len(outs) // 2]
    got = context_hits(store, middle.id, before=1, after=1)
    assert got is not None
    kinds = [h.kind for h in got]
    assert kinds.count("tool_result") == 1, kinds
    before = got[: kinds.index("tool_result")]
    after = got[kinds.index("tool_result") + 1:]
    assert before and any("[Bash] redis-cli info keyspace" in h.text for h in before)
    assert after and "Deuxième sujet" in after[0].text
    assert tool_call(store, middle) == "[Bash] redis-cli info keyspace"
    assert tool_call(store, _chunks(store, "exchange")[0]) is None


def test_no_context_asked_is_the_hit_alone_and_unknown_ids_are_none(store) -> None:
    h = _chunks(store, "tool_result")[0]
    assert [x.id for x in context_hits(store, h.id) or []] == [h.id]
    assert context_hits(store, 10**9, 1, 1) is None


def test_session_title_is_the_first_prompt_shortened(store) -> None:
    hit = _chunks(store, "tool_result")[-1]
    title = session_title(store, hit)
    assert title is not None and title.startswith("Premier sujet : Le cache redis")
    assert len(title) <= 80 and title.endswith("…")
    hits = _chunks(store, "exchange")
    add_titles(store, hits)
    assert {h.meta["title"] for h in hits} == {title}


def test_documents_have_no_session_title_and_neighbours_are_chunks(tmp_path: Path) -> None:
    text = "\n\n".join(f"Paragraphe {i} : le témoin décrit la voiture grise numéro {i}." for i in range(30))
    idx = build_index(tmp_path, {"pv.txt": text}, chunker=ChunkerConfig(size=32, overlap=4))
    store = open_store(idx)
    docs = _chunks(store, "document")
    mid = docs[len(docs) // 2]
    got = context_hits(store, mid.id, before=2, after=1) or []
    assert [h.id for h in got] == [d.id for d in docs[len(docs) // 2 - 2: len(docs) // 2 + 2]]
    assert session_title(store, mid) is None
    store.close()


def test_titles_skip_markup_and_headings() -> None:
    assert title_of("User: corrige le bug de migration\nmerci") == "corrige le bug de migration"
    summary = "<analysis>\nLet me analyse.\n</analysis>\n<summary>\n1. Primary Request:\n   Fix the flaky test\n"
    assert title_of(summary) == "Fix the flaky test"
    assert title_of("## Plan de migration") == "Plan de migration"


def test_service_hits_and_read_carry_the_title_and_whole_turns(tmp_path: Path) -> None:
    """The shared service (HTTP, MCP, web page): hits are titled; `read` of a tool output has neighbours."""
    from pisteur.serve.service import Service

    idx = build_index(tmp_path, {"projects/-home-u-proj/s1.jsonl": _session()},
                      chunker=ChunkerConfig(size=32, overlap=4))
    svc = Service(idx, cache=False)
    try:
        resp = svc.search("quota postgres", 3, explain=False)
        assert resp.hits and all(h.title and h.title.startswith("Premier sujet") for h in resp.hits)
        out = next(h for h in svc.store().iter_chunks() if h.kind == "tool_result")
        kinds = [p.kind for p in svc.read(out.id, before=1, after=1).passages]
        assert kinds[0] == "exchange" and kinds[-1] == "exchange" and kinds.count("tool_result") == 1
    finally:
        svc.close()
