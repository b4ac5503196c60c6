"""Preference deltas: TRL ``DPOTrainer`` with a PEFT LoRA config; the reference is the base with adapters off."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from evoforge.errors import DataError
from evoforge.training.batches import BatchPlan
from evoforge.training.examples import assistant, prompt_messages
from evoforge.training.trainer import DeltaConfig, DeltaTrainer


@dataclass(kw_only=True)
class DPODeltaConfig(DeltaConfig):
    """DPO delta settings: the shared ones (:class:`DeltaConfig`), ``learning_rate`` from
    ``train.dpo_learning_rate`` and ``beta`` from ``train.dpo_beta`` (documented on
    :class:`evoforge.settings.TrainSettings`)."""

    beta: float
    method_settings: ClassVar[dict[str, str]] = {"learning_rate": "dpo_learning_rate", "beta": "dpo_beta"}


class DPODelta(DeltaTrainer[DPODeltaConfig]):
    """One DPO delta on prompt/chosen/rejected pairs (``ref_model=None`` + LoRA: no second model copy)."""

    method = "dpo"
    sequences_per_record = 2

    def to_example(self, record: dict[str, Any]) -> dict[str, Any]:
        """``{"prompt": [...messages], "chosen": [assistant], "rejected": [assistant]}``."""
        if "chosen" not in record or "rejected" not in record:
            raise DataError(
                f"DPO needs prompt/chosen/rejected pairs; a record has only {', '.join(sorted(record))} "
                "(train this chunk with sft, or method auto)"
            )
        return {
            "prompt": prompt_messages(record),
            "chosen": assistant(record["chosen"]),
            "rejected": assistant(record["rejected"]),
        }

    def make_trainer(
        self, model: Any, tokenizer: Any, train: Any, evaluation: Any, work_dir: Path, plan: BatchPlan
    ) -> Any:
        """A TRL ``DPOTrainer`` with the LoRA config and the sigmoid loss."""
        from trl import DPOConfig, DPOTrainer

        args = DPOConfig(**self.config.trainer_kwargs(work_dir, plan), beta=self.config.beta, loss_type=["sigmoid"])
        return DPOTrainer(ref_model=None, args=args, **self.trainer_inputs(model, tokenizer, train, evaluation))
