from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pisteur.serve.cache import MemoEmbedder, SemanticCache, normalize_query
from pisteur.serve.models import SearchFilters


def test_normalize_query():
    assert normalize_query("Rendez-vous  demain ?") == normalize_query("rendez vous demain")
    assert normalize_query("GAV") != normalize_query("PV")


def test_exact_near_and_key_separation():
    c = SemanticCache(threshold=0.95)
    c.check_generation(1)
    v = np.array([1.0, 0.0, 0.0], np.float32)
    c.put("garde à vue", ("k10",), v, "A")
    assert c.get_exact("Garde à vue !", ("k10",)) == "A"
    assert c.get_exact("garde à vue", ("k5",)) is None  # other options/filters: other entry
    near = c.get_near(np.array([0.99, 0.1, 0.0], np.float32) / np.linalg.norm([0.99, 0.1, 0.0]), ("k10",))
    assert near is not None and near[0] == "A" and near[1] > 0.95
    assert c.get_near(np.array([0.0, 1.0, 0.0], np.float32), ("k10",)) is None
    assert c.get_near(v, ("other",)) is None
    s = c.stats()
    assert (s["hits_exact"], s["hits_near"], s["misses"]) == (1, 1, 2)
    assert s["hit_rate"] == pytest.approx(0.5)


def test_same_terms_lower_cosine_rule():
    from pisteur.serve.cache import term_key

    c = SemanticCache(threshold=0.985, term_threshold=0.95)
    c.check_generation(0)
    a = np.array([1.0, 0.0], np.float32)
    b = np.array([0.96, 0.28], np.float32)  # cosine 0.96: under 0.985, over 0.95
    c.put("messages insultants envers la police", (), a, "A", term_key("messages insultants envers la police"))
    assert term_key("message insultant envers la police") == term_key("messages insultants envers la police")
    assert c.get_near(b, (), term_key("message insultant envers la police")) == ("A", pytest.approx(0.96))
    assert c.get_near(b, (), term_key("message menaçant envers la police")) is None
    assert normalize_query("Où a-t-on corrigé ?") == normalize_query("ou a t on corrige")


def test_generation_change_drops_entries_and_lru_bound():
    c = SemanticCache(max_entries=2)
    c.check_generation(1)
    for i in range(3):
        c.put(f"q{i}", (), None, i)
    assert c.get_exact("q0", ()) is None and c.get_exact("q2", ()) == 2
    c.check_generation(1)
    assert c.get_exact("q2", ()) == 2
    c.check_generation(2)
    assert c.get_exact("q2", ()) is None and c.invalidations == 1


def test_memo_embedder_embeds_once():
    class Counting:
        dims = 3
        calls = 0

        def embed_queries(self, texts):
            Counting.calls += len(texts)
            return np.ones((len(texts), 3), np.float32)

    m = MemoEmbedder(Counting())
    m.embed_query("a")
    m.embed_queries(["a"])
    assert Counting.calls == 1 and m.dims == 3


def test_service_search_read_status(service):
    r = service.search("garde à vue avocat", 3, via="test")
    assert r.hits and r.hits[0].source.endswith("garde-a-vue.md")
    top = r.hits[0]
    assert top.rank == 1 and top.id > 0 and top.snippet
    marked = {top.snippet[s:e].lower() for s, e in top.highlights}
    assert {"garde", "vue", "avocat"} <= marked
    assert not r.cached
    again = service.search("Garde à vue, avocat ?", 3, via="test")
    assert again.cached and [h.id for h in again.hits] == [h.id for h in r.hits]
    # filters are part of the cache key
    f = service.search("garde à vue avocat", 3, SearchFilters(source="migration"), via="test")
    assert not f.cached and all(h.source.endswith("migration.md") for h in f.hits)
    page = service.read(top.id)
    assert page.passages[0].is_hit and "garde à vue" in page.passages[0].text
    st = service.status()
    assert st.ready and st.chunks == 4 and st.sources == 4 and st.cache["hits_exact"] == 1
    text = service.prometheus()
    assert 'pisteur_search_latency_seconds_count{cached="exact",via="test"} 1' in text
    assert "pisteur_index_chunks 4" in text and "pisteur_cache_hit_ratio" in text


def test_read_pagination_and_neighbours(service):
    hit = service.search("pain de campagne levain", 1).hits[0]
    small = service.read(hit.id, page_chars=200)
    assert small.pages >= 2 and small.has_more and small.passages[0].truncated
    full = "".join(p.text for i in range(small.pages) for p in service.read(hit.id, page_chars=200, page=i).passages)
    assert full == service.read(hit.id).passages[0].text
    with pytest.raises(KeyError):
        service.read(hit.id, page=small.pages)
    with pytest.raises(KeyError):
        service.read(10**9)


def test_cache_invalidated_when_index_changes(service, docs_index: Path, tmp_path: Path):
    from pisteur.indexer import index_paths

    q = "perquisition au domicile du suspect"
    before = service.search(q, 5)
    assert not any(h.source.endswith("perquisition.md") for h in before.hits)
    assert service.search(q, 5).cached
    docs = tmp_path / "docs"
    (docs / "perquisition.md").write_text("La perquisition au domicile du suspect a eu lieu à six heures.\n",
                                          encoding="utf-8")
    index_paths(docs_index, [docs], model="test-hash:serve")
    after = service.search(q, 5)
    assert not after.cached and after.generation > before.generation
    assert after.hits[0].source.endswith("perquisition.md")
    assert service.cache.invalidations == 1
    shutil.rmtree(docs)


def test_no_index_is_reported(tmp_path: Path):
    from pisteur.serve.service import NoIndex, Service

    s = Service(tmp_path / "nothing")
    with pytest.raises(NoIndex):
        s.search("x")
    st = s.status()
    assert not st.ready and "no index" in (st.error or "")


@pytest.mark.parametrize("inode_reused", [False, True])
def test_index_rebuilt_under_the_server_is_reopened(service, docs_index: Path, tmp_path: Path, monkeypatch,
                                                    inode_reused: bool):
    from pisteur.indexer import index_paths
    from pisteur.serve import service as svc_mod

    monkeypatch.setattr(svc_mod, "REPLACED_CHECK_S", 0.0)
    if inode_reused:  # the new file got the old one's inode number: the slower checks must catch it
        monkeypatch.setattr(svc_mod.Service, "_file_identity", lambda self: ("same",))
    assert service.search("recette du pain", 3).hits[0].source.endswith("boulangerie.md")
    other = tmp_path / "other"
    other.mkdir()
    (other / "vol.md").write_text("Vol de scooter signalé rue des Lilas, plainte déposée au commissariat.\n",
                                  encoding="utf-8")
    index_paths(docs_index, [other], model="test-hash:serve", rebuild=True)
    r = service.search("recette du pain", 3)
    assert [h.source for h in r.hits] == [str((other / "vol.md").resolve())]
    assert service.status().chunks == 1
