"""``model: auto`` with the embedding router: skills-world prompts of each category reach that category's expert.

Four experts, one per skills-world category, each indexed on 100 of its seed instructions; the held-out set is
80 oracle tasks of another seed, asked through the official ``openai`` client. The ``Assistant`` is checked on
the same experts (its batch equals one-at-a-time answers, scores are mean log-probabilities, identity file).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from evoforge.offline.world import CATEGORIES, eval_records, seed_records
from evoforge.serve import Assistant
from evoforge.serve.api import create_app
from evoforge.serve.background import BackgroundServer
from evoforge.serve.lmoe import LMoE, RouterSettings, build_lmoe
from evoforge.serve.model_sources import resolve_experts
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[str, str]]:
    root = tmp_path_factory.mktemp("routing")
    base = build_tiny_lm(root / "base")
    adapters, data = {}, {}
    for seed, category in enumerate(CATEGORIES, 1):
        adapters[category] = str(build_lora_adapter(base, root / category, seed=seed))
        data[category] = str(root / f"{category}.jsonl")
        rows = seed_records(100, seed=11, categories=[category])
        Path(data[category]).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return base, adapters, data


@pytest.fixture(scope="module")
def lmoe(setup: tuple[Path, dict[str, str], dict[str, str]]) -> LMoE:
    base, adapters, data = setup
    _, experts = resolve_experts(base=str(base), adapters=adapters, data=data, max_samples=100)
    return build_lmoe(base, experts, router=RouterSettings(k=10), device="cpu")


@pytest.fixture(scope="module")
def client(lmoe: LMoE) -> Iterator[openai.OpenAI]:
    with BackgroundServer(create_app(lmoe)) as server:
        yield openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def test_auto_routes_held_out_prompts_to_their_category_expert(client: openai.OpenAI) -> None:
    held_out = eval_records(80, seed=5)
    hits = 0
    for row in held_out:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": row["prompt"]}], max_tokens=1, temperature=0
        )
        assert raw.parse().model == raw.headers["x-expert"]
        hits += raw.headers["x-expert"] == row["category"]
    accuracy = hits / len(held_out)
    print(f"embedding-router accuracy on {len(held_out)} held-out prompts: {accuracy:.3f}")
    assert accuracy >= 0.9


def test_assistant_batches_like_one_at_a_time(
    setup: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, adapters, _ = setup
    (tmp_path / "model_identity.txt").write_text("You are Evo.\\nAnswer briefly.\nignored line\n")
    monkeypatch.chdir(tmp_path)
    assistant = Assistant(base, adapters={"strings": adapters["strings"]}, device="cpu", max_new_tokens=8)
    assert assistant.lmoe.identity == "You are Evo.\nAnswer briefly."
    contexts = [
        {"messages": [{"role": "user", "content": "Reverse 'abc'."}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                      {"role": "user", "content": "Sort [3, 1, 2]."}]},
        {"messages": [{"role": "user", "content": "Compute 2 + 2."}], "expert": "base"},
    ]  # fmt: skip
    responses, scores = assistant.inference(contexts)
    alone = [assistant.inference([c]) for c in contexts]
    assert responses == [r[0][0] for r in alone]
    assert scores == pytest.approx([s[1][0] for s in alone], abs=1e-4)
    assert all(s <= 0.0 for s in scores) and scores[0] != scores[2]
    plain = Assistant(base, adapters={"strings": adapters["strings"]}, identity_file=None, device="cpu")
    assert plain.lmoe.identity == ""
