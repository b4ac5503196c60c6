"""Every sub-package in the tree is listed in pyproject, so a built wheel ships it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_PACKAGED = {"tests", "bench", "configs", "examples", "docs", "runs", "build", "dist"}


def test_all_subpackages_are_declared() -> None:
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"evoforge"}
    for init in ROOT.rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if not rel.parts or rel.parts[0] in NOT_PACKAGED or rel.parts[0].startswith("."):
            continue
        found.add(".".join(("evoforge", *rel.parts)))
    assert found == declared
