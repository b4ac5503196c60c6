"""The sections of the configuration (``run``, ``world``, ``student``, ``evolve``, ``train``, ``merge``; ``eval`` is in
:mod:`evoforge.settings.evaluation`, ``llm`` in :mod:`evoforge.settings.llm`, ``cycle`` in
:mod:`evoforge.settings.cycle`, ``instruct`` in :mod:`evoforge.settings.instruct`): one pydantic model each, every field
documented once.

Every section has ``extra="forbid"``, so that a typo is an error, not a silent default; a key evoforge no longer
has is an error too, one that says it was removed (:func:`refuse_removed`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


REMOVED_KEY = "removed_key"


def refuse_removed(data: Any, removed: dict[str, str]) -> Any:
    """Refuse a key that evoforge no longer has, saying why (``removed``: key → reason); returns ``data``.

    The error's type is ``removed_key`` and its context names the key, so the error report points at its line.
    """
    if isinstance(data, dict):
        for key, why in removed.items():
            if key in data:
                raise PydanticCustomError(REMOVED_KEY, "removed: {why}; delete it", {"key": key, "why": why})
    return data


class RunSettings(Section):
    """Where runs are written and how they are seeded."""

    runs_dir: Path = Field(Path("runs"), description="Root folder of run directories.")
    seed: int = Field(42, description="Global random seed (data splits, sampling, training).")
    language: Literal["en", "ko", "zh"] = Field("en", description="Language of the agents' prompts.")
    auto_approve: bool = Field(True, description="Headless runs approve human checkpoints by policy.")
    database_url_env: str | None = Field(
        None,
        description="Name of the environment variable holding a postgresql:// URL (never the URL itself): LangGraph "
        "checkpoints, merge studies, the LLM response cache and per-model limits then live in that database, shared "
        "by machines and processes (needs the postgres extra). None = SQLite in the run directory.",
    )


class WorldSettings(Section):
    """The offline skills world (procedural tasks with oracle answers)."""

    categories: list[str] = Field(
        default_factory=lambda: ["arithmetic", "strings", "format", "instruct"],
        description="Task categories to generate.",
    )
    n_seeds: int = Field(120, gt=0, description="Seed instructions generated for a run.")
    n_eval: int = Field(80, gt=0, description="Held-out evaluation tasks.")
    max_level: int = Field(3, ge=1, description="Highest complexity level of generated seed tasks.")
    n_prefs: int = Field(
        0,
        ge=0,
        description="Preference pairs (the oracle's answer chosen, a near miss rejected) drawn fresh each round "
        "into the 'preferences' chunk, which trains a DPO delta under train.method auto; 0 = none.",
    )


_REMOVED_STUDENT_KEYS = {"dtype": "it was never read (the student runs in float32 on CPU and bfloat16 on a GPU)"}


class StudentSettings(Section):
    """The student model that deltas are trained on."""

    model: str = Field("tiny", description="'tiny' (built-in offline student) or a local Hugging Face model path.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the student trains and generates; 'auto' = a GPU when one is visible."
    )
    threads: int | None = Field(
        None,
        gt=0,
        description="torch CPU threads while the student trains, generates and merges; None = 1 for the built-in "
        "tiny students, whose matrices are too small to split across cores (the quickstart: 3 min 41 s on one "
        "thread, 6 min 14 s on two, on a 2-core machine), torch's default (one per core) for any other model.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_removed_keys(cls, data: Any) -> Any:
        return refuse_removed(data, _REMOVED_STUDENT_KEYS)


class EvolveSettings(Section):
    """Auto Evol-Instruct parameters (names follow the Korean implementation)."""

    data_path: str | None = Field(None, description="Seed data file; None = generate from the skills world.")
    instruction_field: str = Field("instruction")
    response_field: str = Field("response")
    train_size: int = Field(20, gt=0, description="Instructions used for method optimisation.")
    dev_size: int = Field(50, gt=0, description="Instructions used to validate candidate methods.")
    batch_size: int = Field(10, gt=0, description="Mini-batch size per optimisation step.")
    max_steps: int = Field(3, ge=0, description="Optimisation steps.")
    loop: int = Field(3, ge=1, description="Generations per trajectory (l).")
    candidate_size: int = Field(5, ge=1, description="Candidate methods per step (m).")
    patience: int = Field(1, ge=1, description="Steps without a lower failure rate before stopping.")
    concurrency: int = Field(16, ge=1, description="Concurrent LLM calls in fan-outs.")
    test_run: bool = Field(False, description="Evolve the final dataset from 10 seeds only (optimisation unchanged).")
    save_path: str | None = Field(None, description="Extra output; '.json' = column-oriented as in seed 001.")
    extra_rules: bool = Field(False, description="Also apply the official code's failure rules.")
    elimination: bool = Field(True, description="Apply Evol-Instruct's elimination rules to the final data.")
    in_breadth: float = Field(0.0, ge=0, le=1, description="Share of evolutions that are in-breadth (diversity).")
    dedup: Literal["exact", "minhash", "rouge", "embedding"] = Field(
        "exact",
        description="Duplicate instructions dropped from the final data (data/dedup.py): the same text (any case or "
        "spacing), MinHash LSH + ROUGE-L, all-pairs ROUGE-L, or embeddings (instruct.embedding_model) in faiss. exact "
        "suits the skills world, whose tasks differ in a number or a word; on real data minhash drops near duplicates.",
    )
    dedup_threshold: float | None = Field(
        None,
        gt=0,
        description="The ROUGE-L F1 above which (minhash, rouge), or squared L2 distance within which (embedding), "
        "two instructions are near duplicates; None = the rule's default (0.7; 0.35).",
    )


class TrainSettings(Section):
    """Chunking and LoRA delta training (SFT / DPO with TRL + PEFT).

    The one source of the training hyper-parameters and their defaults: every delta config is built from this
    section (:meth:`evoforge.training.trainer.DeltaConfig.from_settings`).
    """

    chunk_by: str = Field("category", description="Field to chunk by, 'file', or 'parts:N'.")
    eval_fraction: float = Field(0.2, gt=0, lt=1, description="Held-out share, stratified by chunk.")
    method: Literal["sft", "dpo", "auto", "both", "full"] = Field(
        "auto",
        description="What each chunk trains with: sft, dpo (every chunk needs chosen/rejected pairs), auto (DPO "
        "where a chunk is all pairs, else SFT) or both (SFT, plus DPO where there are pairs; each its own delta); "
        "full (evoforge train only): SFT of every weight, one model on all chunks, a checkpoint per epoch.",
    )
    train_all: bool = Field(True, description="Also train train@all, the baseline the merge must beat.")
    preference_data: str | None = Field(
        None,
        description="A file of chosen/rejected pairs (any supported format) that joins every round as the "
        "'preferences' chunk (a DPO delta under method auto); on the skills world see world.n_prefs.",
    )
    mix_other_chunks: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Share of every other chunk's training records sampled into each chunk (at least one record of "
        "each when above 0): airoboros' expert segmentation with 0.15, so that an expert still meets a misrouted "
        "request's kind. Mixed records keep their category and are never held out; train@all counts them once.",
    )
    lora_r: int = Field(8, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(16, gt=0, description="LoRA alpha (scale = alpha / r).")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names LoRA adapts, or 'all-linear'."
    )
    epochs: float = Field(2.0, gt=0, description="Passes over each chunk.")
    learning_rate: float = Field(
        2e-3,
        gt=0,
        description="SFT peak learning rate: linear warm-up over 10% of the steps, then cosine decay (tiny student; "
        "~2e-4 suits billion-parameter models).",
    )
    dpo_learning_rate: float = Field(
        5e-4,
        gt=0,
        description="DPO peak learning rate, same schedule (tiny student; ~5e-6 suits billion-parameter models).",
    )
    dpo_beta: float = Field(
        0.1, gt=0, description="DPO beta: the KL anchor to the base (higher = stay closer to the base)."
    )
    batch_size: int = Field(
        16, gt=0, description="Sequences (pairs for DPO) per step, times gradient_accumulation_steps."
    )
    gradient_accumulation_steps: int = Field(
        1, ge=1, description="Batches of batch_size accumulated per optimiser step (run_train.sh's accumulation)."
    )
    full_learning_rate: float = Field(
        1e-5, gt=0, description="method full: peak learning rate of every weight (run_train.sh's), same schedule."
    )
    trust_remote_code: bool = Field(
        False, description="Let the student's folder run the code it ships while training (Baichuan2, ...); opt-in."
    )
    max_batch_tokens: int | None = Field(
        None,
        gt=0,
        description="Most padded tokens in one forward pass (rows × the chunk's longest sequence; DPO counts both "
        "answers): a step of batch_size sequences is split into micro-batches with gradient accumulation, same "
        "sequences and loss per step. None = on a CPU 16M logits / vocabulary (16,384 tokens for a 1,024-token "
        "vocabulary, 524 for 32k: TRL's LM head holds float32 tokens × vocabulary tiles), on a GPU no bound.",
    )
    max_length: int = Field(
        512,
        gt=8,
        description="Tokens per sequence; longer ones are truncated at the end, records whose prompt alone fills "
        "it are dropped.",
    )
    packing: bool = Field(
        False,
        description="SFT: pack examples into max_length rows (best-fit decreasing, padding-free). Pays off on a GPU "
        "with FlashAttention; on CPU the block-diagonal mask of a packed row makes it slower (see "
        "bench/train_throughput.py). Off, batches are grouped by length.",
    )
    backend: Literal["local", "ray"] = Field(
        "local",
        description="Where a round's deltas train: local (train.workers at a time on this machine) or ray (each "
        "delta a Ray task on the cluster of $RAY_ADDRESS, else a local one; needs the ray extra).",
    )
    workers: int | None = Field(
        None, ge=1, description="local: deltas trained at once (processes); None = cores / student.threads, GPU 1."
    )
    ray_num_cpus: float = Field(1.0, gt=0, description="train.backend ray: CPUs each delta's task claims.")
    ray_num_gpus: float | None = Field(
        None,
        ge=0,
        description="train.backend ray: GPUs each delta's task claims (a fraction packs small deltas on one GPU); "
        "None = 1 when the cluster has GPUs, else 0.",
    )


class MergeSettings(Section):
    """Merge methods and the merge-weight search (see merging/)."""

    method: str | list[str] = Field(
        "linear",
        description="Registered merge method (linear, ties, dare_linear, dare_ties, magnitude_prune); "
        "a list = the method is searched among them.",
    )
    trials: int = Field(30, gt=0, description="Completed trials the study ends with (baselines included).")
    sampler: Literal["tpe", "gp", "cmaes", "random"] = Field("tpe")
    low: float = Field(0.0, description="Lower bound of each weight (AutoLLM: 0; LoraHub: -1.5).")
    high: float = Field(1.0, description="Upper bound of each weight (AutoLLM: 1; LoraHub: 1.5).")
    normalize: bool = Field(
        False,
        description="linear: divide the weights by their sum (a weighted average of models). Off = task "
        "arithmetic W0 + sum(w_i dW_i), which is AutoLLM's (1 - sum(w)) W0 + sum(w_i W_i).",
    )
    per_layer_groups: int = Field(1, ge=1, description="Search one weight per delta per layer group.")
    linear_path: Literal["auto", "scales", "delta"] = Field(
        "auto",
        description="How a trial applies a linear merge of LoRA deltas: adapter scales on the resident model (no "
        "dense copy; LoRA compute per forward), in-place dense delta add, or auto (delta while it fits in 1 GiB).",
    )
    density: float | None = Field(None, gt=0, le=1, description="Density for TIES/DARE; None = searched.")
    human_weights: list[float] | dict[str, float] | None = Field(
        None,
        description="A hand-picked merge enqueued as a baseline (the human_merge row): one weight per delta in the "
        "plan's order, or {delta name: weight} (e.g. arithmetic-sft: 0.5; a delta left out weighs 0).",
    )
    direction: Literal["maximize", "minimize"] = Field("maximize", description="Of the eval metric.")
    storage: str | None = Field(
        None,
        description="Optuna storage shared by workers (sqlite:///..., postgresql://..., or a journal file path); "
        "None = <run>/merge/optuna.db (one worker, or workers None) or <run>/merge/optuna.journal (several).",
    )
    workers: int | None = Field(
        None, ge=1, description="Processes scoring trials and table rows, this one included; None: as train.workers."
    )
    backend: Literal["local", "ray"] = Field(
        "local",
        description="Where the other merge.workers run: local (processes on this machine) or ray (Ray actors, each "
        "with its resident model; needs the ray extra and a storage they all reach).",
    )
    save_full: bool = Field(False, description="Also save the best merge as a full model directory.")
    route: bool = Field(
        True,
        description="The cycle's routed_experts row: each prompt answered by the one delta the LMoE router picks "
        "(its embedding router over the chunks the deltas trained on; needs the instruct extra). Off skips the row "
        "and the merged-vs-routed choice at promotion (about one table row's evaluation per split).",
    )

    @field_validator("high")
    @classmethod
    def _bounds_ordered(cls, high: float, info: Any) -> float:
        low = info.data.get("low")
        if low is not None and high <= low:
            raise ValueError(f"must be greater than merge.low ({low})")
        return high
