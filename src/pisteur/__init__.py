"""pisteur: local-first, French-first semantic search.

Pipeline, one package per stage: ingest -> chunk -> embed -> store -> retrieve -> serve.
"""

import os as _os

# One BLAS thread: a search does small mat-vec products, and OpenBLAS's worker threads contending with the
# embedding engine's threads made a 10k-vector flat search take ~150 ms instead of ~0.5 ms on 2 cores
# (measured, bench/piaf_speed.py). Must be set before numpy loads; an explicit setting wins.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
