"""Fixtures of the ingest tests: the sample generator (samples/make_samples.py) and a copy helper."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from ingest_paths import SAMPLES  # noqa: E402


@pytest.fixture(scope="session")
def make_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def copy_to(tmp_path: Path):
    """copy_to(src, relative destination) -> the copied path under tmp_path."""

    def _copy(src: Path, rel: str) -> Path:
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return dst

    return _copy
