"""LLM gateway through LiteLLM's real code path, with a scripted in-process custom provider (offline)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from scripted_llm import ScriptedLLM, register

from evoforge.errors import BudgetExceeded, ConfigError, LLMError, StructuredOutputError
from evoforge.llm.backend import litellm_module, price_if_unknown
from evoforge.llm.gateway import LLMGateway
from evoforge.llm.structured import SCHEMA_MARKER, schema_request
from evoforge.llm.usage import usage_markdown, usage_table
from evoforge.runs import RunDir
from evoforge.settings import Config, LLMSettings, ModelEntry, RoleSettings

litellm = litellm_module()
USER = [{"role": "user", "content": "Say hi."}]


class Verdict(BaseModel):
    """A small schema for structured-output tests."""

    score: int
    reason: str


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    """A fresh scripted provider registered as 'evotest' for this test only."""
    return register(monkeypatch, ScriptedLLM("evotest"))


def settings(**kw: Any) -> LLMSettings:
    """Settings with an 'evotest' primary and a 'backup' fallback model, no backoff."""
    models = {
        "main": ModelEntry(model="evotest/main", params={"error_rate": 0.0}),
        "backup": ModelEntry(model="evotest/backup"),
    }
    models.update(kw.pop("models", {}))
    roles = kw.pop("roles", {"judge": RoleSettings(model="main", temperature=0.3, max_tokens=64)})
    return LLMSettings(models=models, roles=roles, retry_backoff=0.0, **kw)


def test_complete_passes_role_sampling_params_and_seed(fake: ScriptedLLM) -> None:
    fake.script = ["hello"]
    gw = LLMGateway(settings(cache=False))
    assert asyncio.run(gw.complete("judge", USER, sample=3)) == "hello"
    params = fake.calls[0]["params"]
    assert params["temperature"] == 0.3 and params["max_tokens"] == 64 and params["seed"] == 3
    assert params["error_rate"] == 0.0  # ModelEntry.params pass through
    usage = gw.usage()["roles"]["judge"]
    assert (usage["calls"], usage["tokens_in"], usage["tokens_out"]) == (1, 10, 5)


def test_transient_errors_are_retried_then_succeed(fake: ScriptedLLM) -> None:
    fake.script = ["429", "500", "fine"]
    gw = LLMGateway(settings(cache=False, num_retries=3))
    assert asyncio.run(gw.complete("judge", USER)) == "fine"
    usage = gw.usage()["roles"]["judge"]
    assert (usage["retries"], usage["errors"], usage["calls"], len(fake.calls)) == (2, 2, 1, 3)


def test_timeouts_are_retried(fake: ScriptedLLM) -> None:
    fake.script = ["hang", "in time"]
    gw = LLMGateway(settings(cache=False, models={"main": ModelEntry(model="evotest/main", timeout=0.2)}))
    assert asyncio.run(gw.complete("judge", USER)) == "in time"
    assert gw.usage()["roles"]["judge"]["retries"] == 1


def test_bad_request_fails_fast_naming_role_and_model(fake: ScriptedLLM) -> None:
    fake.script = ["400"]
    gw = LLMGateway(settings(cache=False, num_retries=3))
    with pytest.raises(LLMError, match=r"role 'judge'.*model 'main' \(evotest/main\).*BadRequestError"):
        asyncio.run(gw.complete("judge", USER))
    assert len(fake.calls) == 1 and gw.usage()["roles"]["judge"]["retries"] == 0


def test_fallback_after_primary_retries_are_exhausted(fake: ScriptedLLM) -> None:
    fake.script = ["500", "500", "from backup"]
    roles = {"judge": RoleSettings(model="main", fallbacks=["backup"])}
    gw = LLMGateway(settings(cache=False, num_retries=1, roles=roles))
    assert asyncio.run(gw.complete("judge", USER)) == "from backup"
    assert fake.calls[-1]["params"].get("error_rate") is None  # the backup entry's own params
    usage = gw.usage()["roles"]["judge"]
    assert (usage["fallbacks"], usage["retries"], usage["calls"]) == (1, 1, 1)


def test_structured_fallback_path_and_repair(fake: ScriptedLLM) -> None:
    fake.script = ['{"score": "high"}', '{"score": 7, "reason": "ok"}']
    gw = LLMGateway(settings(cache=False))
    system = [{"role": "system", "content": "You judge."}, *USER]
    verdict = asyncio.run(gw.structured("judge", system, Verdict))
    assert verdict == Verdict(score=7, reason="ok")
    first, repair = fake.calls
    assert first["params"]["response_format"] == {"type": "json_object"}
    assert first["messages"][0]["content"].startswith("You judge.") and SCHEMA_MARKER in first["messages"][0]["content"]
    assert repair["messages"][-2]["content"] == '{"score": "high"}'
    assert "score" in repair["messages"][-1]["content"] and "reason" in repair["messages"][-1]["content"]
    assert gw.usage()["roles"]["judge"]["repairs"] == 1


def test_structured_gives_up_after_one_repair(fake: ScriptedLLM) -> None:
    fake.script = ["not json", "still not json"]
    gw = LLMGateway(settings(cache=False))
    with pytest.raises(StructuredOutputError, match="Verdict"):
        asyncio.run(gw.structured("judge", USER, Verdict))
    assert len(fake.calls) == 2 and gw.usage()["roles"]["judge"]["failures"] == 1


def test_structured_accepts_fenced_json(fake: ScriptedLLM) -> None:
    fake.script = ['```json\n{"score": 3, "reason": "meh"}\n```']
    gw = LLMGateway(settings(cache=False))
    assert asyncio.run(gw.structured("judge", USER, Verdict)).score == 3


def test_native_schema_vs_fallback_selection(fake: ScriptedLLM) -> None:
    def fmt(entry: ModelEntry) -> dict[str, Any]:
        return schema_request(entry, USER, Verdict)[1]

    assert fmt(ModelEntry(model="gpt-4o-mini"))["type"] == "json_schema"
    assert fmt(ModelEntry(model="gpt-4o-mini", json_schema=False)) == {"type": "json_object"}
    for model in ("deepseek/deepseek-chat", "hosted_vllm/qwen", "ollama_chat/llama3", "sim/skills"):
        assert fmt(ModelEntry(model=model)) == {"type": "json_object"}, model
    assert fmt(ModelEntry(model="openai/local", api_base="http://127.0.0.1:1/v1")) == {"type": "json_object"}
    # forced native: the schema travels as response_format and the prompt is untouched
    fake.script = ['{"score": 1, "reason": "r"}']
    gw = LLMGateway(settings(cache=False, models={"main": ModelEntry(model="evotest/main", json_schema=True)}))
    assert asyncio.run(gw.structured("judge", USER, Verdict)).score == 1
    sent = fake.calls[0]
    assert sent["params"]["response_format"]["json_schema"]["name"] == "Verdict" and sent["messages"] == USER


def test_mock_response_through_openai_and_deepseek() -> None:
    roles = {"a": RoleSettings(model="oa"), "d": RoleSettings(model="ds")}
    models = {"oa": ModelEntry(model="gpt-4o-mini"), "ds": ModelEntry(model="deepseek/deepseek-chat")}
    gw = LLMGateway(LLMSettings(models=models, roles=roles, cache=False))
    answer = '{"score": 9, "reason": "good"}'
    assert asyncio.run(gw.structured("a", USER, Verdict, mock_response=answer)).score == 9
    assert asyncio.run(gw.structured("d", USER, Verdict, mock_response=answer)).score == 9
    assert gw.usage()["roles"]["a"]["cost_usd"] > 0  # priced from LiteLLM's local cost map


def test_a_model_the_price_map_lacks_is_priced_at_zero_and_a_known_one_is_left_alone() -> None:
    local = "openai/evoforge-local-model"  # e.g. a vLLM server's model: LiteLLM's lookup would fail on every call
    with pytest.raises(Exception, match="isn't mapped"):
        litellm.get_model_info(local)
    price_if_unknown(local)
    info = litellm.get_model_info(local)
    assert info["input_cost_per_token"] == 0.0 == info["output_cost_per_token"]
    known = dict(litellm.model_cost["gpt-4o-mini"])
    price_if_unknown("gpt-4o-mini")
    assert litellm.model_cost["gpt-4o-mini"] == known
    price_if_unknown("no-provider-model")  # LiteLLM cannot route it: nothing registered, its call fails as before
    assert "no-provider-model" not in litellm.model_cost
    gw = LLMGateway(LLMSettings(models={"m": ModelEntry(model=local)}, roles={"a": RoleSettings(model="m")}))
    assert asyncio.run(gw.complete("a", USER, mock_response="hi")) == "hi"
    assert gw.usage()["roles"]["a"]["cost_usd"] == 0.0


def test_cache_survives_restart_and_keys_on_sample(fake: ScriptedLLM, tmp_path: Path) -> None:
    path = tmp_path / "llm_cache.sqlite"
    fake.script = ["first", "second"]
    with LLMGateway(settings(), cache_path=path) as gw:
        assert asyncio.run(gw.complete("judge", USER)) == "first"
        assert asyncio.run(gw.complete("judge", USER, sample=1)) == "second"
    again = LLMGateway(settings(), cache_path=path)
    assert asyncio.run(again.complete("judge", USER)) == "first"
    assert asyncio.run(again.complete("judge", USER, sample=1)) == "second"
    again.close()
    assert len(fake.calls) == 2
    usage = again.usage()["roles"]["judge"]
    assert (usage["cache_hits"], usage["calls"], usage["cost_usd"]) == (2, 0, 0.0)
    off = LLMGateway(settings(cache=False), cache_path=path)
    asyncio.run(off.complete("judge", USER))
    assert len(fake.calls) == 3


def test_cache_is_safe_under_concurrency(fake: ScriptedLLM, tmp_path: Path) -> None:
    gw = LLMGateway(settings(), cache_path=tmp_path / "c.sqlite")

    async def many() -> list[str]:
        prompts = [[{"role": "user", "content": f"q{i % 10}"}] for i in range(40)]
        first = await asyncio.gather(*(gw.complete("judge", p) for p in prompts))
        second = await asyncio.gather(*(gw.complete("judge", p) for p in prompts))
        return first + second

    assert set(asyncio.run(many())) == {"ok"}
    assert gw.usage()["roles"]["judge"]["cache_hits"] >= 40


def test_identical_concurrent_requests_pay_once(fake: ScriptedLLM, tmp_path: Path) -> None:
    fake.delay = 0.05
    gw = LLMGateway(settings(), cache_path=tmp_path / "c.sqlite")

    async def same() -> list[str]:
        return await asyncio.gather(*(gw.complete("judge", USER) for _ in range(5)))

    assert asyncio.run(same()) == ["ok"] * 5
    assert len(fake.calls) == 1 and gw.usage()["roles"]["judge"]["cache_hits"] == 4


def test_two_gateways_share_one_cache_file_and_it_holds_no_key(
    fake: ScriptedLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-evotest-cache-0123456789abcdef"
    monkeypatch.setenv("EVOTEST_API_KEY", secret)
    models = {"main": ModelEntry(model="evotest/main", api_key_env="EVOTEST_API_KEY")}
    path = tmp_path / "shared" / "responses.sqlite"
    fake.delay = 0.01
    first, second = (LLMGateway(settings(models=models), cache_path=path) for _ in range(2))
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(20)]

    async def both() -> list[str]:  # the two write the file at once, each through its own connection
        return await asyncio.gather(*(gw.complete("judge", p) for p in prompts for gw in (first, second)))

    assert asyncio.run(both()) == ["ok"] * 40
    first.close()
    second.close()
    third = LLMGateway(settings(models=models), cache_path=path)  # e.g. a later run
    assert asyncio.run(third.complete("judge", prompts[7])) == "ok"
    third.close()
    assert third.usage()["total"]["calls"] == 0 and third.usage()["total"]["cache_hits"] == 1
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert b"ok" in stored and secret.encode() not in stored


def test_budget_stops_before_the_next_call(fake: ScriptedLLM) -> None:
    gw = LLMGateway(settings(cache=False, max_tokens_total=20))
    asyncio.run(gw.complete("judge", USER))
    asyncio.run(gw.complete("judge", USER))  # 15 tokens spent < 20: allowed
    with pytest.raises(BudgetExceeded, match="max_tokens_total"):
        asyncio.run(gw.complete("judge", USER))
    assert len(fake.calls) == 2
    priced = {"main": ModelEntry(model="evotest/main", input_cost_per_token=0.001, output_cost_per_token=0.002)}
    gw = LLMGateway(settings(cache=False, max_cost_usd=0.015, models=priced))
    asyncio.run(gw.complete("judge", USER))  # 10 * 0.001 + 5 * 0.002 = 0.02
    assert gw.usage()["total"]["cost_usd"] == pytest.approx(0.02)
    with pytest.raises(BudgetExceeded, match="max_cost_usd"):
        asyncio.run(gw.complete("judge", USER))


def test_concurrency_and_rate_limits_are_respected(fake: ScriptedLLM) -> None:
    async def burst(gw: LLMGateway, n: int) -> None:
        await asyncio.gather(*(gw.complete("judge", [{"role": "user", "content": str(i)}]) for i in range(n)))

    fake.delay = 0.05
    limited = {"main": ModelEntry(model="evotest/main", max_parallel_requests=2)}
    asyncio.run(burst(LLMGateway(settings(cache=False, models=limited)), 8))
    assert fake.max_in_flight == 2 and len(fake.calls) == 8
    fake.calls.clear()
    fake.delay = 0.0
    paced = {"main": ModelEntry(model="evotest/main", rpm=600)}
    asyncio.run(burst(LLMGateway(settings(cache=False, models=paced)), 4))
    starts = sorted(c["t"] for c in fake.calls)
    assert starts[-1] - starts[0] >= 0.25  # starts 60 / 600 = 0.1 s apart (less some scheduling jitter)


def test_key_never_leaks_into_errors_events_or_manifest(
    fake: ScriptedLLM, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-evotest-0123456789abcdef"
    monkeypatch.setenv("EVOTEST_API_KEY", secret)
    fake.script = ["500", f"401:{secret}"]
    config = Config.model_validate({"run": {"runs_dir": str(runs_dir)}})
    run = RunDir.create(config, "test")
    models = {"main": ModelEntry(model="evotest/main", api_key_env="EVOTEST_API_KEY")}
    gw = LLMGateway(settings(models=models), run=run)
    with pytest.raises(LLMError) as error:
        asyncio.run(gw.complete("judge", USER))
    gw.close()
    message = str(error.value)
    assert "AuthenticationError (401)" in message and "judge" in message and secret not in message
    events = (run.path / "events.jsonl").read_text()
    assert "llm_retry" in events and "llm_failure" in events and secret not in events
    manifest = run.manifest()
    assert manifest["llm_usage"]["roles"]["judge"]["failures"] == 1 and secret not in json.dumps(manifest)
    # a resumed run continues the usage (and the budget) from the manifest
    assert LLMGateway(settings(), run=run).usage()["roles"]["judge"]["errors"] == 2


def test_missing_key_and_unknown_role(fake: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVOTEST_MISSING_KEY", raising=False)
    models = {"main": ModelEntry(model="evotest/main", api_key_env="EVOTEST_MISSING_KEY")}
    gw = LLMGateway(settings(cache=False, models=models))
    with pytest.raises(LLMError, match="EVOTEST_MISSING_KEY"):
        asyncio.run(gw.complete("judge", USER))
    with pytest.raises(ConfigError, match="unknown LLM role 'nobody'"):
        asyncio.run(gw.complete("nobody", USER))
    assert fake.calls == []


def test_sim_models_register_the_sim_handler_once(fake: ScriptedLLM) -> None:
    """A ``sim/...`` model is served by the handler the ``evoforge.llm_providers`` entry point returns, registered
    on the first call and reused by later ones (the map keeps one ``sim`` entry, the same object)."""
    gw = LLMGateway(settings(cache=False, models={"main": ModelEntry(model="sim/skills")}))
    first = asyncio.run(gw.complete("judge", USER))
    registered = [item for item in litellm.custom_provider_map if item["provider"] == "sim"]
    second = asyncio.run(gw.complete("judge", USER, sample=1))
    assert first.strip() and second.strip()
    assert [item["provider"] for item in litellm.custom_provider_map] == ["evotest", "sim"]
    (entry,) = registered
    assert [item for item in litellm.custom_provider_map if item["provider"] == "sim"] == [entry]
    assert isinstance(entry["custom_handler"], litellm.CustomLLM)
    assert type(entry["custom_handler"]).__module__.startswith("evoforge.offline.sim")
    assert fake.calls == []


def test_usage_table_renders_roles_and_total(fake: ScriptedLLM) -> None:
    from rich.console import Console

    gw = LLMGateway(settings(cache=False))
    asyncio.run(gw.complete("judge", USER))
    console = Console(record=True, width=120)
    console.print(usage_table(gw.usage()))
    text = console.export_text()
    judge_row = next(line for line in text.splitlines() if "judge" in line)
    assert judge_row.split()[:5] == ["judge", "1", "0", "10", "5"]  # calls, cached, tokens in, tokens out
    assert "total" in text
    markdown = usage_markdown(gw.usage())
    assert "| judge | 1 | 0 | 10 | 5 |" in markdown and "| total | 1 |" in markdown
