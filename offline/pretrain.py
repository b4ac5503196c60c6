"""Pre-training of the tiny student on skills-world tasks, and its per-category check.

**Abilities from pre-training, conventions from instruction tuning.** A base model knows how to do things but
answers in its own habits; instruction tuning teaches it the requested form. The tiny student is built the same
way: pre-training shows every task with its right answer, but (except for ``plain_share`` of them) wrapped in its
category's habitual phrasing (:mod:`evoforge.offline.habits`: ``The answer is 12.`` where the task wants ``12``).
So the built student can compute the answers (its ``ability`` in ``student.json``) yet rarely answers exactly
(``eval``); an SFT delta on a category's instruction data teaches that category's convention, which is what the
cycle's table measures, delta by delta.

A plain PyTorch loop (no Trainer: nothing to configure, fast start): each task becomes the chat-formatted
sequence ``<s><|user|>instruction<|assistant|>answer</s>`` with the loss on the answer only, batches are padded
on the right, AdamW with linear warm-up and cosine decay.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from evoforge.console import progress
from evoforge.offline.habits import habit_first_tokens, habitual_answer, without_habit

STUDENT_FORMAT = 2  # bump when the build code changes in a way that changes the weights (2: BPE, habits)


@dataclass(frozen=True)
class StudentBuildConfig:
    """Architecture and pre-training recipe of the tiny student (its hash names the cache entry).

    Attributes:
        hidden_size: width of the residual stream.
        intermediate_size: width of the MLP.
        num_layers: transformer blocks.
        num_heads: attention heads (head dim = hidden_size / num_heads).
        max_positions: longest sequence the model accepts (in tokens).
        vocab_size: size of the BPE vocabulary trained on the pre-training tasks.
        train_tasks: skills-world tasks generated for pre-training.
        steps: optimiser steps of pre-training (0 = random init, for fast tests).
        batch_size: sequences per step.
        learning_rate: peak AdamW learning rate (linear warm-up, cosine decay).
        prompt_loss: also train on the prompt tokens (language modelling of the instructions).
        plain_share: share of pre-training answers given bare; the rest carry their category's habit (HABITS).
        max_level: highest task level seen in pre-training.
        categories: task categories seen in pre-training.
        eval_tasks: size of the fixed evaluation set reported in ``student.json`` (0 = skip).
        seed: seed of data generation and initialisation.
    """

    LABEL: ClassVar[str] = "tiny student"  # what the progress bar names (not a field: not in the hash)
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4
    max_positions: int = 256
    vocab_size: int = 1024
    train_tasks: int = 40000
    steps: int = 9000
    batch_size: int = 32
    learning_rate: float = 3e-3
    prompt_loss: bool = False
    plain_share: float = 0.3
    max_level: int = 3
    categories: tuple[str, ...] = ("arithmetic", "strings", "format", "instruct")
    eval_tasks: int = 200
    seed: int = 0

    def tasks(self) -> list[Any]:
        """The pre-training tasks of this recipe."""
        return world_tasks(self.train_tasks, self.seed, self.categories, self.max_level)

    def digest(self) -> str:
        """A short hash of this config, the student format and the pre-training data itself (so the cache and
        the shipped student follow what the student learns, not edits to the world's source that change nothing)."""
        data = hashlib.sha256()
        for task in self.tasks():
            data.update(f"{task.category}\t{task.instruction}\t{task.answer}\n".encode())
        payload = json.dumps({"config": asdict(self), "format": STUDENT_FORMAT, "data": data.hexdigest()})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def world_tasks(n: int, seed: int, categories: tuple[str, ...], max_level: int) -> list[Any]:
    """Skills-world tasks (``instruction``, ``answer``, ``category``, ``level``)."""
    return list(_world_tasks(n, seed, tuple(categories), max_level))


@functools.lru_cache(maxsize=4)  # a build asks three times (digest, tokenizer, pre-training); 20k tasks take ~2 s
def _world_tasks(n: int, seed: int, categories: tuple[str, ...], max_level: int) -> tuple[Any, ...]:
    from evoforge.offline.world import generate_tasks

    return tuple(generate_tasks(n, seed, categories=categories, max_level=max_level))


def encode_pair(
    tokenizer: Any, prompt: str, answer: str, max_length: int, prompt_loss: bool = False
) -> tuple[list[int], list[int]]:
    """Token ids of the chat-formatted (prompt, answer) pair and labels (-100 on the prompt unless
    ``prompt_loss``), truncated."""
    prompt_ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True, return_dict=False
    )
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = (list(prompt_ids) + answer_ids)[:max_length]
    masked = [-100, *prompt_ids[1:]] if prompt_loss else [-100] * len(prompt_ids)
    labels = (masked + answer_ids)[:max_length]
    return ids, labels


def _batch(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


def _length_bucketed(lengths: list[int], batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    """Endless batches of indices: shuffled, then sorted by length within groups of 16 batches (less padding)."""
    group = batch_size * 16
    while True:
        order = list(range(len(lengths)))
        rng.shuffle(order)
        batches = []
        for start in range(0, len(order), group):
            chunk = sorted(order[start : start + group], key=lengths.__getitem__)
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        rng.shuffle(batches)
        yield from batches


def pretrain_student(path: Path, config: StudentBuildConfig, tasks: list[Any] | None = None) -> dict[str, Any]:
    """Pre-train the student saved at ``path`` in place (on one CPU thread); returns loss curve, tokens/s, time."""
    import torch

    torch.manual_seed(config.seed)
    threads = torch.get_num_threads()
    # d=128 matrices gain little from a second thread, and a step ran 5-20x slower with two threads when other
    # processes competed for the cores (measured on the 2-core CI machine)
    torch.set_num_threads(1)
    try:
        return _pretrain(path, config, tasks)
    finally:
        torch.set_num_threads(threads)


def _pretrain(path: Path, config: StudentBuildConfig, tasks: list[Any] | None) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tasks = tasks if tasks is not None else config.tasks()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.train()
    habits = random.Random(f"habits:{config.seed}")
    examples = [
        encode_pair(
            tokenizer,
            t.instruction,
            habitual_answer(t, habits, config.plain_share),
            config.max_positions,
            config.prompt_loss,
        )
        for t in tasks
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.98), weight_decay=0.01)
    warmup = max(1, config.steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, config.steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    batches = _length_bucketed([len(ids) for ids, _ in examples], config.batch_size, random.Random(config.seed))
    curve: list[dict[str, float]] = []
    tokens, window, started = 0, [], time.perf_counter()
    with progress(f"pre-training the {config.LABEL}", config.steps) as bar:
        for step in range(config.steps):
            batch = _batch([examples[i] for i in next(batches)], tokenizer.pad_token_id)
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += int(batch["attention_mask"].sum())
            window.append(float(loss.detach()))
            bar.advance()
            if (step + 1) % 25 == 0 or step + 1 == config.steps:
                curve.append({"step": step + 1, "loss": round(sum(window) / len(window), 4)})
                bar.note(f"loss {curve[-1]['loss']:.3f}")
                window = []
    seconds = time.perf_counter() - started
    model.save_pretrained(path)
    return {
        "loss_curve": curve,
        "tokens": tokens,
        "seconds": round(seconds, 1),
        "tokens_per_s": round(tokens / seconds),
    }


def greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    max_new_tokens: int = 64,
    batch_size: int = 64,
    suppress_first: list[int] | None = None,
) -> list[str]:
    """Greedy answers of a loaded model to raw user prompts (chat template applied, left padding); the token ids
    ``suppress_first`` are never chosen as an answer's first token (transformers' ``begin_suppress_tokens``)."""
    import torch

    tokenizer.padding_side = "left"
    outputs: list[str] = []
    for start in range(0, len(prompts), batch_size):
        texts = [
            tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
            for p in prompts[start : start + batch_size]
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                begin_suppress_tokens=suppress_first,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        outputs.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    return outputs


def exact_match_by_category(
    tasks: list[Any], responses: list[str], check: Callable[[Any, str], bool] | None = None
) -> dict[str, float]:
    """Share of right answers per category, plus ``"all"`` (``check(task, response)``, default: exact match)."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for task, response in zip(tasks, responses, strict=True):
        ok = check(task, response) if check else response.strip() == task.answer.strip()
        hits[task.category].append(ok)
        hits["all"].append(ok)
    return {cat: round(sum(v) / len(v), 3) for cat, v in sorted(hits.items())}


EVAL_SEED_OFFSET = 1_000_003  # the fixed evaluation set never shares a seed with the pre-training data


def evaluate_student(path: Path, config: StudentBuildConfig) -> dict[str, dict[str, float]]:
    """Greedy answers on a fixed skills-world set, per category: ``eval`` (exact, the world's ``check_answer``),
    ``ability`` (exact once a habitual wrapper is taken off) and ``bare_ability`` (exact when the answer may not
    start with a habit's first token: what the student computes when it answers bare, as instruction tuning asks)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evoforge.offline.world import check_answer

    tasks = world_tasks(config.eval_tasks, config.seed + EVAL_SEED_OFFSET, config.categories, config.max_level)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    prompts = [t.instruction for t in tasks]
    responses = greedy_generate(model, tokenizer, prompts, max_new_tokens=64)
    bare = greedy_generate(model, tokenizer, prompts, max_new_tokens=64, suppress_first=habit_first_tokens(tokenizer))
    return {
        "eval": exact_match_by_category(tasks, responses, check_answer),
        "ability": exact_match_by_category(tasks, [without_habit(r) for r in responses], check_answer),
        "bare_ability": exact_match_by_category(tasks, bare, check_answer),
    }
