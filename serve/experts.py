"""The experts an LMoE server offers: named LoRA adapters over one base model, from flags or from a cycle run.

An :class:`Expert` has a name, an adapter directory (None = the base model itself), a description (what the agent
router reads) and its training instructions (what the embedding router indexes). ``auto`` routes only among
*routable* experts, those with instructions; the others (the base, train@all, the best merge) are served by name.

From a cycle run (:func:`run_experts`) a round's ``merge/job.json`` names the base model and the deltas; each delta
``<chunk>-<method>`` is an expert whose instructions are the round's ``chunks/<chunk>.jsonl``; train@all and the
round's best merge (``merge/best_adapter``) are served as ``train@all`` and ``auto_merge``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evoforge.data.chunking import PREFERENCES_CHUNK
from evoforge.errors import ConfigError, DataError
from evoforge.serve.decoding import BASE_ADAPTER
from evoforge.training.trainer import trained_chunk

AUTO = "auto"
BASE = "base"
TRAIN_ALL = "train@all"
AUTO_MERGE = "auto_merge"


@dataclass(frozen=True)
class Expert:
    """One servable model: ``adapter`` on the base (None = the base), what it knows, and what it was trained on."""

    name: str
    adapter: Path | None = None
    description: str = ""
    instructions: tuple[str, ...] = field(default=(), repr=False)

    @property
    def routable(self) -> bool:
        """Whether ``auto`` may route to it (it has training instructions to compare a request with)."""
        return bool(self.instructions)


def check_adapter_dirs(adapters: Mapping[str, Path | str]) -> None:
    """Every adapter is a PEFT adapter directory under a name other than the base model's reserved one."""
    for name, path in adapters.items():
        if name == BASE_ADAPTER:
            raise ConfigError(f"'{BASE_ADAPTER}' is reserved for the base model; rename that expert")
        if not (Path(path) / "adapter_config.json").is_file():
            whole = (
                "; a whole model (a full fine-tune) is served as --base"
                if (Path(path) / "config.json").is_file()
                else ""
            )
            raise ConfigError(
                f"expert '{name}': {path} is not a PEFT adapter directory (no adapter_config.json){whole}"
            )


def parse_pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict (a repeated NAME or a missing ``=`` is an error naming ``flag``)."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise ConfigError(f"{flag} expects NAME=VALUE, got '{value}'")
        if name in out:
            raise ConfigError(f"{flag} names '{name}' twice")
        out[name.strip()] = rest.strip()
    return out


def read_instructions(path: Path, limit: int | None = None) -> tuple[str, ...]:
    """The instructions of a dataset file (any format evoforge reads: the prompt of each example), without the
    records a chunk mixed in from other chunks (``train.mix_other_chunks``): they are other experts' data."""
    from evoforge.data.chunking import MIXED_FROM
    from evoforge.data.formats import load_examples

    if not path.is_file():
        raise DataError(f"no such file: {path}")
    own = (example for example in load_examples(path) if example.get(MIXED_FROM) is None)
    prompts = tuple(example.prompt for example in own if example.prompt.strip())
    return prompts[:limit] if limit else prompts


def training_data_of(adapter: Path) -> Path | None:
    """The chunk file a delta trained on, when it was trained by evoforge (``training.json`` names the chunk)."""
    chunk = trained_chunk(adapter)
    candidate = adapter.parent.parent / "chunks" / f"{chunk}.jsonl"
    return candidate if chunk and candidate.is_file() else None


def describe(name: str, instructions: Sequence[str], given: str | None = None) -> str:
    """``given``, or a description from a few of the expert's training instructions."""
    if given:
        return given
    if not instructions:
        return f"the {name} model"
    examples = "; ".join(text.replace("\n", " ")[:80] for text in instructions[:3])
    return f"trained on tasks like: {examples}"


def flag_experts(
    adapters: dict[str, str], data: dict[str, str], descriptions: dict[str, str], max_samples: int
) -> list[Expert]:
    """Experts from ``--expert NAME=ADAPTER``, ``--expert-data NAME=FILE`` and ``--describe NAME=TEXT``."""
    for flag, names in (("--expert-data", data), ("--describe", descriptions)):
        unknown = sorted(set(names) - set(adapters))
        if unknown:
            raise ConfigError(f"{flag} names {unknown}, which no --expert defines")
    experts = []
    for name, path in adapters.items():
        adapter = Path(path).expanduser()
        source = Path(data[name]).expanduser() if name in data else training_data_of(adapter)
        instructions = read_instructions(source, max_samples) if source else ()
        experts.append(Expert(name, adapter, describe(name, instructions, descriptions.get(name)), instructions))
    return experts


def latest_round(run_path: Path) -> int:
    """The highest round of a cycle run whose merge search has finished."""
    done = [
        int(p.parent.parent.name) for p in run_path.glob("rounds/*/merge/job.json") if p.parent.parent.name.isdigit()
    ]
    if not done:
        model = run_path / "model"  # evoforge train --method full
        full = f"; it is a full fine-tune: serve it with --base {model}" if (model / "config.json").is_file() else ""
        raise ConfigError(
            f"run {run_path.name} has no round with a finished merge search (rounds/<n>/merge/job.json){full}"
        )
    return max(done)


def run_experts(run_path: Path, round_n: int | None, max_samples: int) -> tuple[Path, list[Expert]]:
    """The base model and the experts of round ``round_n`` (None = the latest) of the cycle run at ``run_path``."""
    from evoforge.merging.merge_run import saved_job

    n = latest_round(run_path) if round_n is None else round_n
    root = run_path / "rounds" / str(n)
    job_file = root / "merge" / "job.json"
    if not job_file.is_file():
        raise ConfigError(f"run {run_path.name} has no finished merge search in round {n} ({job_file})")
    job = saved_job(root)
    experts = []
    for name, adapter in job.adapters.items():
        source = training_data_of(Path(adapter))  # the preferences delta learned pairs of every category: no route
        routable = source is not None and source.stem != PREFERENCES_CHUNK
        instructions = read_instructions(source, max_samples) if source and routable else ()
        experts.append(Expert(name, Path(adapter), describe(name, instructions), instructions))
    if job.train_all is not None:
        experts.append(Expert(TRAIN_ALL, job.train_all, "trained on every chunk of the round"))
    results = root / "merge" / "results.json"
    best = json.loads(results.read_text(encoding="utf-8")).get("best_adapter") if results.is_file() else None
    if best and (Path(best) / "adapter_config.json").is_file():
        experts.append(Expert(AUTO_MERGE, Path(best), "the round's best merge of its deltas"))
    return job.base, experts
