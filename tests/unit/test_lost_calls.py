"""Calls lost to transport faults: the simulated LLM's injected faults (``EVOFORGE_SIM_FAULTS``) and the gateway's
``LLMTransportError``, apart from the errors that retrying cannot fix."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evoforge.errors import ConfigError, LLMError, LLMTransportError
from evoforge.evolve.dataset import LOST_IN_A_ROUND
from evoforge.graphs.cycle.report import write_cycle_report
from evoforge.graphs.cycle.state import RoundResult
from evoforge.graphs.runtime import retried_node_error
from evoforge.llm.gateway import LLMGateway
from evoforge.offline.sim.faults import FAULTS_ENV, Faults
from evoforge.settings import LLMSettings, ModelEntry, RoleSettings

QUESTIONS = [f"What is {i} plus 1?" for i in range(24)]


def gateway(retries: int, **entry: object) -> LLMGateway:
    settings = LLMSettings(
        models={"sim": ModelEntry(model="sim/skills", **entry)},  # type: ignore[arg-type]
        roles={"judge": RoleSettings(model="sim")},
        retry_backoff=0.0,
        num_retries=retries,
        cache=False,
    )
    return LLMGateway(settings)


def outcomes(gw: LLMGateway) -> list[str]:
    async def ask() -> list[object]:
        calls = (gw.complete("judge", [{"role": "user", "content": q}]) for q in QUESTIONS)
        return await asyncio.gather(*calls, return_exceptions=True)

    return [type(result).__name__ for result in asyncio.run(ask())]


def test_a_call_lost_to_injected_faults_is_a_transport_error_and_the_draws_follow_the_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(FAULTS_ENV, "0.5:3")
    first = outcomes(gateway(retries=0))
    assert "LLMTransportError" in first and "str" in first
    assert set(first) == {"LLMTransportError", "str"}
    monkeypatch.setenv(FAULTS_ENV, "0.5:4")  # another seed: other draws, and counters start again
    assert outcomes(gateway(retries=0)) != first
    monkeypatch.setenv(FAULTS_ENV, "0.5:3")
    assert outcomes(gateway(retries=0)) == first
    # the same process sending the same requests again draws their next attempts: enough retries answer all
    monkeypatch.setenv(FAULTS_ENV, "0.5:5")
    assert set(outcomes(gateway(retries=12))) == {"str"}


def test_an_error_that_retrying_cannot_fix_is_no_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVOFORGE_TEST_UNSET_KEY", raising=False)
    gw = gateway(retries=2, api_key_env="EVOFORGE_TEST_UNSET_KEY")
    with pytest.raises(LLMError) as caught:
        asyncio.run(gw.complete("judge", [{"role": "user", "content": QUESTIONS[0]}]))
    assert not isinstance(caught.value, LLMTransportError)
    assert not retried_node_error(caught.value)
    assert retried_node_error(LLMTransportError("lost"))


@pytest.mark.parametrize("value", ["fast", "1.5", "0.2:x", "-0.1"])
def test_a_malformed_fault_setting_is_a_config_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=FAULTS_ENV):
        Faults.parse(value)


def test_a_cycle_round_reports_its_rows_lost_to_errors_apart_and_says_resume_does_not_reopen_it(
    tmp_path: Path,
) -> None:
    counts = {"seeds": 8, "answered": 15, "failed": 3, "eliminated": 1, "duplicates": 0, "kept": 11, "lost": 1}
    result: RoundResult = {"round": 1, "rows": {"raw": 0.2, "auto_merge": 0.4}, "dataset_counts": counts}
    report = write_cycle_report(tmp_path, [result], "exact_match").read_text()
    assert (
        "Evolved dataset: seeds 8, answered 15, failed 3, eliminated 1, duplicates 0, kept 11, lost to errors 1."
        in (report)
    )
    assert LOST_IN_A_ROUND in report
    result["dataset_counts"] = {**counts, "lost": 0}
    assert LOST_IN_A_ROUND not in write_cycle_report(tmp_path, [result], "exact_match").read_text()


def test_the_sim_server_answers_injected_faults_with_their_status(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from evoforge.offline.server import create_app

    monkeypatch.setenv(FAULTS_ENV, "0.5:3")
    client = TestClient(create_app())
    body = [{"model": "skills", "messages": [{"role": "user", "content": q}]} for q in QUESTIONS]
    statuses = {client.post("/v1/chat/completions", json=b).status_code for b in body}
    assert statuses - {200} and statuses <= {200, 429, 500, 503}
