"""The index manifest: what produced the vectors, so that nothing incompatible is ever mixed in.

``manifest.json`` is written atomically. Changing the model, its dims/prefixes or the chunker on an existing
index is refused (the caller prints what changed and suggests ``--rebuild``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2  # 2: chunks carry a content hash and a dense state (store/migrate.py)
MIGRATABLE = (1,)  # older versions this pisteur upgrades in place
MANIFEST = "manifest.json"
# Keys whose change makes stored vectors or chunks incompatible.
IDENTITY_KEYS = ("model.spec", "model.dims", "model.query_prefix", "model.document_prefix",
                 "model.instruction", "chunker", "vectors.index", "vectors.precision", "engine")


class ManifestMismatch(RuntimeError):
    def __init__(self, changes: list[tuple[str, Any, Any]]) -> None:
        self.changes = changes
        lines = [f"  {k}: index has {old!r}, asked for {new!r}" for k, old, new in changes]
        super().__init__(
            "this index was built with different settings:\n" + "\n".join(lines)
            + "\nRe-run with --rebuild to re-index everything with the new settings "
            "(or use another --index directory)."
        )


def _get(d: dict[str, Any], dotted: str) -> Any:
    cur: Any = d
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def diff(existing: dict[str, Any], wanted: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    out = []
    for key in IDENTITY_KEYS:
        old, new = _get(existing, key), _get(wanted, key)
        if new is not None and old != new:
            out.append((key, old, new))
    return out


def read(index_dir: Path, any_version: bool = False) -> dict[str, Any] | None:
    p = Path(index_dir) / MANIFEST
    if not p.exists():
        return None
    data = json.loads(p.read_text(encoding="utf-8"))
    version = data.get("schema_version")
    if version != SCHEMA_VERSION and not (version in MIGRATABLE and any_version):
        raise RuntimeError(
            f"index {index_dir} has schema version {data.get('schema_version')}, this pisteur reads "
            f"{SCHEMA_VERSION}: re-index with --rebuild"
        )
    return data


def write(index_dir: Path, data: dict[str, Any]) -> None:
    data = {**data, "schema_version": SCHEMA_VERSION, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    data.setdefault("created", data["updated"])
    p = Path(index_dir) / MANIFEST
    tmp = p.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)
