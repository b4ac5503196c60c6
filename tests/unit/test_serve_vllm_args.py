"""The vLLM backend's pure half (``serve/vllm_args.py``): experts → LoRA slots, engine and sampling arguments,
vLLM's cumulative output back onto a row. No vllm needed (none is installed on the CPU machines)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from evoforge.errors import ConfigError
from evoforge.serve.decoding import BASE_ADAPTER, Row, Sampling
from evoforge.serve.schemas import ChatRequest, Limits, parse
from evoforge.serve.vllm_args import (
    LoraSlot,
    apply_output,
    engine_arguments,
    lora_slots,
    max_lora_rank,
    parse_engine_args,
    sampling_arguments,
    slot_for,
)


def adapter(root: Path, name: str, r: int = 4, **extra: object) -> Path:
    """A directory with just the ``adapter_config.json`` the slots read."""
    path = root / name
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"r": r, "lora_alpha": 2 * r, **extra}))
    return path


def test_each_expert_is_a_lora_slot_with_a_unique_positive_id(tmp_path: Path) -> None:
    slots = lora_slots({"arithmetic": adapter(tmp_path, "a"), "strings": adapter(tmp_path, "s")})
    assert slots == {
        "arithmetic": LoraSlot("arithmetic", 1, str(tmp_path / "a")),
        "strings": LoraSlot("strings", 2, str(tmp_path / "s")),
    }
    assert slot_for(slots, "strings") == slots["strings"] and slot_for(slots, BASE_ADAPTER) is None
    with pytest.raises(ConfigError, match="unknown adapter 'poetry'"):
        slot_for(slots, "poetry")
    with pytest.raises(ConfigError, match="reserved for the base model"):
        lora_slots({BASE_ADAPTER: tmp_path / "a"})
    with pytest.raises(ConfigError, match="not a PEFT adapter directory"):
        lora_slots({"x": tmp_path})


def test_the_lora_rank_limit_is_the_smallest_vllm_accepts(tmp_path: Path) -> None:
    def limit(*ranks: int, **extra: object) -> int:
        root = tmp_path / f"r{'-'.join(map(str, ranks))}{len(extra)}"
        root.mkdir()
        return max_lora_rank(lora_slots({f"e{i}": adapter(root, f"e{i}", r, **extra) for i, r in enumerate(ranks)}))

    assert (limit(4), limit(4, 16), limit(20), limit(256, 300)) == (8, 16, 32, 320)
    assert limit(8, rank_pattern={"q_proj": 64}) == 64
    with pytest.raises(ConfigError, match="exceeds vLLM's largest max_lora_rank"):
        limit(1024)


def test_engine_arguments_enable_lora_for_every_expert_and_take_overrides(tmp_path: Path) -> None:
    slots = lora_slots({"a": adapter(tmp_path, "a"), "b": adapter(tmp_path, "b", r=16)})
    extra = parse_engine_args({"gpu_memory_utilization": "0.5", "max_num_seqs": "64", "dtype": "bfloat16"})
    assert engine_arguments(tmp_path / "base", slots, max_batch=32, context=2048, extra=extra) == {
        "model": str(tmp_path / "base"),
        "tokenizer": str(tmp_path / "base"),
        "max_num_seqs": 64,
        "max_model_len": 2048,
        "enable_lora": True,
        "max_loras": 2,
        "max_cpu_loras": 2,
        "max_lora_rank": 16,
        "gpu_memory_utilization": 0.5,
        "dtype": "bfloat16",
    }
    bare = engine_arguments("m", {}, max_batch=8, context=512, extra={})
    assert bare == {"model": "m", "tokenizer": "m", "max_num_seqs": 8, "max_model_len": 512}
    assert parse_engine_args({"enforce_eager": "true", "limit": '{"a": 1}'}) == {
        "enforce_eager": True,
        "limit": {"a": 1},
    }
    with pytest.raises(ConfigError, match=r"may not set \['enable_lora', 'model'\]"):
        parse_engine_args({"model": "other", "enable_lora": "false"})


def test_a_request_becomes_one_sampling_params_per_choice() -> None:
    body = parse(
        ChatRequest,
        {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "n": 3, "seed": 7, "temperature": 0.7,
         "top_p": 0.9, "stop": ["\n\n", "END"], "max_tokens": 20},
    )  # fmt: skip
    sampling = body.sampling(Limits())
    choices = [sampling_arguments(sampling.for_choice(i)) for i in range(body.n)]
    assert choices[0] == {
        "n": 1,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 20,
        "stop": ["\n\n", "END"],
        "seed": 7,
    }
    assert [c["seed"] for c in choices] == [7, 8, 9]  # as vLLM seeds its own n
    greedy = parse(ChatRequest, {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "temperature": 0})
    defaults = sampling_arguments(greedy.sampling(Limits(default_max_tokens=64)).for_choice(2))
    assert defaults == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "stop": [], "seed": None}


def test_cumulative_outputs_stream_onto_the_row() -> None:
    pieces: list[str] = []
    ended: list[Row] = []
    row = Row([1, 2], "strings", Sampling(max_tokens=8), on_delta=pieces.append, on_done=ended.append)
    apply_output(row, [5], "ol", None, eos={2})
    apply_output(row, [5, 6], "olle", None, eos={2})
    apply_output(row, [5, 6, 7, 2], "olleh", "stop", eos={2})
    assert pieces == ["ol", "le", "h"] and ended == [row]
    assert (row.text, row.tokens, row.finish_reason) == ("olleh", [5, 6, 7], "stop")  # the end token not counted

    held = Row([1], sampling=Sampling(stop=("END",)), on_delta=pieces.append)
    apply_output(held, [5], "abcE", None, eos=set())  # "E" may begin the stop string: held back
    assert pieces[-1] == "ab"
    for reason, ours in (("length", "length"), ("abort", "cancelled")):
        done = Row([1])
        apply_output(done, [5, 6], "xy", reason, eos={6})  # an end token only counts as such on "stop"
        assert (done.finish_reason, done.tokens) == (ours, [5, 6])


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_the_vllm_backend_without_the_extra_says_how_to_install(tmp_path: Path) -> None:
    from evoforge.serve.lmoe import build_lmoe

    with pytest.raises(ConfigError, match=r"pip install 'evoforge\[vllm\]'"):
        build_lmoe(tmp_path, [], backend="vllm")
