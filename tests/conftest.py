"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATASETS = SHARED / "datasets"


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """An empty runs root for one test."""
    path = tmp_path / "runs"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def llm_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh shared LLM response cache per test, never the user's (subprocesses inherit the variable)."""
    path = tmp_path_factory.mktemp("llm-cache")
    monkeypatch.setenv("EVOFORGE_LLM_CACHE_DIR", str(path))
    return path
