"""Training the deltas of a chunked dataset: one LoRA adapter per (chunk, method), plus ``train@all``.

``method`` picks what each chunk trains with: ``sft``, ``dpo`` (every chunk must hold chosen/rejected pairs),
``auto`` (DPO where the chunk is all pairs, SFT otherwise) or ``both`` (SFT, and DPO too where there are pairs;
each its own delta); ``full`` is no delta method (:mod:`evoforge.training.full` trains one whole model). Deltas
land in ``out_dir/<chunk>-<method>/`` (``train@all`` in ``out_dir/all-<method>/``, on every chunk's own records: a
record mixed into other chunks counts once) with ``training.json`` beside them; a delta whose inputs hash is
unchanged is reused, not retrained.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from evoforge.console import detail, info
from evoforge.data.chunking import own_records
from evoforge.data.formats import is_preference
from evoforge.data.io import read_records
from evoforge.errors import DataError
from evoforge.runs import now_iso
from evoforge.training.trainer import TRAINING_FILE, DeltaConfig, DeltaResult, write_training_json

if TYPE_CHECKING:
    from evoforge.settings import TrainSettings
    from evoforge.training.trainer import DeltaTrainer

ALL_CHUNK = "all"
Records = list[dict[str, Any]]


def inputs_hash(
    records: list[dict[str, Any]], config: Any, base: Path, method: str, continues: str | None = None
) -> str:
    """Hash of what determines a delta: its data, its config, the base model's weights/config, the method, and the
    inputs hash of the adapter it continues (``continues``; a delta that starts fresh hashes as it always did)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(records, sort_keys=True, ensure_ascii=False, default=str).encode())
    cfg = {k: v for k, v in asdict(config).items() if k != "device"}
    what: dict[str, Any] = {"config": cfg, "method": method} | ({"continues": continues} if continues else {})
    digest.update(json.dumps(what, sort_keys=True, default=str).encode())
    for name in ("config.json", "model.safetensors", "model.safetensors.index.json"):
        path = base / name
        if path.is_file():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:20]


def is_current(output: Path, data_hash: str) -> bool:
    """Whether ``output`` already holds a delta trained from exactly these inputs."""
    meta = output / TRAINING_FILE
    if not (meta.is_file() and (output / "adapter_config.json").is_file()):
        return False
    try:
        return bool(json.loads(meta.read_text(encoding="utf-8")).get("inputs_hash") == data_hash)
    except json.JSONDecodeError:
        return False


def methods_for(records: Records, method: str, chunk: str) -> list[str]:
    """The methods a chunk trains with under ``method`` (sft / dpo / auto / both)."""
    if not records:
        raise DataError(f"chunk '{chunk}' is empty")
    pairs = sum(is_preference(r) for r in records)
    if method == "sft":
        return ["sft"]
    if method == "dpo":
        if not pairs:
            raise DataError(f"chunk '{chunk}' has no chosen/rejected pairs to train DPO on (use method sft or auto)")
        return ["dpo"]
    if method == "auto":
        return ["dpo"] if pairs == len(records) else ["sft"]
    if method == "both":
        return ["sft", "dpo"] if pairs else ["sft"]
    if method == "full":
        raise DataError("train.method full trains one whole model (evoforge train); deltas need sft, dpo, auto or both")
    raise DataError(f"unknown training method '{method}' (expected sft, dpo, auto or both)")


def make_trainer(method: str, settings: TrainSettings, *, seed: int, device: str) -> DeltaTrainer:
    """The delta trainer of ``method`` (``sft``; anything else is DPO) configured from the ``train`` section."""
    if method == "sft":
        from evoforge.training.sft import SFTDelta, SFTDeltaConfig

        return SFTDelta(SFTDeltaConfig.from_settings(settings, seed=seed, device=device))
    from evoforge.training.dpo import DPODelta, DPODeltaConfig

    return DPODelta(DPODeltaConfig.from_settings(settings, seed=seed, device=device))


def every_record(chunks: dict[str, Records]) -> Records:
    """The records of every chunk, each once (a record mixed into other chunks counts in its own)."""
    return [r for records in chunks.values() for r in own_records(records)]


def read_chunks(chunks_dir: Path) -> dict[str, Records]:
    """The chunks written by :func:`evoforge.data.chunking.write_chunks` (``<name>.jsonl`` each)."""
    files = sorted(chunks_dir.glob("*.jsonl"))
    if not files:
        raise DataError(f"no chunks (*.jsonl) in {chunks_dir}")
    chunks: dict[str, Records] = {}
    for path in files:
        if path.stat().st_size == 0:
            raise DataError(f"chunk '{path.stem}' is empty ({path})")
        chunks[path.stem] = read_records(path)
    return chunks


def train_one(
    trainer: DeltaTrainer,
    base: Path,
    records: Records,
    output: Path,
    chunk: str,
    eval_records: Records | None = None,
    init_adapter: Path | None = None,
) -> DeltaResult:
    """Train (or reuse, when its inputs are unchanged) one delta and write its ``training.json``; with
    ``init_adapter`` (a delta trained here before) training continues that adapter."""
    method = trainer.method
    if method == "dpo":
        records = [r for r in records if is_preference(r)]
        eval_records = [r for r in eval_records or [] if is_preference(r)]
    name = output.name
    origin = None
    if init_adapter is not None:
        origin = json.loads((init_adapter / TRAINING_FILE).read_text(encoding="utf-8"))["inputs_hash"]
    digest = inputs_hash(records, trainer.config, base, method, continues=origin)
    if is_current(output, digest):
        meta = json.loads((output / TRAINING_FILE).read_text(encoding="utf-8"))
        detail(f"{name}: inputs unchanged, reusing {output}")
        return DeltaResult(name, output, method, chunk, meta.get("metrics", {}), reused=True)
    metrics = trainer.train(
        base, records, output, chunk=chunk, eval_records=eval_records or None, init_adapter=init_adapter
    )
    config: DeltaConfig = trainer.config
    write_training_json(
        output,
        {
            "name": name,
            "chunk": chunk,
            "method": method,
            "base": str(base),
            "inputs_hash": digest,
            "continues": str(init_adapter) if init_adapter is not None else None,
            "config": asdict(config),
            "trained": now_iso(),
            "metrics": metrics,
        },
    )
    return DeltaResult(name, output, method, chunk, metrics)


@dataclass(frozen=True)
class DeltaJob:
    """One delta to train: a chunk (``all`` = train@all over every chunk) and a method."""

    chunk: str
    method: str

    @property
    def name(self) -> str:
        """The delta's name and adapter directory name, ``<chunk>-<method>``."""
        return f"{self.chunk}-{self.method}"


def plan_deltas(chunks_dir: Path, settings: TrainSettings) -> list[DeltaJob]:
    """The deltas a chunked dataset trains under ``settings``: each chunk's methods, then train@all's."""
    chunks = read_chunks(chunks_dir)
    jobs = [DeltaJob(name, m) for name, rows in chunks.items() for m in methods_for(rows, settings.method, name)]
    if settings.train_all:
        if ALL_CHUNK in chunks:
            raise DataError(
                f"a chunk is named '{ALL_CHUNK}', which train@all uses; rename it or set train.train_all=false"
            )
        jobs += [DeltaJob(ALL_CHUNK, m) for m in methods_for(every_record(chunks), settings.method, ALL_CHUNK)]
    return jobs


def train_planned(
    job: DeltaJob,
    student_path: Path,
    chunks_dir: Path,
    out_dir: Path,
    settings: TrainSettings,
    *,
    eval_path: Path | None = None,
    seed: int = 0,
    device: str = "auto",
) -> DeltaResult:
    """Train (or reuse) the delta of ``job`` into ``out_dir/<job.name>``.

    ``eval_path`` (the held-out ``eval.jsonl``) adds the delta's held-out metrics before/after training, on the
    held-out rows of its chunk and the rows of no chunk (a validation set; all of them for train@all). With
    ``settings.backend`` ray it trains as one Ray task claiming ``ray_num_cpus`` and ``ray_num_gpus`` (paths must be
    the same on every node): the same seed and inputs give the same adapter as training here, bit for bit on CPU with
    the same number of torch threads.
    """
    if settings.backend == "ray":
        from evoforge.cluster import gpus_per_task, run_task

        local = settings.model_copy(update={"backend": "local"})
        options = {"num_cpus": settings.ray_num_cpus, "num_gpus": gpus_per_task(settings.ray_num_gpus)}
        paths = (job, student_path, chunks_dir, out_dir, local)
        return run_task(train_planned, *paths, eval_path=eval_path, seed=seed, device=device, **options)
    chunks = read_chunks(chunks_dir)
    held_out = read_records(eval_path) if eval_path and eval_path.is_file() and eval_path.stat().st_size else []
    if job.chunk == ALL_CHUNK:
        records, evals = every_record(chunks), held_out
    else:
        records, evals = chunks[job.chunk], [r for r in held_out if r.get("chunk") in (job.chunk, None)]
    info(f"delta {job.name} on {len(records)} records")
    trainer = make_trainer(job.method, settings, seed=seed, device=device)
    return train_one(trainer, student_path, records, out_dir / job.name, job.chunk, evals)


class DeltaOptions(TypedDict, total=False):
    """:func:`train_planned`'s keyword options (documented there), which :func:`train_deltas` passes on."""

    eval_path: Path | None
    seed: int
    device: str


def train_deltas(
    student_path: Path, chunks_dir: Path, out_dir: Path, settings: TrainSettings, **options: Unpack[DeltaOptions]
) -> list[DeltaResult]:
    """Train every chunk's deltas (and ``train@all`` when ``settings.train_all``) into ``out_dir``, one by one, each
    as :func:`train_planned` with ``options``."""
    return [
        train_planned(job, student_path, chunks_dir, out_dir, settings, **options)
        for job in plan_deltas(chunks_dir, settings)
    ]
