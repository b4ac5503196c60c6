"""A toy merge problem for tests and benchmarks: a tiny random Llama and LoRA deltas trained for a few steps.

Tests and ``bench/merge_search.py`` import it as ``from evoforge.testing.merge_toy import ...``; a merge job names
its runner ``evoforge.testing.merge_toy:toy_runner``.

Each delta learns one synthetic "skill" (an affine next-token map inside the skill's own range of 12 tokens, so
the skills can be combined); the held-out set mixes the skills in unequal shares plus one skill no delta learned,
and the deltas interfere when summed, so the best merge weights are not obvious. The score is teacher-forced
next-token accuracy on the held-out set (one forward pass, no tokenizer, no generation): cheap and smooth
enough to compare samplers on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.merging.lora import load_delta
from evoforge.testing.tiny_models import save_random_llama

if TYPE_CHECKING:
    from evoforge.merging.job import MergeJob
    from evoforge.merging.trial import TrialRunner

VOCAB = 64
SEQ = 24


@dataclass
class ToyProblem:
    """Paths of the base model and delta adapters, and the held-out batch (input ids)."""

    base: Path
    adapters: dict[str, Path]
    eval_ids: Any


def _skill_batch(skill: int, n: int, seed: int) -> Any:
    """Sequences of one skill: tokens stay in the skill's own range of 12 and follow its own affine map there."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    a, b, lo = (5, 7, 11, 1, 5)[skill % 5], 3 * skill + 1, 12 * skill
    ids = torch.empty(n, SEQ, dtype=torch.long)
    ids[:, 0] = lo + torch.randint(0, 12, (n,), generator=gen)
    for t in range(1, SEQ):
        ids[:, t] = lo + ((ids[:, t - 1] - lo) * a + b) % 12
    return ids


def build_tiny_base(path: Path, seed: int = 0, hidden: int = 64, layers: int = 4) -> Path:
    """Save a random tiny Llama (no tokenizer) to ``path``."""
    return save_random_llama(
        path, seed, hidden, layers, vocab_size=VOCAB, num_key_value_heads=4, max_position_embeddings=64
    )


def train_delta(base: Path, out: Path, skill: int, steps: int = 40, seed: int = 0) -> Path:
    """Train a rank-4 LoRA on one skill for ``steps`` Adam steps and save it to ``out``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed + skill)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "up_proj", "down_proj"]),
    )
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    data = _skill_batch(skill, 32 * steps, seed=seed * 100 + skill)
    model.train()
    for step in range(steps):
        ids = data[step * 32 : (step + 1) * 32]
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(str(out))
    return out


def build_toy_problem(root: Path, n_deltas: int = 4, steps: int = 40, seed: int = 0) -> ToyProblem:
    """Base model, ``n_deltas`` trained adapters (``delta_1``...), and a held-out mix of the skills.

    The held-out set gives skill i a share proportional to i + 1, plus one skill no delta learned.
    """
    import torch

    base = build_tiny_base(root / "base", seed)
    adapters = {f"delta_{i + 1}": train_delta(base, root / f"delta_{i + 1}", i, steps, seed) for i in range(n_deltas)}
    parts = [_skill_batch(i, 8 * (i + 1), seed=10_000 + i) for i in range(n_deltas)]
    parts.append(_skill_batch(n_deltas, 8, seed=10_000 + n_deltas))
    return ToyProblem(base, adapters, torch.cat(parts))


def accuracy_objective(model: Any, eval_ids: Any) -> Callable[[], float]:
    """A function scoring ``model`` in its current state: next-token accuracy on ``eval_ids``."""
    import torch

    def score() -> float:
        with torch.inference_mode():
            logits = model(input_ids=eval_ids).logits[:, :-1]
        return float((logits.argmax(-1) == eval_ids[:, 1:]).float().mean())

    return score


def load_resident(base: Path, adapters: dict[str, Path]) -> Any:
    """The base model with every adapter loaded (a PeftModel in eval mode), as the eval harness holds it."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    items = list(adapters.items())
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), items[0][1], items[0][0])
    for name, path in items[1:]:
        model.load_adapter(path, adapter_name=name)
    return model.eval()


def toy_runner(job: MergeJob) -> TrialRunner:
    """A :class:`TrialRunner` for a toy job (``job.eval_path``: the held-out ids saved with ``torch.save``)."""
    import torch

    paths = job.all_deltas()
    model = load_resident(job.base, paths)
    deltas = [load_delta(p, name=n) for n, p in paths.items()]
    return job.trial_runner(model, deltas, accuracy_objective(model, torch.load(job.eval_path)))


def one_torch_thread() -> Iterator[None]:
    """Fixture body (``pytest.fixture(autouse=True)(one_torch_thread)``): one torch thread for the test, restored
    after; on a shared 2-core machine more threads make these tiny models far slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
