"""Every command that makes a run refuses broken inputs before it pays or loads: exit 2, every culprit named in one
message, no traceback, no run directory, and no request at the LLM endpoint the config names (a counting server).

A missing extra is missing for real: the command runs on a copy of the environment's site-packages without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROLES = ("evolver", "analyzer", "optimizer", "validator", "generator", "judge")
KEY = "EVOFORGE_PREFLIGHT_TEST_KEY"


class Counter(BaseHTTPRequestHandler):
    """Counts every request (an LLM call would be one) and fails it."""

    requests = 0

    def _count(self) -> None:
        type(self).requests += 1
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = _count

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def endpoint() -> Iterator[str]:
    """An OpenAI-style base URL that counts the requests it gets."""
    Counter.requests = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _config(folder: Path, endpoint: str, **sections: dict[str, object]) -> Path:
    """A config whose every role calls the counting endpoint with a key read from :data:`KEY`."""
    data: dict[str, object] = {
        "run": {"runs_dir": str(folder / "runs")},
        "llm": {
            "models": {"counted": {"model": "openai/skills", "api_base": endpoint, "api_key_env": KEY}},
            "roles": {role: {"model": "counted"} for role in ROLES},
            "cache": False,
            "num_retries": 0,
        },
        **sections,
    }
    path = folder / "config.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _files(folder: Path) -> dict[str, Path]:
    """One broken file of each kind."""
    files = {
        "binary": folder / "binary.jsonl",
        "latin1": folder / "latin1.jsonl",
        "shape": folder / "shape.json",
        "nofield": folder / "nofield.jsonl",
        "folder": folder / "folder.jsonl",
        "missing": folder / "missing.jsonl",
        "empty_model": folder / "empty-model",
    }
    files["binary"].write_bytes(b'{"instruction": "a"}\n\x00\x01\xff binary\n')
    files["latin1"].write_bytes('{"instruction": "caf\xe9", "output": "ok"}\n'.encode("latin-1"))
    files["shape"].write_text("[1, 2]\n", encoding="utf-8")
    files["nofield"].write_text('{"question": "q", "text": "t"}\n', encoding="utf-8")
    files["folder"].mkdir()
    files["empty_model"].mkdir()
    return files


def _evoforge(*args: str, cwd: Path, python: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != KEY} | {"HF_HUB_OFFLINE": "1", "COLUMNS": "250"}
    command = [*(python or [sys.executable, "-m", "evoforge.cli"]), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def _refused(out: subprocess.CompletedProcess[str], folder: Path, problems: int, *culprits: str) -> None:
    """Exit 2, one message of ``problems`` problems naming every culprit, no traceback, nothing written under the
    runs folder."""
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    assert "Traceback" not in text
    assert f"cannot start, {problems} problem{'s' if problems > 1 else ''} (" in text, text
    for culprit in culprits:
        assert culprit in text, (culprit, text)
    assert not (folder / "runs").exists()


def test_run_refuses_every_broken_input_at_once_without_a_call(tmp_path: Path, endpoint: str) -> None:
    files = _files(tmp_path)
    config = _config(
        tmp_path,
        endpoint,
        eval={"test_path": str(files["latin1"])},
        train={"preference_data": str(files["folder"])},
        evolve={"data_path": str(files["nofield"])},
    )
    out = _evoforge("run", str(config), cwd=tmp_path)
    _refused(
        out,
        tmp_path,
        4,
        "evolve.data_path",
        "nofield.jsonl:1",
        "eval.test_path",
        "latin1.jsonl",
        "train.preference_data",
        f"env {KEY}",
    )
    assert Counter.requests == 0


def test_evolve_names_the_data_flag_file_the_key_and_the_embedding_model(tmp_path: Path, endpoint: str) -> None:
    files = _files(tmp_path)
    config = _config(
        tmp_path, endpoint, evolve={"dedup": "embedding"}, instruct={"embedding_model": "thenlper/gte-small"}
    )
    out = _evoforge("evolve", "--config", str(config), "--data", str(files["binary"]), cwd=tmp_path)
    _refused(out, tmp_path, 3, "binary.jsonl", "line 2", f"env {KEY}", "thenlper/gte-small", "HF_HUB_OFFLINE")
    assert Counter.requests == 0


def test_instruct_with_a_binary_topics_file_and_an_uncached_embedding_model_pays_nothing(
    tmp_path: Path, endpoint: str
) -> None:
    """The issue's two instruct bugs: a UnicodeDecodeError traceback, and paid topic calls before an OSError."""
    files = _files(tmp_path)
    config = _config(
        tmp_path,
        endpoint,
        instruct={
            "topics_path": str(files["binary"]),
            "embedding_model": "thenlper/gte-small",
            "instructors": {"general": {"count": 2, "topics_path": str(files["missing"])}},
        },
    )
    out = _evoforge("instruct", "generate-instructions", "--config", str(config), cwd=tmp_path)
    _refused(
        out,
        tmp_path,
        4,
        "instruct.topics_path",
        "binary.jsonl",
        "instruct.instructors.general.topics_path",
        f"env {KEY}",
        "thenlper/gte-small",
    )
    assert "UnicodeDecodeError" not in out.stderr and "OSError" not in out.stderr
    assert Counter.requests == 0


def test_self_evolve_refuses_its_fragments_eval_set_and_model(tmp_path: Path, endpoint: str) -> None:
    files = _files(tmp_path)
    config = _config(tmp_path, endpoint, self_evolve={"generator": "llm"})
    args = ["--source-data-file", str(files["shape"]), "--eval-data", str(files["nofield"])]
    out = _evoforge(
        "self-evolve", "--config", str(config), *args, "--model-path", str(files["empty_model"]), cwd=tmp_path
    )
    _refused(
        out,
        tmp_path,
        4,
        "self_evolve.source_data_file",
        "self_evolve.eval_data",
        "self_evolve.model_path",
        f"env {KEY}",
    )
    assert Counter.requests == 0


def test_train_refuses_its_data_and_its_student(tmp_path: Path, endpoint: str) -> None:
    files = _files(tmp_path)
    config = _config(tmp_path, endpoint)
    out = _evoforge(
        "train",
        "--config",
        str(config),
        "--data",
        str(files["latin1"]),
        "--model",
        str(files["empty_model"]),
        cwd=tmp_path,
    )
    _refused(out, tmp_path, 2, "flag --data", "latin1.jsonl", "config key student.model", "empty-model")


def test_merge_and_eval_refuse_eval_sets_adapters_models_and_the_judges_key(tmp_path: Path, endpoint: str) -> None:
    files = _files(tmp_path)
    config = _config(tmp_path, endpoint, eval={"metric": "judge"})
    merge = _evoforge(
        "merge",
        "--config",
        str(config),
        "--adapter",
        f"code={tmp_path / 'gone'}",
        "--eval",
        str(files["binary"]),
        cwd=tmp_path,
    )
    _refused(merge, tmp_path, 3, "flag --eval", "flag --adapter code", f"env {KEY}")
    evaluate = _evoforge(
        "eval",
        "--config",
        str(config),
        "--model",
        str(files["empty_model"]),
        "--data",
        str(files["nofield"]),
        cwd=tmp_path,
    )
    _refused(evaluate, tmp_path, 3, "flag --model", "flag --data", "nofield.jsonl:1", f"env {KEY}")
    assert Counter.requests == 0


def test_serve_lmoe_refuses_its_base_experts_data_and_token_variable(tmp_path: Path) -> None:
    files = _files(tmp_path)
    out = _evoforge(
        "serve", "lmoe", "--base", str(tmp_path / "nowhere"), "--expert", f"code={tmp_path / 'gone'}",
        "--expert-data", f"code={files['latin1']}", "--router", "none", "--api-key-env", KEY, cwd=tmp_path,
    )  # fmt: skip
    _refused(out, tmp_path, 4, "flag --base", "flag --expert code", "flag --expert-data code", f"env {KEY}")


@pytest.fixture(scope="module")
def without(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A python command line whose site-packages lacks the given top-level names (the rest linked as they are)."""
    site = Path(sysconfig.get_paths()["purelib"])

    def python(*hidden: str) -> list[str]:
        shadow = tmp_path_factory.mktemp("site")
        for entry in site.iterdir():
            if not entry.name.lower().startswith(hidden):
                (shadow / entry.name).symlink_to(entry)
        start = f"import site, sys; site.addsitedir({str(shadow)!r}); from evoforge.cli import main; main()"
        return [sys.executable, "-S", "-c", start]

    yield python


def test_a_missing_extra_is_named_with_the_setting_that_needs_it(
    tmp_path: Path, endpoint: str, without: object
) -> None:
    files = _files(tmp_path)
    config = _config(tmp_path, endpoint, evolve={"dedup": "embedding"})
    python = without("faiss", "gradio")  # type: ignore[operator]
    out = _evoforge("evolve", "--config", str(config), "--data", str(files["nofield"]), cwd=tmp_path, python=python)
    _refused(
        out, tmp_path, 3, "config key evolve.dedup", "module faiss is not installed", f"env {KEY}", "nofield.jsonl:1"
    )
    assert Counter.requests == 0
    chat = _evoforge(
        "chat",
        "--base",
        "tiny",
        "--expert",
        f"code={tmp_path / 'gone'}",
        "--router",
        "none",
        cwd=tmp_path,
        python=python,
    )
    _refused(chat, tmp_path, 2, "command chat", "module gradio is not installed", "flag --expert code")


@pytest.mark.slow  # ~20 s: a real evolve run starting up
def test_the_counting_endpoint_sees_the_calls_of_a_run_whose_inputs_are_sound(tmp_path: Path, endpoint: str) -> None:
    """The control of the tests above: with the key set, the same config's evolve run reaches the endpoint."""
    config = _config(tmp_path, endpoint)
    env = os.environ | {KEY: "not-a-real-key", "HF_HUB_OFFLINE": "1"}
    sizes = ["--train-size", "2", "--dev-size", "2", "--batch-size", "2"]
    command = [sys.executable, "-m", "evoforge.cli", "evolve", "--config", str(config), *sizes]
    out = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 4 and Counter.requests > 0, out.stdout + out.stderr


def test_airoboros_own_config_with_its_default_embedding_model_offline_writes_no_topic(tmp_path: Path) -> None:
    """The issue's case as airoboros' users write it: before, the topic step ran (paid calls) and then an OSError."""
    example = Path(__file__).resolve().parents[1] / "data" / "airoboros-v2.2.2-example.yaml"
    text = example.read_text(encoding="utf-8").replace("\nembedding_model:", "\nembedding_model: thenlper/gte-small #")
    config = tmp_path / "airoboros.yaml"
    config.write_text(text, encoding="utf-8")
    out = _evoforge(
        "instruct", "generate-instructions", "--config-path", str(config), "--runs-dir", "runs", cwd=tmp_path
    )
    _refused(out, tmp_path, 1, "config key instruct.embedding_model", "thenlper/gte-small", "offline default")
    assert not (tmp_path / "topics.txt").exists()


def test_resume_refuses_a_run_whose_key_this_shell_lacks_without_a_call(tmp_path: Path, endpoint: str) -> None:
    """A run started where its key was set and resumed where it is not: exit 2 naming the variable, before the graph
    runs (no request), the run's folder left as it was."""
    from evoforge.runs import RunDir
    from evoforge.settings import load_config

    cfg = load_config(_config(tmp_path, endpoint))
    run = RunDir.create(cfg, "evolve", "waiting")
    before = sorted(p.name for p in run.path.iterdir())
    out = _evoforge("resume", "waiting", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    assert "Traceback" not in text
    assert "evoforge resume (evolve) cannot start, 1 problem" in text and f"env {KEY}" in text
    assert Counter.requests == 0
    assert sorted(p.name for p in run.path.iterdir()) == before
