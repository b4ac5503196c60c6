"""``Assistant("org/name")`` and ``evoforge chat --base org/name`` as the data-efficient-training seed's users call
them: a hub id read from the Hugging Face cache (a local stand-in, ``HF_HUB_OFFLINE=1``), an uncached id a clear
error naming it, and a model that ships its own code loaded only with ``trust_remote_code`` (off by default).
Each runs in a subprocess with its own ``HF_HUB_CACHE`` and ``HF_MODULES_CACHE``, so nothing touches the network or
the user's caches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evoforge.testing.tiny_models import build_tiny_lm

REVISION = "0123456789abcdef0123456789abcdef01234567"
CUSTOM_CODE = {
    "configuration_evo.py": "from transformers import LlamaConfig\n\n\nclass EvoConfig(LlamaConfig):\n"
    "    model_type = 'evo-llama'\n",
    "modeling_evo.py": "from transformers import LlamaForCausalLM\n\nfrom .configuration_evo import EvoConfig\n\n\n"
    "class EvoForCausalLM(LlamaForCausalLM):\n    config_class = EvoConfig\n",
}


def cached(hub: Path, repo: str, model: Path) -> None:
    """Put ``model`` in the hub cache ``hub`` as revision ``main`` of ``repo`` (huggingface_hub's layout)."""
    folder = hub / f"models--{repo.replace('/', '--')}"
    shutil.copytree(model, folder / "snapshots" / REVISION)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(REVISION)


def with_custom_code(model: Path) -> Path:
    """``model`` turned into a model whose config and class live in its own Python files (as Baichuan2's do)."""
    for name, code in CUSTOM_CODE.items():
        (model / name).write_text(code)
    config = json.loads((model / "config.json").read_text())
    config |= {"model_type": "evo-llama", "architectures": ["EvoForCausalLM"],
               "auto_map": {"AutoConfig": "configuration_evo.EvoConfig",
                            "AutoModelForCausalLM": "modeling_evo.EvoForCausalLM"}}  # fmt: skip
    (model / "config.json").write_text(json.dumps(config))
    return model


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "COLUMNS": "200",
           "HF_MODULES_CACHE": str(tmp_path / "modules"), "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


@pytest.mark.slow  # ~25 s on the shared 2-core machine: a subprocess loads torch and the model twice
def test_assistant_takes_a_hub_id_and_remote_code_only_when_trusted(tmp_path: Path) -> None:
    cached(tmp_path / "hub", "evo/tiny-custom", with_custom_code(build_tiny_lm(tmp_path / "custom")))
    script = textwrap.dedent("""
        from evoforge.errors import ConfigError
        from evoforge.serve import Assistant

        for name in ("evo/not-cached", "evo/tiny-custom"):
            try:
                Assistant(name, device="cpu")
            except ConfigError as error:
                print("refused:", error)
        custom = Assistant("evo/tiny-custom", device="cpu", max_new_tokens=4, trust_remote_code=True)
        responses, scores = custom.inference([{"messages": [{"role": "user", "content": "Reverse 'abc'."}]}])
        print("trusted:", type(custom.engine.model).__name__, len(responses), scores[0] <= 0)
    """)
    out = run(tmp_path, "-c", script)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "trusted: EvoForCausalLM 1 True" in lines
    refused = [line for line in lines if line.startswith("refused:")]
    assert "model 'evo/not-cached' is no local folder and could not be fetched from the Hugging Face hub" in refused[0]
    assert "ships its own model code" in refused[1] and "--trust-remote-code" in refused[1]


def test_chat_with_an_uncached_hub_id_offline_names_it(tmp_path: Path) -> None:
    out = run(tmp_path, "-m", "evoforge.cli", "chat", "--base", "ChiyuSONG/data-efficient-training-of-LLMs-v1")
    text = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 2 and "model 'ChiyuSONG/data-efficient-training-of-LLMs-v1' is no local folder" in text
    assert "Traceback" not in text
