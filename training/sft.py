"""Supervised fine-tuning deltas: TRL ``SFTTrainer`` with a PEFT LoRA config, loss on the completions only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from evoforge.training.batches import BatchPlan
from evoforge.training.examples import assistant, prompt_messages
from evoforge.training.trainer import DeltaConfig, DeltaTrainer


@dataclass(kw_only=True)
class SFTDeltaConfig(DeltaConfig):
    """SFT delta settings: the shared ones (:class:`DeltaConfig`), ``learning_rate`` from ``train.learning_rate``
    and ``packing`` from ``train.packing`` (documented on :class:`evoforge.settings.TrainSettings`)."""

    packing: bool
    method_settings: ClassVar[dict[str, str]] = {"learning_rate": "learning_rate", "packing": "packing"}


class SFTDelta(DeltaTrainer[SFTDeltaConfig]):
    """One SFT delta: prompt/completion chat examples, loss on the assistant completion only.

    A preference record trains on its ``chosen`` answer.
    """

    method = "sft"

    def to_example(self, record: dict[str, Any]) -> dict[str, Any]:
        """``{"prompt": [...messages], "completion": [assistant turn]}``."""
        answer: str = record["completion"] if "completion" in record else record["chosen"]
        return {"prompt": prompt_messages(record), "completion": assistant(answer)}

    def sft_args(self, work_dir: Path, plan: BatchPlan, evaluation: Any) -> dict[str, Any]:
        """The ``SFTConfig`` keywords: the shared ones, completion-only loss, packing or length grouping."""
        return {
            **self.config.trainer_kwargs(work_dir, plan),
            "completion_only_loss": True,
            "packing": self.config.packing,
            "eval_packing": False,
            # batches of similar lengths: far less padding when not packing
            "train_sampling_strategy": "random" if self.config.packing else "group_by_length",
        }

    def make_trainer(
        self, model: Any, tokenizer: Any, train: Any, evaluation: Any, work_dir: Path, plan: BatchPlan
    ) -> Any:
        """A TRL ``SFTTrainer`` with the LoRA config and completion-only loss."""
        from trl import SFTConfig, SFTTrainer

        args = SFTConfig(**self.sft_args(work_dir, plan, evaluation))
        return SFTTrainer(args=args, **self.trainer_inputs(model, tokenizer, train, evaluation))
