"""Seed 003's and seed 001's command lines as their READMEs write them: Self-Evolution's underscore flags, its device
flags on this machine, --overwrite of a repeated --identify; Auto Evol-Instruct's --save-path relative to the working
directory and its --evol-llm-config / --optim-llm-config files (the slow runs are in tests/integration)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evoforge.errors import ConfigError
from evoforge.runs import RunDir
from evoforge.self_evolve.devices import device_plan, visible_devices
from evoforge.settings import load_config
from evoforge.settings.role_models import with_role_models
from evoforge.settings.self_evolve import SelfEvolveSettings

EVOFORGE = str(Path(sys.executable).parent / "evoforge")
TOY = [{"instruction": f"fragment {i}: the river Oda is {i} km long."} for i in range(3)]
TOY_EVAL = [{"instruction": "f", "input": "How long is the Oda?", "output": "0 km"}]


def evoforge(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}
    return subprocess.run([EVOFORGE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def seed_003(cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The seed's Getting Started command (paths and model pointed at local stand-ins)."""
    (cwd / "data").mkdir(exist_ok=True)
    (cwd / "data" / "toy_data.json").write_text(json.dumps(TOY), encoding="utf-8")
    (cwd / "data" / "toy_eval_data.json").write_text(json.dumps(TOY_EVAL), encoding="utf-8")
    flags = (
        "--start_id 0 --end_id 3 --source_data_file data/toy_data.json --identify test --model_path tiny-reader "
        "--eval_data data/toy_eval_data.json --eval_to_path eval_result/qas_train --mode hard --train_epoch 1 "
        "--ifd_k 5 --batch_size 5 --worker_number 1 --infer_gpu 1 --cuda_device 0 --use_vllm"
    )
    return evoforge("self-evolve", *flags.split(), *extra, cwd=cwd)


def test_visible_devices_put_the_training_gpu_first_then_fill_the_vllm_group() -> None:
    assert visible_devices(0, 1) == "0"
    assert visible_devices(2, 1) == "2"
    assert visible_devices(2, 2) == "2,0"
    assert visible_devices(0, 4) == "0,1,2,3"
    assert visible_devices(1, 3) == "1,0,2"


def test_device_flags_here_say_what_they_become(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    import torch

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")
    settings = SelfEvolveSettings(use_vllm=True, cuda_device=1, infer_gpu=2)
    overrides, notices = device_plan(settings)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1,0"
    assert "--cuda_device 1: replacing CUDA_VISIBLE_DEVICES=5" in notices
    runs_vllm = torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None
    assert (overrides == ["self_evolve.use_vllm=false"]) is not runs_vllm
    if not runs_vllm:
        assert any(n.startswith("--use_vllm: ") and "with transformers instead" in n for n in notices)
        assert any(n.startswith("--infer_gpu 2: only vLLM generates on several GPUs") for n in notices)
    if not torch.cuda.is_available():
        assert "--cuda_device 1: no CUDA GPU is visible; training on the CPU" in notices
    assert device_plan(SelfEvolveSettings()) == ([], [])


def unloadable_model(folder: Path) -> Path:
    """A model folder the preflight finds (it holds a config.json) that fails to load once the run has started."""
    model = folder / "unloadable-model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}", encoding="utf-8")
    return model


def test_a_repeated_identify_is_refused_naming_overwrite_and_nothing_is_deleted(tmp_path: Path) -> None:
    earlier = seed_003(tmp_path, "--end_id", "1", "--model_path", str(unloadable_model(tmp_path)))
    assert earlier.returncode != 0 and (tmp_path / "runs" / "test" / "manifest.json").is_file()  # the run failed
    kept = tmp_path / "eval_result" / "qas_train" / "test_generations" / "generation_0"
    kept.mkdir(parents=True)
    again = seed_003(tmp_path)
    message = " ".join(again.stderr.split())
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr
    assert "give --overwrite to replace them" in message and str(kept.parent) in message and "runs/test" in message
    assert kept.is_dir() and (tmp_path / "runs" / "test" / "manifest.json").is_file()
    both = seed_003(tmp_path, "--start_id", "1", "--overwrite")
    assert both.returncode == 2 and "give one of them" in both.stderr


def test_overwrite_deletes_the_earlier_run_and_its_predict_files(tmp_path: Path) -> None:
    no_model = ("--end_id", "1", "--model_path", str(unloadable_model(tmp_path)))  # each run fails after its start
    assert seed_003(tmp_path, *no_model).returncode != 0
    marker = tmp_path / "runs" / "test" / "old.txt"
    marker.write_text("earlier run")
    stale = tmp_path / "eval_result" / "qas_train" / "test_generations" / "generation_7"
    stale.mkdir(parents=True)
    replaced = seed_003(tmp_path, *no_model, "--overwrite")
    assert "--overwrite: deleting" in replaced.stderr + replaced.stdout
    assert not marker.exists() and not stale.exists()
    assert json.loads((tmp_path / "runs" / "test" / "manifest.json").read_text())["command"] == "self_evolve"


def test_overwrite_leaves_a_run_of_another_command(tmp_path: Path) -> None:
    other = RunDir.create(load_config(None, [f"run.runs_dir={tmp_path / 'runs'}"]), "evolve", "test")
    refused = seed_003(tmp_path, "--overwrite")
    assert refused.returncode == 2 and "is not a self-evolve run" in refused.stderr
    assert other.manifest_path.is_file()


def test_the_seeds_underscore_flags_reach_the_config(tmp_path: Path) -> None:
    proc = seed_003(tmp_path, "--mode", "sideways")
    assert proc.returncode == 2 and "self_evolve.mode" in proc.stderr and "No such option" not in proc.stderr
    shown = evoforge("self-evolve", "--help", cwd=tmp_path).stdout
    assert "--start-id" in shown and "--cuda-device" in shown and "--start_id" not in shown  # the twins are hidden


def test_an_existing_save_path_in_the_working_directory_is_refused_naming_overwrite(tmp_path: Path) -> None:
    existing = tmp_path / "evolution_result.json"
    existing.write_text("{}")
    proc = evoforge("evolve", "--save-path", "evolution_result.json", "--runs-dir", tmp_path / "runs", cwd=tmp_path)
    message = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and f"{existing} exists; give --overwrite" in message, proc.stderr
    assert existing.read_text() == "{}" and not (tmp_path / "runs").exists()


def test_a_model_entry_file_sets_the_evolver_and_the_seed_pairs_set_the_optimising_roles(tmp_path: Path) -> None:
    entry = tmp_path / "evol.yaml"
    entry.write_text(
        "model: openai/qwen\napi_base: http://127.0.0.1:8000/v1\napi_key_env: QWEN_KEY\ntimeout: 30\n"
        "params: {seed: 1}\ntemperature: 0.2\n"
    )
    pairs = "temperature=0.6 top_p=0.95 max_tokens=4096 timeout=120 max_retries=2"  # the seed's default string
    cfg = with_role_models(load_config(None), {"evol": str(entry), "optim": pairs})
    model = cfg.llm.models["evol_llm_config"]
    assert (model.model, model.api_base, model.api_key_env, model.timeout) == (
        "openai/qwen",
        "http://127.0.0.1:8000/v1",
        "QWEN_KEY",
        30,
    )
    assert model.params == {"seed": 1}
    assert cfg.llm.roles["evolver"].model == "evol_llm_config" and cfg.llm.roles["evolver"].temperature == 0.2
    for role in ("analyzer", "optimizer"):
        settings = cfg.llm.roles[role]
        assert (settings.model, settings.temperature, settings.top_p, settings.max_tokens) == (
            "optim_llm_config",
            0.6,
            0.95,
            4096,
        )
    assert cfg.llm.models["optim_llm_config"].model == "sim/skills" and cfg.llm.num_retries == 2
    assert cfg.llm.roles["validator"].model == "sim"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model: sim/skills\ntimeout: -3\n", r"timeout \(line 2\).*greater than 0"),
        ("model: sim/skills\napi_key: sk-123\n", r"api_key must not be written"),
        ("- model: sim/skills\n", r"expected one llm.models entry"),
        ("api_base: http://x\n", r"model.*Field required"),
        ("model: [unclosed\n", r"is not valid YAML"),
    ],
    ids=["bad-field", "inline-key", "not-a-mapping", "no-model", "not-yaml"],
)
def test_a_bad_model_entry_file_is_named_with_its_field(tmp_path: Path, text: str, expected: str) -> None:
    import re

    path = tmp_path / "optim.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        with_role_models(load_config(None), {"optim": str(path)})
    message = " ".join(str(caught.value).split())
    assert f"--optim-llm-config {path}" in message and re.search(expected, message), message


def test_the_underscore_llm_config_flag_refuses_a_bad_file_before_any_run(tmp_path: Path) -> None:
    path = tmp_path / "evol.yaml"
    path.write_text("model: sim/skills\ntemperature: 5\n")
    proc = evoforge("evolve", "--evol_llm_config", path, "--runs-dir", tmp_path / "runs", cwd=tmp_path)
    message = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and "roles.evolver.temperature" in message and str(path) in message, proc.stderr
    unknown = evoforge("evolve", "--optim-llm-config", "temp=1", "--runs-dir", tmp_path / "runs", cwd=tmp_path)
    assert unknown.returncode == 2 and "'temp=1' is not one of temperature=VALUE" in " ".join(unknown.stderr.split())
    assert not (tmp_path / "runs").exists()
