"""Every sub-package in the tree is listed in pyproject, so a built wheel ships it; so are the configs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
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


def test_the_wheel_ships_the_configs_and_finds_them_by_name(tmp_path: Path) -> None:
    """Build a wheel from a copy of the tree, then run its ``config show quickstart`` outside any checkout."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "runs", "build", "dist", "*.egg-info"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    built = subprocess.run([*build, str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("evoforge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(name for name in archive.namelist() if name.startswith("evoforge/configs/"))
        archive.extractall(tmp_path / "site")
    assert shipped == [f"evoforge/configs/{path.name}" for path in sorted((ROOT / "configs").glob("*.yaml"))]
    code = (
        "import sys, evoforge; print(evoforge.__file__)\n"
        "from evoforge.cli import main; sys.argv = ['evoforge', 'config', 'show', 'quickstart']; main()"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(tmp_path / "site" / "evoforge"))  # the wheel's files, not the checkout
    assert "model: sim/skills" in out.stdout and "rounds: 4" in out.stdout
