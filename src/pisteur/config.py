"""Where things live on disk. Everything can be overridden by flags or environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "pisteur"


def default_index_dir() -> Path:
    env = os.environ.get("PISTEUR_INDEX")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP)) / "index"


def cache_dir() -> Path:
    env = os.environ.get("PISTEUR_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(APP))


def default_claude_projects() -> Path:
    env = os.environ.get("CLAUDE_CONFIG_DIR")
    base = Path(env).expanduser() if env else Path.home() / ".claude"
    return base / "projects"
