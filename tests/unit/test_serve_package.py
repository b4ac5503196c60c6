"""An airoboros LMoE package folder (``--lmoe``): its experts, and a bad package refused naming the path; the base
model's own name routed like ``auto`` and airoboros' ``expert`` field."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from evoforge.errors import ConfigError, DataError
from evoforge.serve.experts import Expert
from evoforge.serve.lmoe import LMoE, UnknownModel
from evoforge.serve.model_sources import model_name
from evoforge.serve.package import package_experts
from evoforge.serve.routing import Route


def package(root: Path, experts: dict[str, list[str]], routing_name: str = "expert_{}.jsonl") -> Path:
    """A package with a (config-only) adapter per expert and its routing instructions."""
    (root / "routing_data").mkdir(parents=True)
    for name, instructions in experts.items():
        adapter = root / "adapters" / name
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text("{}")
        (root / "routing_data" / routing_name.format(name)).write_text(
            "".join(json.dumps({"instruction": text}) + "\n" for text in instructions)
        )
    return root


def test_experts_of_a_package(tmp_path: Path) -> None:
    root = package(tmp_path / "lmoe", {"code": ["A chat. Write code."], "qa": ["A chat. Who?", "A chat. When?"]})
    (root / "adapters" / "code" / "description.txt").write_text("programming tasks\n")
    (root / "README.md").write_text("not read")
    code, qa = package_experts(root)
    assert (code.name, code.adapter, code.description, code.instructions) == (
        "code", root / "adapters" / "code", "programming tasks", ("A chat. Write code.",))  # fmt: skip
    assert qa.instructions == ("A chat. Who?", "A chat. When?") and "A chat. Who?" in qa.description
    plain = package(tmp_path / "plain", {"code": ["Write code."]}, routing_name="{}.jsonl")
    assert package_experts(plain)[0].instructions == ("Write code.",)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda root: shutil.rmtree(root / "adapters"), "no adapters/ folder at {root}/adapters"),
        (lambda root: (root / "routing_data" / "expert_qa.jsonl").unlink(),
         "expert 'qa' has no routing data ({root}/routing_data/expert_qa.jsonl is missing)"),
        (lambda root: (root / "adapters" / "qa" / "adapter_config.json").unlink(),
         "{root}/adapters/qa is not a PEFT adapter folder"),
        (lambda root: (root / "routing_data" / "expert_poetry.jsonl").write_text('{"instruction": "x"}\n'),
         "routing data without an adapter in {root}/adapters: ['poetry']"),
        (lambda root: (root / "routing_data" / "expert_qa.jsonl").write_text(""),
         "{root}/routing_data/expert_qa.jsonl holds no instruction"),
    ],
)  # fmt: skip
def test_a_bad_package_is_refused_naming_the_path(tmp_path: Path, breakage: object, message: str) -> None:
    root = package(tmp_path / "lmoe", {"code": ["Write code."], "qa": ["Who?"]})
    breakage(root)  # type: ignore[operator]
    with pytest.raises(ConfigError) as error:
        package_experts(root)
    assert message.format(root=root) in str(error.value)


def test_a_routing_line_without_an_instruction_names_its_line(tmp_path: Path) -> None:
    root = package(tmp_path / "lmoe", {"qa": ["Who?"]})
    (root / "routing_data" / "expert_qa.jsonl").write_text('{"instruction": "Who?"}\n{"text": "When?"}\n')
    with pytest.raises(DataError, match=r"expert_qa.jsonl:2: expected a JSON object with an 'instruction'"):
        package_experts(root)


class ToQa:
    """A router that sends everything to ``qa``."""

    async def route(self, texts: Sequence[str]) -> list[Route]:
        return [Route("qa", "embedding")] * len(texts)


def test_the_base_models_name_is_routed_and_the_expert_field_wins(tmp_path: Path) -> None:
    experts = [Expert("code", tmp_path), Expert("qa", tmp_path)]
    lmoe = LMoE(engine=None, experts=experts, router=ToQa(), base_name="llama-2-7b-hf")  # type: ignore[arg-type]
    assert lmoe.models == ["auto", "code", "qa", "base", "llama-2-7b-hf"]

    def expert(model: str, chosen: str | None = None) -> str:
        [route] = asyncio.run(lmoe.route(model, ["Who?"], chosen))
        return route.expert

    assert expert("llama-2-7b-hf") == "qa" and expert("auto") == "qa" and expert("code") == "code"
    assert expert("llama-2-7b-hf", "code") == "code"
    for bad in [("llama-2-7b", None), ("llama-2-7b-hf", "poetry")]:
        with pytest.raises(UnknownModel):
            expert(*bad)
    unrouted = LMoE(engine=None, experts=experts, router=None, base_name="llama-2-7b-hf")  # type: ignore[arg-type]
    assert asyncio.run(unrouted.route("llama-2-7b-hf", ["Who?"]))[0].expert == "llama-2-7b-hf"
    assert unrouted.adapter("llama-2-7b-hf") == "__base__"


def test_the_base_models_name_is_its_folders_or_the_hub_id(tmp_path: Path) -> None:
    (tmp_path / "llama-2-7b-hf").mkdir()
    assert model_name(str(tmp_path / "llama-2-7b-hf") + "/") == "llama-2-7b-hf"
    assert model_name("meta-llama/Llama-2-7b-hf") == "meta-llama/Llama-2-7b-hf"


def test_an_adapter_for_another_base_is_refused_naming_it(tmp_path: Path) -> None:
    from evoforge.serve.engine import LoraEngine
    from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

    other = build_lora_adapter(build_tiny_lm(tmp_path / "small", hidden_size=32), tmp_path / "code", seed=1)
    with pytest.raises(ConfigError, match=f"expert 'code': the adapter {other} does not fit this base model: .*size"):
        LoraEngine(build_tiny_lm(tmp_path / "base"), {"code": other}, device="cpu")


def test_a_router_model_that_cannot_be_loaded_is_a_clear_error(tmp_path: Path) -> None:
    from evoforge.serve.routing import EmbeddingRouter

    missing = str(tmp_path / "gte-small")
    with pytest.raises(ConfigError, match=f"the router's embedding model '{missing}' cannot be loaded"):
        EmbeddingRouter({"qa": ["Who?"]}, model=missing)
