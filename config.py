"""Configuration: YAML files validated by pydantic, with documented defaults.

Every section is a pydantic model with ``extra="forbid"`` so that a typo is an error, not a silent default.
Secrets never live here: a model entry names the *environment variable* that holds its key
(``api_key_env``), and :func:`redact` scrubs secret values from anything written to disk.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evoforge.errors import ConfigError

AGENT_ROLES = ("evolver", "analyzer", "optimizer", "validator", "generator", "judge", "answerer")


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RunSettings(Section):
    """Where runs are written and how they are seeded."""

    runs_dir: Path = Field(Path("runs"), description="Root folder of run directories.")
    seed: int = Field(42, description="Global random seed (data splits, sampling, training).")
    language: Literal["en", "ko", "zh"] = Field("en", description="Language of the agents' prompts.")
    auto_approve: bool = Field(True, description="Headless runs approve human checkpoints by policy.")


class ModelEntry(Section):
    """One LLM endpoint, as LiteLLM addresses it."""

    model: str = Field(description="LiteLLM model string, e.g. 'deepseek/deepseek-chat' or 'sim/skills'.")
    api_base: str | None = Field(None, description="Base URL for OpenAI-compatible servers (vLLM, sim).")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable that holds the API key (never the key itself)."
    )
    timeout: float = Field(120.0, gt=0, description="Seconds before a call times out.")
    rpm: int | None = Field(None, gt=0, description="Requests per minute allowed to this model.")
    max_parallel_requests: int = Field(16, gt=0, description="Concurrent requests allowed to this model.")
    input_cost_per_token: float | None = Field(None, ge=0, description="USD per input token (unmapped models).")
    output_cost_per_token: float | None = Field(None, ge=0, description="USD per output token (unmapped models).")
    json_schema: bool | None = Field(
        None,
        description="Whether the provider accepts native json_schema output; None = decide by provider.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Extra provider parameters passed to LiteLLM (e.g. sim settings)."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError("api_key must not be written in a config file; name its variable in api_key_env")
        return data


class RoleSettings(Section):
    """Which model plays an agent role, with the role's sampling parameters."""

    model: str = Field("sim", description="Name of an entry in llm.models.")
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(1024, gt=0)
    fallbacks: list[str] = Field(default_factory=list, description="llm.models entries tried in order on failure.")


def _default_models() -> dict[str, ModelEntry]:
    return {"sim": ModelEntry(model="sim/skills")}


def _default_roles() -> dict[str, RoleSettings]:
    creative = {"temperature": 0.6, "top_p": 0.95}
    return {
        "evolver": RoleSettings(),
        "analyzer": RoleSettings(**creative),
        "optimizer": RoleSettings(**creative),
        "validator": RoleSettings(),
        "generator": RoleSettings(),
        "answerer": RoleSettings(),
        "judge": RoleSettings(),
    }


class LLMSettings(Section):
    """The LLM gateway: models, roles, retries, cache and budget."""

    models: dict[str, ModelEntry] = Field(default_factory=_default_models)
    roles: dict[str, RoleSettings] = Field(default_factory=_default_roles)
    num_retries: int = Field(3, ge=0, description="Retries on timeouts, 429 and 5xx (never on other 4xx).")
    retry_backoff: float = Field(1.0, ge=0, description="Initial backoff in seconds, doubled per retry.")
    cache: bool = Field(True, description="SQLite response cache in the run directory.")
    max_cost_usd: float | None = Field(None, gt=0, description="Stop the run cleanly past this cost.")
    max_tokens_total: int | None = Field(None, gt=0, description="Stop the run cleanly past this many tokens.")

    @model_validator(mode="after")
    def _roles_name_models(self) -> LLMSettings:
        for role, settings in self.roles.items():
            for name in [settings.model, *settings.fallbacks]:
                if name not in self.models:
                    known = ", ".join(sorted(self.models))
                    raise ValueError(f"role '{role}' names model '{name}', which is not in llm.models ({known})")
        return self


class WorldSettings(Section):
    """The offline skills world (procedural tasks with oracle answers)."""

    categories: list[str] = Field(
        default_factory=lambda: ["arithmetic", "strings", "format", "instruct"],
        description="Task categories to generate.",
    )
    n_seeds: int = Field(120, gt=0, description="Seed instructions generated for a run.")
    n_eval: int = Field(80, gt=0, description="Held-out evaluation tasks.")
    max_level: int = Field(3, ge=1, description="Highest complexity level of generated seed tasks.")


class StudentSettings(Section):
    """The student model that deltas are trained on."""

    model: str = Field("tiny", description="'tiny' (built-in offline student) or a local Hugging Face model path.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="'auto': float32 on CPU, bfloat16 on GPU."
    )


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
    test_run: bool = Field(False, description="Evolve only 10 instructions.")
    save_path: str | None = Field(None, description="Extra output; '.json' = column-oriented as in seed 001.")
    extra_rules: bool = Field(False, description="Also apply the official code's failure rules.")
    elimination: bool = Field(True, description="Apply Evol-Instruct's elimination rules to the final data.")
    in_breadth: float = Field(0.0, ge=0, le=1, description="Share of evolutions that are in-breadth (diversity).")


class TrainSettings(Section):
    """Chunking and LoRA delta training (SFT / DPO with TRL + PEFT)."""

    chunk_by: str = Field("category", description="Field to chunk by, 'file', or 'parts:N'.")
    eval_fraction: float = Field(0.2, gt=0, lt=1, description="Held-out share, stratified by chunk.")
    method: Literal["sft", "dpo", "auto", "both"] = Field("auto")
    train_all: bool = Field(True, description="Also train train@all, the baseline the merge must beat.")
    lora_r: int = Field(8, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(16, gt=0, description="LoRA alpha (scale = alpha / r).")
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = Field("all-linear", description="Modules LoRA adapts.")
    epochs: float = Field(2.0, gt=0, description="Passes over each chunk.")
    learning_rate: float = Field(
        2e-3, gt=0, description="SFT peak learning rate (tiny student; ~2e-4 suits billion-parameter models)."
    )
    dpo_learning_rate: float = Field(
        5e-4, gt=0, description="DPO peak learning rate (tiny student; ~5e-6 suits billion-parameter models)."
    )
    dpo_beta: float = Field(0.1, gt=0, description="DPO beta: the KL anchor to the base.")
    batch_size: int = Field(16, gt=0, description="Sequences (pairs for DPO) per step.")
    max_length: int = Field(
        512, gt=8, description="Tokens per sequence; longer ones are truncated, prompts that fill it dropped."
    )
    packing: bool = Field(False, description="SFT: pack examples into max_length rows (padding-free).")


class EvalSettings(Section):
    """Evaluation of students on held-out sets."""

    metric: Literal["exact_match", "numeric", "bleu4", "rouge_1", "rouge_2", "rouge_l", "judge"] = Field(
        "exact_match", description="Per-example score (see evals/metrics.py); bleu4/rouge_* are 0..100."
    )
    max_new_tokens: int = Field(48, gt=0)
    batch_size: int = Field(32, gt=0)
    backend: Literal["transformers", "vllm"] = Field("transformers", description="vllm needs the vllm extra.")
    ifd_variant: Literal["cherry", "superfiltering", "self_evolution"] = Field("cherry")
    ifd_max_length: int = Field(512, gt=8, description="Tokens of prompt + answer scored by IFD.")
    ifd_batch_size: int = Field(32, gt=0, description="Most sequences per IFD scoring batch.")
    ifd_max_tokens: int | None = Field(
        2048, gt=0, description="Most padded tokens per IFD batch (a few thousand suit a CPU; raise it on a GPU)."
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
    human_weights: list[float] | None = Field(None, description="A hand-picked merge enqueued as a baseline.")
    direction: Literal["maximize", "minimize"] = Field("maximize", description="Of the eval metric.")
    storage: str | None = Field(
        None,
        description="Optuna storage shared by workers (sqlite:///..., postgresql://..., or a journal file path); "
        "None = <run>/merge/optuna.db (one worker) or <run>/merge/optuna.journal (several).",
    )
    workers: int = Field(1, ge=1, description="Worker processes evaluating trials on one storage.")
    save_full: bool = Field(False, description="Also save the best merge as a full model directory.")

    @field_validator("high")
    @classmethod
    def _bounds_ordered(cls, high: float, info: Any) -> float:
        low = info.data.get("low")
        if low is not None and high <= low:
            raise ValueError(f"must be greater than merge.low ({low})")
        return high


class CycleSettings(Section):
    """The outer loop: rounds of evolve → train → merge → evaluate → feed back."""

    rounds: int = Field(2, ge=1)
    patience: int = Field(1, ge=1, description="Rounds without a better held-out score before stopping.")


class Config(Section):
    """The whole resolved configuration of a run."""

    run: RunSettings = Field(default_factory=RunSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    world: WorldSettings = Field(default_factory=WorldSettings)
    student: StudentSettings = Field(default_factory=StudentSettings)
    evolve: EvolveSettings = Field(default_factory=EvolveSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    merge: MergeSettings = Field(default_factory=MergeSettings)
    cycle: CycleSettings = Field(default_factory=CycleSettings)

    def to_yaml(self) -> str:
        """Render the resolved configuration as YAML (it holds no secrets by construction)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path of a YAML mapping document to its 1-based line number."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, str(i))] = item.start_mark.line + 1
                walk(item, (*path, str(i)))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


def format_validation_error(error: ValidationError, source: str, text: str | None = None) -> str:
    """Describe each validation problem: source, line, field path, bad value, what was expected."""
    lines = _yaml_lines(text) if text else {}
    out = [f"invalid configuration in {source}:"]
    for err in error.errors():
        loc = tuple(str(p) for p in err["loc"])
        where = ".".join(loc) or "(top level)"
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        at = f" (line {line})" if line else ""
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key (check the spelling; see `evoforge config show` for valid keys)"
        else:
            msg = err["msg"]
        value = "" if kind in ("missing", "extra_forbidden") else f"; got {err.get('input')!r}"
        out.append(f"  - {where}{at}: {msg}{value}")
    return "\n".join(out)


def _set_path(data: dict[str, Any], dotted: str, raw: str) -> None:
    """Set ``data[a][b][c] = yaml(raw)`` for an override ``a.b.c=raw``."""
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted}={raw}: '{key}' is not a section")
        node = child
    node[keys[-1]] = yaml.safe_load(raw) if raw != "" else None


def load_config(path: Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load, merge overrides into, and validate a configuration.

    Args:
        path: a YAML file; None means the built-in defaults (the offline world).
        overrides: ``section.key=value`` strings (values parsed as YAML), applied after the file.

    Raises:
        ConfigError: the file is missing, not YAML, or fails validation (message names file, line, field).
    """
    text: str | None = None
    data: dict[str, Any] = {}
    source = str(path) if path else "the defaults"
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        text = path.read_text(encoding="utf-8")
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        key, raw = item.split("=", 1)
        _set_path(data, key.strip(), raw.strip())
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        suffix = f" (with overrides {', '.join(overrides)})" if overrides else ""
        raise ConfigError(format_validation_error(exc, source + suffix, text)) from None


_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)


def secret_values(extra_names: tuple[str, ...] = ()) -> list[str]:
    """Values of environment variables that look like secrets (``*_KEY``, ``*TOKEN*``, ...), longest first."""
    values = {
        value
        for name, value in os.environ.items()
        if (_SECRET_NAME.search(name) or name in extra_names) and len(value) >= 8
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """Replace every secret value from the environment in ``text`` with ``***``."""
    for value in secret_values():
        text = text.replace(value, "***")
    return text
