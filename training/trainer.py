"""What the SFT and DPO delta trainers share: the LoRA/optimiser config, device handling, the training loop, and
writing the adapter with its ``training.json``. Records become examples in :mod:`evoforge.training.examples`;
token accounting and the progress bar are :mod:`evoforge.training.progress`.

A delta is a standard PEFT adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``), loadable
with ``PeftModel.from_pretrained`` and by ``vllm serve --lora-modules``. Beside the weights, ``training.json``
records the config, loss curve, tokens/s, padding share, wall time, and the hash of the inputs (data + config +
base); a delta whose inputs hash is unchanged is not retrained.

On CPU training runs in float32 without gradient checkpointing; on a GPU in bf16 (a whole model: float32 weights,
bf16 autocast) with gradient checkpointing (several GPUs: ``accelerate launch -m evoforge.cli train ...``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from evoforge.errors import ConfigError, DataError
from evoforge.runs import atomic_write_json
from evoforge.training.batches import BatchPlan, plan_batches, token_budget
from evoforge.training.examples import fit_lengths, prompt_length
from evoforge.training.progress import TokenCounter, epoch_evals, eval_metrics, progress_callback

if TYPE_CHECKING:
    from evoforge.settings import TrainSettings

TRAINING_FILE = "training.json"


@dataclass(kw_only=True)
class DeltaConfig:
    """LoRA and optimisation settings shared by every delta trainer; build one with :meth:`from_settings`.

    The hyper-parameters have no defaults here: each comes from a ``train`` setting, documented with its default
    once, on :class:`evoforge.settings.TrainSettings`. ``lora_r``, ``lora_alpha``, ``lora_dropout``,
    ``target_modules``, ``epochs``, ``batch_size``, ``gradient_accumulation_steps``, ``max_length``,
    ``max_batch_tokens`` and ``trust_remote_code`` are the settings of the same name;
    ``learning_rate`` and the method's own fields come from the settings its subclass names in
    :attr:`method_settings` (``SFTDeltaConfig``, ``DPODeltaConfig``). The run fields:

    Attributes:
        seed: seed of LoRA initialisation and data order (``run.seed``).
        device: ``auto`` (GPU when visible), ``cpu`` or ``cuda`` (``student.device``).
    """

    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: list[str] | str
    epochs: float
    learning_rate: float
    batch_size: int
    gradient_accumulation_steps: int
    max_length: int
    max_batch_tokens: int | None
    trust_remote_code: bool
    seed: int
    device: str
    #: the method's fields and the ``train`` setting each comes from (field → setting), declared by a subclass
    method_settings: ClassVar[dict[str, str]] = {}

    @classmethod
    def from_settings(cls, settings: TrainSettings, *, seed: int, device: str) -> Self:
        """This method's delta config from the ``train`` section and the run's seed and device."""
        return cls(**cls.settings_fields(settings), seed=seed, device=device)

    @classmethod
    def settings_fields(cls, settings: TrainSettings) -> dict[str, Any]:
        """The fields taken from the ``train`` section: the shared ones and the method's (:attr:`method_settings`)."""
        names = (
            "lora_r",
            "lora_alpha",
            "lora_dropout",
            "target_modules",
            "epochs",
            "batch_size",
            "gradient_accumulation_steps",
            "max_length",
            "max_batch_tokens",
            "trust_remote_code",
        )
        shared = {name: getattr(settings, name) for name in names}
        return shared | {name: getattr(settings, setting) for name, setting in cls.method_settings.items()}

    def lora(self) -> Any:
        """The PEFT ``LoraConfig`` of this delta."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=self.target_modules,
            task_type="CAUSAL_LM",
        )

    def trainer_kwargs(self, work_dir: Path, plan: BatchPlan) -> dict[str, Any]:
        """Keyword arguments common to ``SFTConfig`` and ``DPOConfig``; ``plan`` cuts a step into micro-batches."""
        from evoforge.training.student import pick_device

        cpu = pick_device(self.device) == "cpu"
        return {
            "output_dir": str(work_dir),
            "num_train_epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "per_device_train_batch_size": plan.rows,
            "per_device_eval_batch_size": plan.rows,
            "gradient_accumulation_steps": plan.accumulation,
            "lr_scheduler_type": "cosine",
            "warmup_steps": 0.1,
            "max_length": self.max_length,
            "logging_steps": 1,
            "save_strategy": "no",
            "report_to": "none",
            "disable_tqdm": True,
            "seed": self.seed,
            "data_seed": self.seed,
            "use_cpu": cpu,
            "bf16": not cpu,
            "activation_checkpointing": not cpu,
            "dataloader_num_workers": 0,
        }


@dataclass
class DeltaResult:
    """One trained (or reused) delta."""

    name: str
    adapter_path: Path
    method: str
    chunk: str
    metrics: dict[str, Any] = field(default_factory=dict)
    reused: bool = False


def trained_chunk(adapter: Path) -> str | None:
    """The chunk a delta trained on, as its ``training.json`` names it (None for a delta evoforge did not train)."""
    meta = adapter / TRAINING_FILE
    chunk = json.loads(meta.read_text(encoding="utf-8")).get("chunk") if meta.is_file() else None
    return str(chunk) if chunk else None


def write_training_json(output: Path, payload: dict[str, Any]) -> None:
    """Write ``training.json`` beside the adapter."""
    atomic_write_json(output / TRAINING_FILE, payload)


ConfigT = TypeVar("ConfigT", bound=DeltaConfig)


class DeltaTrainer(Generic[ConfigT]):
    """Trains one LoRA delta on a chunk; subclasses say how records become a TRL dataset and trainer, and which
    config (``ConfigT``) they take."""

    method = "delta"
    sequences_per_record = 1  # rows a record adds to a forward pass (DPO: chosen and rejected)
    whole_model = False  # trains every weight: float32 master weights, the tokenizer saved beside the model

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    def to_example(self, record: dict[str, Any]) -> dict[str, Any]:
        """A normalised record as a conversational TRL example."""
        raise NotImplementedError

    def make_trainer(
        self, model: Any, tokenizer: Any, train: Any, evaluation: Any, work_dir: Path, plan: BatchPlan
    ) -> Any:
        """The TRL trainer for this method, its batches cut by ``plan``."""
        raise NotImplementedError

    def trainer_inputs(self, model: Any, tokenizer: Any, train: Any, evaluation: Any) -> dict[str, Any]:
        """What every TRL trainer gets besides its ``args``: the model, the datasets, the tokenizer, the LoRA."""
        return {
            "model": model,
            "train_dataset": train,
            "eval_dataset": evaluation,
            "processing_class": tokenizer,
            "peft_config": None if hasattr(model, "peft_config") else self.config.lora(),  # a continued adapter
        }

    def workspace(self, output: Path) -> Any:
        """A context manager giving the trainer's ``output_dir`` for a delta saved to ``output``: here temporary."""
        import tempfile

        return tempfile.TemporaryDirectory(prefix="evoforge-delta-")

    def load(self, base: Path, dtype: Any) -> tuple[Any, Any]:
        """The tokenizer (EOS pads when it has no pad token) and the model in ``dtype``; ConfigError for a model
        without a chat template (LoRA deltas train on chat examples and are served through the base's template)."""
        from evoforge.training.student import load_pretrained

        opt_in = "set train.trust_remote_code=true"
        tokenizer, model = load_pretrained(base, dtype, self.config.trust_remote_code, opt_in)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if not tokenizer.chat_template and not self.whole_model:
            raise ConfigError(f"{base} has no chat template: give its tokenizer one, or train it whole (method full)")
        return tokenizer, model

    def train(
        self,
        base: Path,
        records: list[dict[str, Any]],
        output: Path,
        *,
        chunk: str,
        eval_records: list[dict[str, Any]] | None = None,
        init_adapter: Path | None = None,
    ) -> dict[str, Any]:
        """Train a delta of ``base`` on ``records`` and save it as a PEFT adapter in ``output``; returns metrics.

        With ``init_adapter`` (a PEFT adapter of ``base``) training continues that adapter, with its LoRA config,
        instead of starting a new one (Self-Evolution's rounds).

        With ``eval_records``, the held-out metrics before and after training are included (``eval_before``,
        ``eval_after``: TRL's ``eval_loss`` for SFT, reward margins and accuracy for DPO); a held-out record whose
        prompt alone fills ``max_length`` is left out, as a training record is (none left: no held-out metrics).
        """
        import shutil

        import torch
        from datasets import Dataset
        from transformers import PrinterCallback

        from evoforge.console import progress
        from evoforge.training.student import pick_device, quiet_libraries

        if not records:
            raise DataError(f"chunk '{chunk}' has no records to train on")
        quiet_libraries()
        torch.manual_seed(self.config.seed)
        cpu = pick_device(self.config.device) == "cpu"
        tokenizer, model = self.load(base, torch.float32 if cpu or self.whole_model else torch.bfloat16)
        records, truncated, dropped, longest = fit_lengths(tokenizer, records, self.config.max_length, chunk)
        if init_adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, init_adapter, is_trainable=True)
        budget = token_budget(self.config.max_batch_tokens, model.config.vocab_size, cpu)
        row_tokens = longest * self.sequences_per_record
        plan = plan_batches(self.config.batch_size, row_tokens, budget, self.config.gradient_accumulation_steps)
        train = Dataset.from_list([self.to_example(r) for r in records])
        fitting = [r for r in eval_records or [] if prompt_length(tokenizer, r) < self.config.max_length]
        evaluation = Dataset.from_list([self.to_example(r) for r in fitting]) if fitting else None  # as training does
        with self.workspace(output) as work:
            trainer = self.make_trainer(model, tokenizer, train, evaluation, Path(work), plan)
            trainer.remove_callback(PrinterCallback)
            counter = TokenCounter(trainer.data_collator, tokenizer.pad_token_id)
            trainer.data_collator = counter
            before = eval_metrics(trainer.evaluate()) if evaluation is not None else None
            counter.real = counter.slots = 0
            per_epoch = -(-len(trainer.get_train_dataloader()) // plan.accumulation)
            steps = max(1, round(per_epoch * self.config.epochs))
            started = time.perf_counter()
            with progress(f"{chunk}-{self.method}", steps) as handle:
                trainer.add_callback(progress_callback(handle, counter, started))
                trainer.train()
            seconds = time.perf_counter() - started
            real, slots = counter.real, counter.slots
            epochs = epoch_evals(trainer.state.log_history)  # the last one is the trained model's
            after = epochs[-1] if epochs else eval_metrics(trainer.evaluate()) if evaluation is not None else None
            staging = output.parent / f".{output.name}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            trainer.model.save_pretrained(staging)
            if self.whole_model:
                tokenizer.save_pretrained(staging)
        if output.exists():
            shutil.rmtree(output)
        staging.rename(output)
        curve = [{"step": h["step"], "loss": round(h["loss"], 4)} for h in trainer.state.log_history if "loss" in h]
        return {
            "records": len(records),
            "truncated": truncated,
            "dropped_too_long": dropped,
            "steps": trainer.state.global_step,
            "micro_batch": plan.rows,
            "accumulation": plan.accumulation,
            "loss_curve": curve,
            "final_loss": curve[-1]["loss"] if curve else None,
            "tokens": real,
            "padding_share": round(1 - real / slots, 4) if slots else 0.0,
            "tokens_per_s": round(real / seconds, 1) if seconds else None,
            "wall_seconds": round(seconds, 2),
            "eval_before": before,
            "eval_after": after,
            "eval_per_epoch": epochs,
        }
