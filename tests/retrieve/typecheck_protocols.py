"""Checked by `make typecheck` (mypy), not run by pytest: both engines, both writers, the vector layers and the
offline reranker satisfy the stage protocols."""
from pisteur.retrieve.rerank.base import Reranker
from pisteur.retrieve.rerank.offline import OfflineReranker
from pisteur.store.base import Store, Writer
from pisteur.store.local import LocalStore, StoreWriter
from pisteur.store.milvus import MilvusStore, MilvusWriter
from pisteur.store.vectors import VectorIndex
from pisteur.store.vectors_flat import FlatVectors
from pisteur.store.vectors_quant import QuantVectors


def _s(a: LocalStore, b: MilvusStore) -> list[Store]:
    return [a, b]

def _w(a: StoreWriter, b: MilvusWriter) -> list[Writer]:
    return [a, b]

def _v(a: FlatVectors, b: QuantVectors) -> list[VectorIndex]:
    return [a, b]

def _r(a: OfflineReranker) -> Reranker:
    return a
