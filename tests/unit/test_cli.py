"""The evoforge command: help, version, config show, runs, configs by file or shipped name, clean errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from evoforge.runs import RunDir
from evoforge.settings import load_config

ROOT = Path(__file__).resolve().parents[2]


def evoforge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evoforge.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_help_and_version() -> None:
    out = evoforge("--help")
    assert out.returncode == 0
    assert "config" in out.stdout and "runs" in out.stdout
    version = evoforge("--version")
    assert version.returncode == 0 and version.stdout.startswith("evoforge ")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys; sys.argv=['evoforge','--help']\n"
        "from evoforge import cli\n"
        "try:\n    cli.app()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch','litellm','trl','transformers','langgraph','optuna') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_config_show_quickstart() -> None:
    out = evoforge("config", "show", str(ROOT / "configs" / "quickstart.yaml"), "--set", "evolve.loop=2")
    assert out.returncode == 0, out.stderr
    assert "loop: 2" in out.stdout and "rounds: 4" in out.stdout


def test_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("merge:\n  trials: -3\n")
    out = evoforge("config", "show", str(bad))
    assert out.returncode == 2
    assert "merge.trials" in out.stderr and "line 2" in out.stderr and str(bad) in out.stderr
    assert "Traceback" not in out.stderr


def test_runs_list_and_show(runs_dir: Path) -> None:
    cfg = load_config(None, [f"run.runs_dir={runs_dir}"])
    RunDir.create(cfg, "evolve", "listed-run")
    listing = evoforge("runs", "list", "--runs-dir", str(runs_dir))
    assert listing.returncode == 0 and "listed-run" in listing.stderr + listing.stdout
    shown = evoforge("runs", "show", "listed-run", "--runs-dir", str(runs_dir))
    assert shown.returncode == 0 and "manifest.json" in shown.stdout
    missing = evoforge("runs", "show", "nope", "--runs-dir", str(runs_dir))
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr


def test_shipped_configs_by_name_from_any_directory(tmp_path: Path) -> None:
    by_name = evoforge("config", "show", "deepseek", cwd=tmp_path)
    assert by_name.returncode == 0, by_name.stderr
    assert "model: deepseek/deepseek-chat" in by_name.stdout and "data_path: tatsu-lab/alpaca" in by_name.stdout
    by_option = evoforge("config", "show", "--config", "deepseek", cwd=tmp_path)
    assert by_option.returncode == 0 and by_option.stdout == by_name.stdout
    twice = evoforge("config", "show", "deepseek", "--config", "openai", cwd=tmp_path)
    assert twice.returncode == 2 and "given twice" in twice.stderr


def test_run_takes_config_as_option_or_argument_and_defaults_to_the_shipped_quickstart(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cycle:\n  rounds: 0\n")
    for args in (("--config", str(bad)), (str(bad),)):  # fails validating: the file was read, nothing ran
        out = evoforge("run", *args, cwd=tmp_path)
        assert out.returncode == 2 and str(bad) in out.stderr and "cycle.rounds (line 2)" in out.stderr, out.stderr
    default = evoforge("run", "--set", "cycle.rounds=0", cwd=tmp_path)
    assert default.returncode == 2 and str(ROOT / "configs" / "quickstart.yaml") in default.stderr, default.stderr
    missing = evoforge("run", "--config", "nope", cwd=tmp_path)
    assert (
        missing.returncode == 2 and "config file not found: nope" in missing.stderr and "quickstart" in missing.stderr
    )
    twice = evoforge("run", str(bad), "--config", "quickstart", cwd=tmp_path)
    assert twice.returncode == 2 and "given twice" in twice.stderr
    assert not (tmp_path / "runs").exists()
