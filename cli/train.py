"""``evoforge train``: chunk a dataset and train one LoRA delta per chunk (+ train@all), or fine-tune every weight
of the student on all of it (``--method full``).

The Data-efficient-training seed's ``run_train.sh`` flags work as written: ``--train_dir`` (a folder of record
files), ``--valid_dir`` (evaluated after every epoch instead of a held-out split), ``--model_name_or_path``,
``--batch_size`` and ``--gradient_accumulation`` (hidden twins of the dashed options). A ``--train-dir`` run fine-tunes
every weight (``train.method: full``) and chunks by file unless the configuration or a flag says otherwise.

Heavy libraries load inside the commands. On several GPUs run ``accelerate launch -m evoforge.cli train ...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evoforge.cli.options import RunOptions, run_options, seed_spellings
from evoforge.errors import ConfigError
from evoforge.preflight import ensure

if TYPE_CHECKING:
    from evoforge.settings import Config


@dataclass(frozen=True)
class Sources:
    """Where the records come from: ``--data`` (a file, dataset or folder) or ``--train-dir``, and ``--valid-dir``."""

    data: Path | None
    train_dir: Path | None
    valid_dir: Path | None
    fmt: str | None

    @property
    def train(self) -> Path:
        """The training data's path; ConfigError unless exactly one of ``--data`` and ``--train-dir`` is given."""
        if (self.data is None) == (self.train_dir is None):
            raise ConfigError("give the training data as --data PATH or --train-dir DIR (one of them)")
        return self.train_dir or self.data  # type: ignore[return-value]


FOLDER_DEFAULTS = {"chunk_by": "file", "method": "full"}  # run_train.sh's: one model on every file


def _folder_defaults(cfg: Config, sources: Sources) -> Config:
    """With ``--train-dir`` (run_train.sh's folder of files) ``train.chunk_by`` is ``file`` and ``train.method``
    ``full`` unless the configuration or a flag sets them."""
    if sources.train_dir is None:
        return cfg
    unset = {k: v for k, v in FOLDER_DEFAULTS.items() if k not in cfg.train.model_fields_set}
    return cfg.model_copy(update={"train": cfg.train.model_copy(update=unset)})


def _print_results(summary: list[dict[str, Any]], held: str) -> None:
    from rich.table import Table

    from evoforge.console import console

    table = Table("delta", "records", "final loss", held, "tok/s", "seconds")
    for row in summary:
        after = row["eval_after"] or {}
        loss = ", ".join(f"{k} {v:.3f}" for k, v in after.items() if k in ("loss", "rewards/margins"))
        table.add_row(
            row["name"], str(row["records"]), str(row["final_loss"]), loss, str(row["tokens_per_s"]),
            str(row["wall_seconds"]),
        )  # fmt: skip
    console.print(table)
    for row in summary:
        if row["eval_per_epoch"]:
            epochs = Table("epoch", f"{held} loss", title=f"{row['name']}: {held} after each epoch")
            for evaluation in row["eval_per_epoch"]:
                epochs.add_row(f"{evaluation['epoch']:g}", f"{evaluation['loss']:.4f}")
            console.print(epochs)


def _train(sources: Sources, settings: dict[str, Any], opts: RunOptions) -> None:
    from evoforge.console import info
    from evoforge.cycle.model_cards import write_trained_cards
    from evoforge.training.full import CHECKPOINTS_DIR, MODEL_DIR
    from evoforge.training.train_run import train_run

    cfg = opts.resolve(*(f"{key}={value}" for key, value in settings.items() if value is not None))
    cfg = _folder_defaults(cfg, sources)
    data = {"--train-dir" if sources.train_dir else "--data": sources.train}
    ensure(cfg, "train", data | {"--valid-dir": sources.valid_dir, "--format": sources.fmt})
    done = train_run(cfg, sources.train, sources.valid_dir, sources.fmt, opts.start, write_trained_cards)
    split, run = cfg.train, done.run
    _print_results(done.summary, done.held)
    for result in done.results:
        cut, left_out = result.metrics.get("truncated", 0), result.metrics.get("dropped_too_long", 0)
        if cut or left_out:
            info(
                f"{result.name}: {cut} sequences cut at train.max_length={split.max_length} tokens, {left_out} left "
                "out (the prompt alone fills it); run_train.sh's limit is 2048: --set train.max_length=2048"
            )
    if split.method == "full":
        info(f"model in {run.path / MODEL_DIR}, a checkpoint per epoch in {run.path / CHECKPOINTS_DIR}")
    else:
        info(f"adapters in {run.path / 'adapters'}")


def register(app: typer.Typer) -> None:
    """Add ``evoforge train``."""

    @app.command("train")
    @run_options()
    @seed_spellings("train_dir", "valid_dir", "model_name_or_path", "batch_size", "gradient_accumulation")
    def train(
        data: Annotated[
            Path | None, typer.Option("--data", "-d", help="Dataset file, HF dataset dir, dataset_info.json or folder.")
        ] = None,
        train_dir: Annotated[
            Path | None,
            typer.Option(
                "--train-dir",
                help="A folder of record files, as run_train.sh's: each file a chunk, method full, unless "
                "train.chunk_by / train.method are set.",
            ),
        ] = None,
        valid_dir: Annotated[
            Path | None,
            typer.Option(
                "--valid-dir",
                help="Validation records (file or folder), evaluated after every epoch (method full) or "
                "before/after each delta, instead of a held-out split.",
            ),
        ] = None,
        model_name_or_path: Annotated[
            str | None, typer.Option("--model", "-m", "--model-name-or-path", help="'tiny' or a local HF model dir.")
        ] = None,
        chunk_by: Annotated[
            str | None, typer.Option("--chunk-by", help="Field, 'file' or 'parts:N' (train.chunk_by).")
        ] = None,
        method: Annotated[
            str | None,
            typer.Option(
                "--method",
                help="sft | dpo | auto | both: LoRA deltas; full: every weight, one model on all the chunks, a "
                "checkpoint per epoch (train.method).",
            ),
        ] = None,
        batch_size: Annotated[
            int | None, typer.Option("--batch-size", min=1, help="Batch size (train.batch_size).")
        ] = None,
        gradient_accumulation: Annotated[
            int | None,
            typer.Option(
                "--gradient-accumulation", min=1, help="Batches per optimiser step (train.gradient_accumulation_steps)."
            ),
        ] = None,
        epochs: Annotated[
            float | None, typer.Option("--epochs", min=0.01, help="Passes over the data (run_train.sh: 15).")
        ] = None,
        fmt: Annotated[str | None, typer.Option("--format", help="Record format (default: detected).")] = None,
        remote_code: Annotated[
            bool, typer.Option("--trust-remote-code", help="Let the model run the code it ships (Baichuan2, …).")
        ] = False,
        *,
        opts: RunOptions,
    ) -> None:
        """Chunk a dataset, hold out an eval split (or take --valid-dir), and train a LoRA delta per chunk
        (+ train@all), or with --method full one whole model on every chunk, in a new run."""
        settings = {
            "student.model": model_name_or_path, "train.chunk_by": chunk_by, "train.method": method,
            "train.batch_size": batch_size, "train.gradient_accumulation_steps": gradient_accumulation,
            "train.epochs": epochs, "train.trust_remote_code": remote_code or None,
        }  # fmt: skip
        _train(Sources(data, train_dir, valid_dir, fmt), settings, opts)
