"""Supervised fine-tuning deltas: TRL ``SFTTrainer`` with a PEFT LoRA config, loss on the completions only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evoforge.training.base import DeltaConfig, DeltaTrainer, assistant, prompt_messages


@dataclass
class SFTDeltaConfig(DeltaConfig):
    """SFT delta settings (see :class:`DeltaConfig` for the shared ones).

    Attributes:
        packing: pack several examples into each ``max_length`` row (best-fit decreasing, padding-free). Pays
            off on a GPU with FlashAttention; on CPU the block-diagonal mask of a packed row makes it slower
            (see ``bench/train_throughput.py``). Without packing, batches are grouped by length.
    """

    packing: bool = False


class SFTDelta(DeltaTrainer):
    """One SFT delta: prompt/completion chat examples, loss on the assistant completion only.

    A preference record trains on its ``chosen`` answer.
    """

    method = "sft"

    def __init__(self, config: SFTDeltaConfig) -> None:
        super().__init__(config)
        self.config: SFTDeltaConfig = config

    def to_example(self, record: dict[str, Any]) -> dict[str, Any]:
        """``{"prompt": [...messages], "completion": [assistant turn]}``."""
        return {
            "prompt": prompt_messages(record),
            "completion": assistant(record.get("completion", record.get("chosen"))),
        }

    def make_trainer(self, model: Any, tokenizer: Any, train: Any, evaluation: Any, work_dir: Path) -> Any:
        """A TRL ``SFTTrainer`` with the LoRA config and completion-only loss."""
        from trl import SFTConfig, SFTTrainer

        args = SFTConfig(
            **self.config.trainer_kwargs(work_dir),
            completion_only_loss=True,
            packing=self.config.packing,
            eval_packing=False,
            # batches of similar lengths: far less padding when not packing
            train_sampling_strategy="random" if self.config.packing else "group_by_length",
        )
        return SFTTrainer(
            model=model,
            args=args,
            train_dataset=train,
            eval_dataset=evaluation,
            processing_class=tokenizer,
            peft_config=self.config.lora(),
        )
