"""The run-state database setting and the scale-out extras: clear errors that never show a password."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from evoforge.cli.options import RunOptions
from evoforge.database import database_ref, database_url, safe_url
from evoforge.errors import ConfigError, import_extra
from evoforge.graphs.runtime import run_checkpointer
from evoforge.merging.job import MergeJob
from evoforge.merging.search import STUDY_NAME, study_location
from evoforge.runs import RunDir
from evoforge.settings import Config, LLMSettings, RunSettings, redact

SECRET = "pw-7c1f0e9a4d"


def _unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point $EVOFORGE_STATE_DB at a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("EVOFORGE_STATE_DB", f"postgresql://u:{SECRET}@127.0.0.1:{port}/x")


def test_database_url_is_read_from_the_variable_the_setting_names(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = RunSettings(database_url_env="EVOFORGE_STATE_DB")
    monkeypatch.delenv("EVOFORGE_STATE_DB", raising=False)
    with pytest.raises(ConfigError, match=r"run\.database_url_env names the environment variable EVOFORGE_STATE_DB"):
        database_url(settings)
    monkeypatch.setenv("EVOFORGE_STATE_DB", f"mysql://u:{SECRET}@db/x")
    with pytest.raises(ConfigError, match="must hold a PostgreSQL URL") as error:
        database_url(settings)
    assert SECRET not in str(error.value) and "mysql" in str(error.value)
    url = f"postgresql://u:{SECRET}@db:5432/x"
    monkeypatch.setenv("EVOFORGE_STATE_DB", url)
    assert database_url(settings) == url
    assert database_ref(settings) == "env:EVOFORGE_STATE_DB"  # what a job file may hold
    assert database_url(RunSettings()) is None and database_ref(RunSettings()) is None
    assert safe_url(url) == "postgresql://u:***@db:5432/x"


def test_a_password_in_any_url_of_the_environment_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_STATE", f"postgresql://evoforge:{SECRET}@10.0.0.5/runs")
    assert redact(f"could not reach postgresql://evoforge:{SECRET}@10.0.0.5/runs") == (
        "could not reach postgresql://evoforge:***@10.0.0.5/runs"
    )


def test_a_short_password_in_a_url_is_redacted_there_and_only_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_STATE", "postgresql://evoforge:12@10.0.0.5/runs")
    text = redact('{"t": 1712.5, "url": "postgresql://evoforge:12@10.0.0.5/runs", "other": "sqlite://a:b@c"}')
    assert text == '{"t": 1712.5, "url": "postgresql://evoforge:***@10.0.0.5/runs", "other": "sqlite://a:***@c"}'


def test_a_missing_extra_names_its_install_command() -> None:
    with pytest.raises(ConfigError, match=r"needs the 'ray' extra .*pip install 'evoforge\[ray\]'"):
        import_extra("evoforge_no_such_module", "ray", "train.backend: ray")


def test_merge_studies_live_in_the_database_else_in_the_round(tmp_path: Path) -> None:
    assert study_location("env:DB", tmp_path, 1, "run-1/rounds/2") == ("env:DB", "run-1/rounds/2")
    sqlite, name = study_location(None, tmp_path, 1, "run-1/rounds/2")
    assert sqlite == f"sqlite:///{(tmp_path / 'optuna.db').resolve()}" and name == STUDY_NAME
    assert study_location(None, tmp_path, 3, "x")[0] == str((tmp_path / "optuna.journal").resolve())


def test_a_given_merge_storage_wins_over_the_run_database_and_the_run_directory(tmp_path: Path) -> None:
    given = str(tmp_path / "j.journal")  # merge.storage / --storage
    assert study_location("env:DB", tmp_path, 2, "m-1/merge", storage=given) == (given, STUDY_NAME)
    assert study_location(None, tmp_path, 1, "m-1/merge", storage=given) == (given, STUDY_NAME)
    assert study_location("env:DB", tmp_path, 2, "m-1/merge", storage=None) == ("env:DB", "m-1/merge")


def test_no_run_starts_when_the_run_database_that_would_claim_its_id_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreachable(monkeypatch)
    config = Config.model_validate({"run": {"runs_dir": str(tmp_path), "database_url_env": "EVOFORGE_STATE_DB"}})
    with pytest.raises(ConfigError, match=r"run\.database_url_env: cannot connect to postgresql://u:\*\*\*@") as error:
        RunOptions(run_id="same-id").start(config, "merge")
    assert SECRET not in str(error.value)
    assert list(tmp_path.iterdir()) == []  # the id is claimed before the run directory is made
    assert RunOptions(run_id="same-id").start(Config.model_validate({"run": {"runs_dir": str(tmp_path)}}), "merge")


def test_the_judge_of_a_merge_job_whose_study_is_in_the_run_database_grades_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreachable(monkeypatch)
    job = MergeJob(
        base=tmp_path,
        adapters={},
        eval_path=tmp_path,
        metric="judge",
        llm=LLMSettings(),
        storage="env:EVOFORGE_STATE_DB",
    )
    gateway = job.judge_gateway()  # what every worker process builds: its cache and limits are the database's
    message = [{"role": "user", "content": "Grade this answer."}]
    with pytest.raises(ConfigError, match="cannot connect") as error:
        asyncio.run(gateway.complete("judge", message))
    assert SECRET not in str(error.value)  # (with its study elsewhere, the simulated judge would answer)


def test_an_unreachable_database_is_a_config_error_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreachable(monkeypatch)
    config = Config.model_validate({"run": {"runs_dir": str(tmp_path), "database_url_env": "EVOFORGE_STATE_DB"}})
    run = RunDir.create(config, "evolve", "db")

    async def open_it() -> None:
        async with run_checkpointer(run):
            pass

    with pytest.raises(ConfigError, match=r"run\.database_url_env: cannot connect to postgresql://u:\*\*\*@") as error:
        asyncio.run(open_it())
    assert SECRET not in str(error.value)
    assert SECRET not in (run.path / "config.yaml").read_text()
