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


def _package_modules() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if path.relative_to(ROOT).parts[0] not in NOT_PACKAGED and not path.relative_to(ROOT).parts[0].startswith(".")
    ]


def test_no_package_module_is_far_over_300_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _package_modules() if (n := len(p.read_text().splitlines())) > 300}
    assert not long, f"split these modules (DESIGN.md: a file per concept, none far over 300 lines): {long}"


def test_every_graph_is_exported_to_studio_from_its_package() -> None:
    import json

    graphs = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
    for name, target in graphs.items():
        assert target == f"./graphs/{name}/graph.py:graph"
        assert (ROOT / "graphs" / name / "state.py").is_file() and (ROOT / "graphs" / name / "nodes.py").is_file()
