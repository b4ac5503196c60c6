"""Preference deltas: TRL ``DPOTrainer`` with a PEFT LoRA config; the reference is the base with adapters off."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evoforge.errors import DataError
from evoforge.training.base import DeltaConfig, DeltaTrainer, assistant, prompt_messages


@dataclass
class DPODeltaConfig(DeltaConfig):
    """DPO delta settings (see :class:`DeltaConfig` for the shared ones).

    Attributes:
        beta: strength of the KL anchor to the reference (higher = stay closer to the base).
    """

    learning_rate: float = 5e-4
    beta: float = 0.1


class DPODelta(DeltaTrainer):
    """One DPO delta on prompt/chosen/rejected pairs (``ref_model=None`` + LoRA: no second model copy)."""

    method = "dpo"

    def __init__(self, config: DPODeltaConfig) -> None:
        super().__init__(config)
        self.config: DPODeltaConfig = config

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

    def make_trainer(self, model: Any, tokenizer: Any, train: Any, evaluation: Any, work_dir: Path) -> Any:
        """A TRL ``DPOTrainer`` with the LoRA config and the sigmoid loss."""
        from trl import DPOConfig, DPOTrainer

        args = DPOConfig(**self.config.trainer_kwargs(work_dir), beta=self.config.beta, loss_type=["sigmoid"])
        return DPOTrainer(
            model=model,
            ref_model=None,
            args=args,
            train_dataset=train,
            eval_dataset=evaluation,
            processing_class=tokenizer,
            peft_config=self.config.lora(),
        )
