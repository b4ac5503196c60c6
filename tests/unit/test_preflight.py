"""The preflight through its public functions: each broken input of each kind, for each command family, is one
problem naming its culprit; several are reported together; nothing is read twice or loaded."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from evoforge.errors import ConfigError
from evoforge.preflight import PreflightError, Problem, collect, ensure, flag_inputs
from evoforge.settings import Config, load_config

Breaker = Callable[[Path], Path]


def _missing(folder: Path) -> Path:
    return folder / "missing.jsonl"


def _directory(folder: Path) -> Path:
    path = folder / "folder.jsonl"
    path.mkdir()
    return path


def _binary(folder: Path) -> Path:
    path = folder / "binary.jsonl"
    path.write_bytes(b'{"instruction": "a"}\n\x00\x01\x02\xff\xfe binary\n')
    return path


def _latin1(folder: Path) -> Path:
    path = folder / "latin1.jsonl"
    path.write_bytes('{"instruction": "caf\xe9", "output": "r\xe9sum\xe9"}\n'.encode("latin-1"))
    return path


def _wrong_shape(folder: Path) -> Path:
    path = folder / "shape.json"
    path.write_text("[1, 2, 3]\n", encoding="utf-8")
    return path


def _missing_field(folder: Path) -> Path:
    path = folder / "nofield.jsonl"
    path.write_text(json.dumps({"question": "what?", "text": "x"}) + "\n", encoding="utf-8")
    return path


BROKEN: dict[str, Breaker] = {
    "missing": _missing,
    "directory": _directory,
    "binary": _binary,
    "latin1": _latin1,
    "wrong shape": _wrong_shape,
    "missing field": _missing_field,
}
EVIDENCE = {  # what each kind's message says (one of), besides the file's name
    "missing": ("not found", "no such file"),
    "directory": ("folder", "no such file", "directory"),
    "binary": ("binary",),
    "latin1": ("not utf-8",),
    "wrong shape": ("",),
    "missing field": ("",),
}
# (command, config key or flag, kinds that apply: a missing field is no error where the field is optional)
FILES = [
    ("run", "evolve.data_path", list(BROKEN)),
    ("evolve", "evolve.data_path", list(BROKEN)),
    ("run", "eval.test_path", list(BROKEN)),
    ("run", "train.preference_data", list(BROKEN)),
    ("instruct", "instruct.instructors.general.topics_path", ["missing", "directory", "binary", "latin1"]),
    ("self-evolve", "self_evolve.source_data_file", list(BROKEN)),
    ("self-evolve", "self_evolve.eval_data", list(BROKEN)),
    ("train", "--data", ["missing", "binary", "latin1", "wrong shape", "missing field"]),
    ("merge", "--eval", list(BROKEN)),
    ("eval", "--data", list(BROKEN)),
    ("serve", "--expert-data code", list(BROKEN)),
    ("chat", "--expert-data code", list(BROKEN)),
]
CASES = [(command, key, kind) for command, key, kinds in FILES for kind in kinds]


def _config(*overrides: str) -> Config:
    return load_config(None, ["instruct.instructors={general: {count: 2}}", *overrides])


@pytest.mark.parametrize(("command", "key", "kind"), CASES, ids=[f"{c}-{k}-{b}" for c, k, b in CASES])
def test_each_broken_data_file_is_one_problem_naming_its_key_and_file(
    tmp_path: Path, command: str, key: str, kind: str
) -> None:
    path = BROKEN[kind](tmp_path)
    if key.startswith("--"):
        cfg, inputs, where = _config(), {key: str(path)}, f"flag {key}"
    else:
        cfg, inputs, where = _config(f"{key}={path}"), {}, f"config key {key}"
    problems = collect(cfg, command, inputs)
    assert [p.where for p in problems] == [where], problems
    assert path.name in problems[0].what
    assert any(evidence in problems[0].what.lower() for evidence in EVIDENCE[kind]), problems[0].what


def test_a_missing_field_names_the_line_and_the_field(tmp_path: Path) -> None:
    path = _missing_field(tmp_path)
    (problem,) = collect(_config(f"evolve.data_path={path}"), "evolve")
    assert f"{path}:1" in problem.what and "'instruction'" in problem.what


def test_every_problem_is_reported_together_and_ensure_raises_one_exit_2_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFLIGHT_TEST_KEY", raising=False)
    cfg = _config(
        f"evolve.data_path={_latin1(tmp_path)}",
        f"eval.test_path={_missing(tmp_path)}",
        f"train.preference_data={_binary(tmp_path)}",
        "llm.models.paid={model: openai/gpt-4o, api_key_env: PREFLIGHT_TEST_KEY}",
        "llm.roles.evolver.model=paid",
        "student.model=" + str(tmp_path),
    )
    with pytest.raises(PreflightError) as raised:
        ensure(cfg, "run")
    where = [p.where for p in raised.value.problems]
    assert where == [
        "config key evolve.data_path",
        "config key eval.test_path",
        "config key train.preference_data",
        "env PREFLIGHT_TEST_KEY",
        "config key student.model",
    ]
    assert isinstance(raised.value, ConfigError) and raised.value.exit_code == 2
    assert str(raised.value).startswith("evoforge run cannot start, 5 problems")


def test_a_key_variable_is_checked_for_the_roles_the_command_uses_and_its_value_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = _config(
        "llm.models.paid={model: openai/gpt-4o, api_key_env: PREFLIGHT_TEST_KEY}", "llm.roles.judge.model=paid"
    )
    monkeypatch.setenv("PREFLIGHT_TEST_KEY", "  ")
    assert collect(cfg, "evolve") == []  # the judge plays no part in evolve unless eval.metric is judge
    judged = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"metric": "judge"})})
    (problem,) = collect(judged, "evolve")
    assert problem.where == "env PREFLIGHT_TEST_KEY" and "llm.models.paid" in problem.what
    monkeypatch.setenv("PREFLIGHT_TEST_KEY", "sk-secret-value")
    assert collect(judged, "evolve") == []


def test_the_run_state_database_needs_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFLIGHT_DB_URL", raising=False)
    problems = collect(_config("run.database_url_env=PREFLIGHT_DB_URL"), "evolve")
    assert [p.where for p in problems] == ["env PREFLIGHT_DB_URL"]


def test_a_hub_model_offline_and_not_cached_is_named_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    cfg = _config("instruct.dedup=embedding", "instruct.embedding_model=thenlper/gte-small")
    (problem,) = collect(cfg, "instruct")
    assert problem.where == "config key instruct.embedding_model"
    assert "thenlper/gte-small" in problem.what and "HF_HUB_OFFLINE" in problem.what
    assert "local folder" in problem.what and "offline default" in problem.what
    assert (
        collect(cfg.model_copy(update={"instruct": cfg.instruct.model_copy(update={"dedup": "minhash"})}), "instruct")
        == []
    )


def test_a_model_folder_must_hold_its_config(tmp_path: Path) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    assert [
        p.where for p in collect(_config(f"student.model={empty}"), "train", {"--data": _wrong_shape(tmp_path)})
    ] == [
        "flag --data",
        "config key student.model",
    ]
    (empty / "config.json").write_text("{}", encoding="utf-8")
    assert collect(_config(f"student.model={empty}"), "run") == []
    problems = collect(_config(), "serve", {"--base": str(tmp_path / "nowhere"), "--router": "none"})
    assert [p.where for p in problems] == ["flag --base"]


def test_adapters_and_experts_name_folders(tmp_path: Path) -> None:
    not_a_folder = _wrong_shape(tmp_path)
    inputs = flag_inputs("--adapter", [f"code={tmp_path / 'gone'}", str(not_a_folder)])
    assert list(inputs) == ["--adapter code", "--adapter shape.json"]
    problems = collect(_config(), "eval", {"--model": "tiny", "--data": str(_missing_field(tmp_path)), **inputs})
    assert [p.where for p in problems] == ["flag --data", "flag --adapter code", "flag --adapter shape.json"]


def test_a_topics_file_the_run_will_write_is_not_a_problem_but_a_binary_one_is(tmp_path: Path) -> None:
    assert collect(_config(f"instruct.topics_path={tmp_path / 'new.txt'}"), "instruct") == []
    (problem,) = collect(_config(f"instruct.topics_path={_binary(tmp_path)}"), "instruct")
    assert problem == Problem("config key instruct.topics_path", problem.what) and "line 2" in problem.what


def test_too_little_disk_space_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from evoforge.preflight import disk

    cfg = _config(f"run.runs_dir={tmp_path / 'runs' / 'deeper'}")
    assert collect(cfg, "run") == []
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10, 10, 1 << 20))  # type: ignore[attr-defined]
    (problem,) = collect(cfg, "run")
    assert problem.where == "config key run.runs_dir" and "1 MiB free" in problem.what
    assert not (tmp_path / "runs").exists()


def test_the_key_litellm_reads_for_an_entry_that_names_none_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (problem,) = collect(_config("llm.models.paid={model: gpt-4o}", "llm.roles.evolver.model=paid"), "evolve")
    assert problem.where == "env OPENAI_API_KEY" and "llm.models.paid" in problem.what
    own = _config("llm.models.own={model: openai/x, api_base: 'http://127.0.0.1:9/v1'}", "llm.roles.evolver.model=own")
    assert collect(own, "evolve") == []  # an endpoint of the user's own needs no provider key


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_eval_backend_vllm_needs_the_extra_only_where_evoforge_eval_reads_it() -> None:
    """vllm-local.yaml sets eval.backend: vllm for `evoforge eval`; a cycle or a merge on the same file generates
    with one resident HF model, so it must not be refused for a missing vllm."""
    cfg = _config("eval.backend=vllm")
    assert not [p for p in collect(cfg, "run") if "vllm" in p.what]
    assert not [p for p in collect(cfg, "merge") if "vllm" in p.what]
    (problem,) = [p for p in collect(cfg, "eval", {"--model": "tiny"}) if "vllm" in p.what]
    assert problem.where == "config key eval.backend"
