"""The resident trial path: adapter scales and in-place ΔW merges agree, and the base is restored exactly."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from evoforge.errors import ConfigError, DataError
from evoforge.merging.lora import load_delta, load_full_delta, load_lora_delta
from evoforge.merging.methods import METHODS
from evoforge.merging.saving import save_cat_adapter, save_full_model
from evoforge.merging.trial import DeltaMixer, MergeSpec, ScaleMixer
from evoforge.testing.merge_toy import build_tiny_base, load_resident, one_torch_thread, train_delta

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("toy")
    base = build_tiny_base(root / "base", layers=2)
    adapters = {f"d{i}": train_delta(base, root / f"d{i}", skill=i, steps=3) for i in range(3)}
    return base, adapters


IDS = torch.arange(40).reshape(2, 20) % 64


def _logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=IDS).logits


def test_scale_mix_equals_dense_linear_merge_per_layer_group(toy: tuple[Path, dict[str, Path]]) -> None:
    from transformers import AutoModelForCausalLM

    base, adapters = toy
    spec = MergeSpec({"d0": [0.8, -0.3], "d1": [0.2, 1.1], "d2": [0.0, 0.5]})
    scaled = load_resident(base, adapters)
    mixer = ScaleMixer(scaled, list(adapters), groups=2)
    plain = AutoModelForCausalLM.from_pretrained(base).eval()
    dense = DeltaMixer(plain, [load_lora_delta(p, n) for n, p in adapters.items()], groups=2)
    before = _logits(scaled)
    with mixer.trial(spec), dense.trial(spec):
        torch.testing.assert_close(_logits(scaled), _logits(plain), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(_logits(plain), before, atol=1e-3)
    torch.testing.assert_close(_logits(scaled), before, atol=0, rtol=0)


def test_scale_mix_matches_peft_cat_merge(toy: tuple[Path, dict[str, Path]]) -> None:
    base, adapters = toy
    weights = {"d0": 0.7, "d1": -0.4, "d2": 1.2}
    model = load_resident(base, adapters)
    model.add_weighted_adapter(list(weights), list(weights.values()), "cat", combination_type="cat")
    model.set_adapter("cat")
    expected = _logits(model)
    model.delete_adapter("cat")
    with ScaleMixer(model, list(adapters)).trial(MergeSpec({k: [v] for k, v in weights.items()})):
        torch.testing.assert_close(_logits(model), expected, atol=1e-5, rtol=1e-5)


def test_delta_mixer_restores_the_base_exactly_after_100_trials(toy: tuple[Path, dict[str, Path]]) -> None:
    base, adapters = toy
    model = load_resident(base, adapters)  # LoRA layers present, as in the harness
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    mixer = DeltaMixer(model, [load_lora_delta(p, n) for n, p in adapters.items()], groups=2, seed=3)
    rng = random.Random(0)
    for _ in range(100):
        method = rng.choice(sorted(METHODS))
        params = {"density": rng.uniform(0.2, 1.0)} if method != "linear" else {}
        spec = MergeSpec({n: [rng.uniform(-1.5, 1.5) for _ in range(2)] for n in adapters}, method, params)
        with mixer.trial(spec):
            assert mixer.max_abs_diff() > 0
    assert mixer.max_abs_diff() == 0.0
    state = model.state_dict()
    assert max(float((state[k] - v).abs().max()) for k, v in snapshot.items()) == 0.0


def test_dare_merge_is_deterministic_for_a_seed(toy: tuple[Path, dict[str, Path]]) -> None:
    from transformers import AutoModelForCausalLM

    base, adapters = toy
    deltas = [load_lora_delta(p, n) for n, p in adapters.items()]
    spec = MergeSpec({"d0": [1.0], "d1": [0.5]}, "dare_ties", {"density": 0.4})
    one = DeltaMixer(AutoModelForCausalLM.from_pretrained(base), deltas, seed=7).merged_delta(spec)
    two = DeltaMixer(AutoModelForCausalLM.from_pretrained(base), deltas, seed=7).merged_delta(spec)
    three = DeltaMixer(AutoModelForCausalLM.from_pretrained(base), deltas, seed=8).merged_delta(spec)
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert any(not torch.equal(one[k], three[k]) for k in one)


def test_full_checkpoint_delta_reproduces_the_fine_tuned_model(
    toy: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    base, adapters = toy
    tuned = load_resident(base, {"d1": adapters["d1"]}).merge_and_unload()
    tuned.save_pretrained(tmp_path / "full")
    plain = AutoModelForCausalLM.from_pretrained(base).eval()
    delta = load_delta(tmp_path / "full", base_state=plain.state_dict(), name="full")
    assert delta.kind == "full" and delta.params
    mixer = DeltaMixer(plain, [delta])
    with mixer.trial(MergeSpec({"full": [1.0]})):
        torch.testing.assert_close(_logits(plain), _logits(tuned), atol=1e-5, rtol=1e-5)
    state = plain.state_dict()
    state.pop("model.norm.weight")
    with pytest.raises(DataError, match="not in the base"):
        load_full_delta(tmp_path / "full", state)


def test_saved_cat_adapter_reproduces_the_scale_mix(toy: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base, adapters = toy
    spec = MergeSpec({"d0": [0.9, -0.2], "d1": [0.0, 0.6], "d2": [0.3, 0.3]})
    model = load_resident(base, adapters)
    with ScaleMixer(model, list(adapters), groups=2).trial(spec):
        expected = _logits(model)
    deltas = [load_lora_delta(p, n) for n, p in adapters.items()]
    out = save_cat_adapter(deltas, spec, tmp_path / "merged", groups=2)
    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), out).eval()
    torch.testing.assert_close(_logits(merged), expected, atol=1e-5, rtol=1e-5)
    full = save_full_model(base, deltas, spec, tmp_path / "full", groups=2)
    torch.testing.assert_close(_logits(AutoModelForCausalLM.from_pretrained(full)), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ConfigError, match="full model"):
        save_cat_adapter(deltas, MergeSpec(spec.weights, "ties", {"density": 0.5}), tmp_path / "x", groups=2)


def test_auto_path_keeps_a_trial_within_the_base_plus_one_copy(
    toy: tuple[Path, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from evoforge.merging.trial import TrialRunner

    base, adapters = toy
    model = load_resident(base, adapters)
    deltas = [load_lora_delta(p, n) for n, p in adapters.items()]
    runner = TrialRunner(model, deltas, lambda: 0.0)
    weights = sum(4 * t.numel() for t in model.parameters())
    held = runner.dense_bytes() + runner.touched_bytes()
    assert 0 < runner.touched_bytes() < held
    # a toy's stacks are far under the floor: the fast dense path
    assert runner.linear_path == "delta" and held < TrialRunner.DENSE_FLOOR
    # without the floor, three deltas' stacks plus the saved copy exceed the toy's own weights: adapter scales
    monkeypatch.setattr(TrialRunner, "DENSE_FLOOR", 0)
    assert held > weights and TrialRunner(model, deltas, lambda: 0.0).linear_path == "scales"
