"""``evoforge serve lmoe`` and ``evoforge chat``: one set of model options (``ModelSource``), clean errors."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest


def evoforge(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "evoforge.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})


def test_both_commands_take_the_same_model_options() -> None:
    shared = ("--base", "--base-model", "--lmoe", "--expert", "--run", "--round", "--router-k", "--router-model",
              "--agent-router", "--backend", "--vllm-arg", "--threads", "--trust-remote-code", "--identity",
              "--no-identity")  # fmt: skip
    for command, own in ((("serve", "lmoe"), ()), (("chat",), ("--share", "--log-dir"))):
        out = evoforge(*command, "--help")
        assert out.returncode == 0 and all(option in out.stdout for option in shared + own), out.stdout


def test_a_bad_lmoe_package_is_refused_naming_its_path(tmp_path: Path) -> None:
    (tmp_path / "lmoe" / "adapters" / "code").mkdir(parents=True)
    out = evoforge("serve", "lmoe", "--base-model", "tiny", "--lmoe", str(tmp_path / "lmoe"))
    text = " ".join((out.stderr + out.stdout).split())
    assert out.returncode == 2 and f"no routing_data/ folder at {tmp_path / 'lmoe' / 'routing_data'}" in text


def test_a_url_and_a_local_model_at_once_is_refused() -> None:
    out = evoforge("chat", "--url", "http://127.0.0.1:9/v1", "--base", "tiny")
    assert out.returncode == 2 and "give either --url or a local model" in out.stderr + out.stdout


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_serve_lmoe_on_vllm_without_the_extra_says_how_to_install(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")  # a model directory (never loaded: the missing extra stops it first)
    out = evoforge("serve", "lmoe", "--base", str(tmp_path), "--backend", "vllm", "--router", "none")
    assert out.returncode == 2 and "pip install 'evoforge[vllm]'" in " ".join((out.stderr + out.stdout).split())
