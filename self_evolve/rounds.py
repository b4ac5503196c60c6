"""The steps of a Self-Evolution round after its Q&A are written: IFD with the base model, replay chosen from the
history by IFD, closed-book training that continues the previous round's adapter, closed-book evaluation.

A run keeps each round in ``rounds/<i>/`` of its directory: ``qa.jsonl`` (the round's Q&A with their IFD and
round), ``train.jsonl`` (what it trained on: the fresh Q&A and the replayed ones), ``adapter/`` (a PEFT adapter
of the base model with its ``training.json``). Everything a later round needs is read from there, so a round can
be re-run after a crash and a run continued from any round whose predecessor is complete.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.console import progress
from evoforge.data.io import read_jsonl
from evoforge.errors import RunDirError
from evoforge.evals.ifd import score_records, select
from evoforge.self_evolve.predictions import write_generation
from evoforge.training.deltas import train_one
from evoforge.training.sft import SFTDelta, SFTDeltaConfig
from evoforge.training.student import use_threads
from evoforge.training.trainer import TRAINING_FILE, DeltaResult

if TYPE_CHECKING:
    from evoforge.settings import Config

QA_FILE = "qa.jsonl"
TRAIN_FILE = "train.jsonl"
ADAPTER = "adapter"


def round_dir(run: Path, i: int) -> Path:
    """The folder of round ``i`` in the run directory ``run``."""
    return run / "rounds" / str(i)


def previous_adapter(run: Path, i: int) -> Path | None:
    """The adapter round ``i`` starts from (round ``i - 1``'s; None for round 0).

    Raises:
        RunDirError: round ``i - 1`` has no trained adapter (a run continued from a round it never reached).
    """
    if i == 0:
        return None
    path = round_dir(run, i - 1) / ADAPTER
    if not (path / TRAINING_FILE).is_file():
        raise RunDirError(
            f"round {i} continues round {i - 1}'s adapter, but {path} holds none; continue the run from the first "
            "round it has not finished (--start-id)"
        )
    return path


def history(run: Path, before: int) -> list[dict[str, Any]]:
    """Every Q&A of rounds ``0 .. before - 1`` that the run holds, with its ``ifd`` and ``round``."""
    records: list[dict[str, Any]] = []
    for i in range(before):
        path = round_dir(run, i) / QA_FILE
        if path.is_file():
            records += read_jsonl(path)
    return records


def replayed(config: Config, run: Path, i: int) -> list[dict[str, Any]]:
    """The earlier Q&A replayed in round ``i``: ``ifd_k`` of the history ranked by IFD, by ``mode``."""
    settings = config.self_evolve
    earlier = history(run, i)
    if not earlier or (settings.ifd_k == 0 and settings.mode != "all"):
        return []
    seed = config.run.seed * 1_000 + i
    k = max(1, settings.ifd_k)
    return select(earlier, settings.mode, k=k, drop_above_one=settings.drop_above_one, seed=seed)


def score_ifd(config: Config, base: Path, records: list[dict[str, Any]]) -> list[float | None]:
    """Self-Evolution's IFD of each Q&A: the base model, the question alone, ``self_evolve.ifd_max_length`` tokens."""
    from evoforge.training.student import load_student

    use_threads(config.student)
    model, tokenizer = load_student(base, device=config.student.device)
    tokenizer.padding_side = "right"
    with progress("IFD of the round's Q&A", 2 * len(records)) as bar:
        scores = score_records(
            model,
            tokenizer,
            records,
            "self_evolution",
            config.self_evolve.ifd_max_length,
            config.eval.ifd_batch_size,
            bar,
            config.eval.ifd_max_tokens,
        )
    return [s.ifd for s in scores]


def closed_book(record: dict[str, Any]) -> dict[str, Any]:
    """A Q&A as a closed-book training example: the question alone → the answer."""
    return {"prompt": str(record["input"]), "completion": str(record["output"])}


def train_round(config: Config, base: Path, run: Path, i: int, records: list[dict[str, Any]]) -> DeltaResult:
    """Train round ``i``'s adapter on ``records`` (closed book), continuing round ``i - 1``'s (reused when its
    inputs, the adapter it continues included, are unchanged)."""
    use_threads(config.student)
    settings = config.train.model_copy(update={"epochs": config.self_evolve.train_epoch})
    trainer = SFTDelta(SFTDeltaConfig.from_settings(settings, seed=config.run.seed + i, device=config.student.device))
    examples = [closed_book(r) for r in records]
    out = round_dir(run, i) / ADAPTER
    return train_one(trainer, base, examples, out, f"round-{i}", init_adapter=previous_adapter(run, i))


def make_generator(config: Config, base: Path, adapter: Path | None) -> Any:
    """The generation backend of the self_evolve section (transformers, or vLLM with ``use_vllm`` on ``infer_gpu``
    GPUs, its tensor parallel size) on ``base`` with one adapter (weight 1) or none; its batches are
    ``eval.batch_size`` prompts and ``eval.max_batch_tokens`` padded tokens at most (``self_evolve.batch_size`` is the
    size of a writer call's chunk, not of a batch)."""
    use_threads(config.student)
    adapters = {"round": adapter} if adapter is not None else None
    max_new, rows = config.self_evolve.max_new_tokens, config.eval.batch_size
    if config.self_evolve.use_vllm:
        from evoforge.evals.vllm_backend import VLLMGenerator

        return VLLMGenerator(
            base, adapters, batch_size=rows, max_new_tokens=max_new, tensor_parallel_size=config.self_evolve.infer_gpu
        )
    from evoforge.evals.batched_generation import Generator

    return Generator(base, adapters, config.student.device, rows, max_new, config.eval.max_batch_tokens)


def evaluate_round(
    config: Config, base: Path, adapter: Path, items: list[dict[str, Any]], folder: Path
) -> dict[str, float]:
    """Closed-book greedy answers of base + ``adapter`` to the eval questions, written as LLaMA-Factory's
    predict files in ``folder``; returns ``predict_results``."""
    generator = make_generator(config, base, adapter)
    started = time.perf_counter()
    with progress("closed-book evaluation", len(items)) as bar:
        predictions = generator.generate([str(item["input"]) for item in items], bar)
    return write_generation(folder, items, predictions, time.perf_counter() - started)


def generations_dir(config: Config, run: Path) -> Path:
    """Where the run's generations are evaluated: ``<eval_to_path>/<run id>_generations`` (the seed's layout)."""
    root = Path(config.self_evolve.eval_to_path).expanduser() if config.self_evolve.eval_to_path else run / "eval"
    if not root.is_absolute():
        root = run / root
    return root / f"{run.name}_generations"


def check_history(run: Path, start: int) -> None:
    """Refuse to continue from round ``start`` when an earlier round's Q&A are missing (replay would skip them)."""
    missing = [i for i in range(start) if not (round_dir(run, i) / QA_FILE).is_file()]
    if missing:
        raise RunDirError(f"cannot continue from round {start}: rounds {missing} of {run} hold no Q&A ({QA_FILE})")
