"""The bench's vector cache: a second pass over the same texts never reaches the model."""

from __future__ import annotations

import numpy as np
from helpers import HashEmbedder

from pisteur.embed.cache import CachedEmbedder
from pisteur.evaluate.qcache import QueryCachedEmbedder


def test_documents_and_queries_come_from_disk_the_second_time(tmp_path):
    inner = HashEmbedder()
    c = CachedEmbedder(inner, tmp_path, queries=True)
    first = c.embed_documents(["un", "deux", "un"])
    q1 = c.embed_queries(["question"])
    assert inner.embedded == 3
    c.close()
    inner2 = HashEmbedder()
    c2 = CachedEmbedder(inner2, tmp_path, queries=True)
    again = c2.embed_documents(["deux", "un", "trois"])
    assert inner2.embedded == 1  # only "trois" is new
    np.testing.assert_allclose(again[:2], first[[1, 0]])
    np.testing.assert_allclose(c2.embed_queries(["question"]), q1)
    assert c2.hits == 2 and c2.misses == 1


def test_query_cache_leaves_documents_to_the_model(tmp_path):
    inner = HashEmbedder()
    q = QueryCachedEmbedder(inner, tmp_path)
    q.embed_documents(["a", "b"])
    q.embed_documents(["a", "b"])
    assert inner.embedded == 4
    v = q.embed_queries(["x"])
    assert QueryCachedEmbedder(HashEmbedder(), tmp_path).embed_queries(["x"]).tolist() == v.tolist()
