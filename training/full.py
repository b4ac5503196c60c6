"""Full fine-tuning (``train.method: full``): every weight of the student trained with TRL's ``SFTTrainer`` and no
PEFT, one model on every chunk's records, as the Data-efficient-training seed's ``run_train.sh`` trains one model on
all the files of its ``--train_dir``.

Chunking still cuts the run's records (``train.chunk_by``; ``evoforge train --train-dir`` chunks by file) and, when
no validation set is given, holds out ``train.eval_fraction`` of each chunk; the model trains on all the chunks at
once, with the loss on every assistant answer of a conversation (one example per answer, after the turns before
it), as run_train.sh's. It is evaluated on the held-out or validation rows and checkpointed after every epoch
(``<run>/checkpoints/checkpoint-<step>``: the model and tokenizer, no optimiser state); the final model, with its
tokenizer and ``training.json``, is a Hugging Face model folder in ``<run>/model``. The learning rate is
``train.full_learning_rate`` (1e-5, run_train.sh's) with its AdamW weight decay 0.1 and beta2 0.95; the schedule
(warm-up, cosine decay), epochs (``train.epochs``; run_train.sh trains 15) and batches are those of the deltas.

A model without a chat template (a base model such as Baichuan2-13B-Base) learns :data:`PLAIN_CHAT_TEMPLATE`
(``user: ...`` / ``assistant: ...`` lines), saved with its tokenizer; a folder that ships its own model code loads
only with ``train.trust_remote_code``.

Memory: the weights are float32 (bf16 autocast on a GPU), so AdamW holds about 16 bytes per parameter plus the
activations: a 7B model needs several GPUs (``accelerate launch`` with an FSDP or DeepSpeed config).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from evoforge.console import info
from evoforge.data.io import read_jsonl
from evoforge.training.batches import BatchPlan
from evoforge.training.deltas import ALL_CHUNK, every_record, read_chunks, train_one
from evoforge.training.examples import PLAIN_CHAT_TEMPLATE, every_answer
from evoforge.training.sft import SFTDelta, SFTDeltaConfig
from evoforge.training.trainer import DeltaResult

if TYPE_CHECKING:
    from evoforge.settings import TrainSettings

MODEL_DIR = "model"
CHECKPOINTS_DIR = "checkpoints"
OPTIMISER = {"weight_decay": 0.1, "adam_beta2": 0.95}  # run_train.sh's AdamW for every weight


@dataclass(kw_only=True)
class FullConfig(SFTDeltaConfig):
    """SFT settings (:class:`SFTDeltaConfig`) with ``learning_rate`` from ``train.full_learning_rate``; the LoRA
    fields are unused."""

    method_settings: ClassVar[dict[str, str]] = SFTDeltaConfig.method_settings | {"learning_rate": "full_learning_rate"}


class FullSFT(SFTDelta):
    """SFT of every weight, a checkpoint and an evaluation per epoch; saves a whole model with its tokenizer."""

    method = "full"
    whole_model = True

    def __init__(self, config: FullConfig, checkpoints: Path) -> None:
        super().__init__(config)
        self.checkpoints = checkpoints

    def workspace(self, output: Path) -> Any:
        """The checkpoints folder, kept."""
        return nullcontext(str(self.checkpoints))

    def sft_args(self, work_dir: Path, plan: BatchPlan, evaluation: Any) -> dict[str, Any]:
        """The SFT keywords, saving (the model only) and evaluating after every epoch."""
        per_epoch = {"save_strategy": "epoch", "save_only_model": True}
        evaluating = {"eval_strategy": "epoch"} if evaluation is not None else {}
        return {**super().sft_args(work_dir, plan, evaluation), **OPTIMISER, **per_epoch, **evaluating}

    def load(self, base: Path, dtype: Any) -> tuple[Any, Any]:
        """The tokenizer and model; a model without a chat template (a base model) learns the plain one."""
        tokenizer, model = super().load(base, dtype)
        tokenizer.chat_template = tokenizer.chat_template or PLAIN_CHAT_TEMPLATE
        return tokenizer, model

    def trainer_inputs(self, model: Any, tokenizer: Any, train: Any, evaluation: Any) -> dict[str, Any]:
        """The trainer's inputs without a PEFT config: every weight trains."""
        return {**super().trainer_inputs(model, tokenizer, train, evaluation), "peft_config": None}


def train_full(student: Path, run_path: Path, settings: TrainSettings, *, seed: int, device: str) -> DeltaResult:
    """Fine-tune every weight of ``student`` on every answer of ``run_path/chunks`` (each record once, a
    conversation's earlier answers too), evaluated on those of ``run_path/eval.jsonl`` after each epoch; the model
    lands in ``run_path/model``, the per-epoch checkpoints in ``run_path/checkpoints``."""
    chunks = read_chunks(run_path / "chunks")
    eval_path = run_path / "eval.jsonl"
    held_out = [r for row in (read_jsonl(eval_path) if eval_path.is_file() else []) for r in every_answer(row)]
    conversations = every_record(chunks)
    records = [r for record in conversations for r in every_answer(record)]
    config = FullConfig.from_settings(settings, seed=seed, device=device)
    info(
        f"full fine-tune of every weight on {len(conversations)} records ({len(records)} answers, {len(chunks)} "
        f"chunks), {config.epochs:g} epochs at learning rate {config.learning_rate:g}, {len(held_out)} evaluation "
        "answers"
    )
    trainer = FullSFT(config, run_path / CHECKPOINTS_DIR)
    return train_one(trainer, student, records, run_path / MODEL_DIR, ALL_CHUNK, held_out)
