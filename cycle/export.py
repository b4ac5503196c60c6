"""A cycle run's round as folders to publish: the student, the round's experts, and its data.

:func:`export_round` lays out ``DIR/`` so that each folder goes to the Hub as it is (``huggingface-cli upload`` or
``HfApi.upload_folder``)::

    DIR/student/            the round's best merge (auto_merge): a full model, base + merge folded in
                            (``AutoModelForCausalLM.from_pretrained``), or its PEFT adapter on the round's base
    DIR/experts/<delta>/    each delta of the round (``<chunk>-<method>``, and train@all's) as its PEFT adapter
    DIR/lmoe/               when the round published its experts + router (``routed_experts`` beat ``auto_merge``
                            on the test set): an airoboros LMoE package of its category deltas, ``adapters/<delta>/``
                            and ``routing_data/expert_<delta>.jsonl`` (``evoforge serve lmoe --base BASE --lmoe``)
    DIR/dataset/            the round's records (``evolved.jsonl``, or the instruct graph's ``instructions.jsonl``)
                            and their dataset card: ``datasets.load_dataset("DIR/dataset")`` reads it
    DIR/export.json         what was exported from which run and round, and each folder's Hub repository

A round is finished once the cycle recorded it (``round_finished`` in the run's events): its merge search, test
scores and feedback are done. The round's deltas and base come from its ``merge/job.json`` (what ``evoforge serve
lmoe --run`` reads), its best merge from ``merge/results.json``. :func:`hub_uploads` names a Hub repository per
folder (``OWNER/NAME``, ``OWNER/NAME-<delta>``, ``OWNER/NAME-data`` as a dataset repository) and :func:`push`
creates and uploads them through the ``HfApi`` it is given.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.cycle.model_cards import base_model_name, write_model_card
from evoforge.cycle.routed import ROUTED, expert_chunks
from evoforge.data.chunking import MIXED_FROM
from evoforge.data.dataset_cards import machine_free
from evoforge.data.formats import load_examples
from evoforge.errors import ConfigError, EvoforgeError, RunDirError
from evoforge.merging.job import MergeJob
from evoforge.merging.lora import load_delta
from evoforge.merging.merge_run import saved_job
from evoforge.merging.saving import save_full_model
from evoforge.merging.trial import MergeSpec
from evoforge.runs import RunDir, atomic_write_json, atomic_write_jsonl
from evoforge.training.trainer import TRAINING_FILE

if TYPE_CHECKING:
    from huggingface_hub import HfApi

CYCLE_COMMAND = "cycle"
DATA_FILES = ("evolved.jsonl", "instructions.jsonl")  # an evolve round's records, an instruct round's
CARD = "README.md"  # the Hub's card: the round's dataset card, an adapter's or the promoted student's model card
BASE_KEYS = (("adapter_config.json", "base_model_name_or_path"), (TRAINING_FILE, "base"))  # an adapter's base
SUMMARY = "export.json"
STUDENT, EXPERTS, DATASET, LMOE = "student", "experts", "dataset", "lmoe"


@dataclass(frozen=True)
class Folder:
    """One exported folder: where it is (relative to the export), its Hub repo type and repo-name suffix."""

    path: str
    repo_type: str
    suffix: str
    what: str


def finished_rounds(run: RunDir) -> dict[int, dict[str, Any]]:
    """The rounds of the cycle run ``run`` that the cycle recorded as finished, in order: round → its
    ``round_finished`` event (test scores, promoted).

    Raises:
        RunDirError: ``run`` is not a cycle run (``evoforge run``).
    """
    command = run.manifest().get("command")
    if command != CYCLE_COMMAND:
        raise RunDirError(
            f"run {run.run_id} is an '{command}' run, not a cycle run (`evoforge run`): nothing to export"
        )
    events = run.path / "events.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines() if events.is_file() else []
    finished = (e for e in map(json.loads, lines) if e.get("event") == "round_finished")
    return {int(e["round"]): e for e in sorted(finished, key=lambda e: int(e["round"]))}


def _round(run: RunDir, round_n: int | None) -> int:
    done = finished_rounds(run)
    if round_n is None and not done:
        raise RunDirError(f"run {run.run_id} has no finished round yet (see `evoforge runs show {run.run_id}`)")
    if round_n is not None and round_n not in done:
        rounds = ", ".join(map(str, done)) or "none"
        raise RunDirError(f"round {round_n} of run {run.run_id} did not finish (finished rounds: {rounds})")
    return round_n if round_n is not None else max(done)


def _empty_output(out: Path, force: bool) -> None:
    """``out`` is new or empty; with ``force``, an earlier export there (a folder with ``export.json``) is removed."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"--output {out} is not empty; choose another folder or pass --force to replace it")
        if not (out / SUMMARY).is_file():
            raise ConfigError(
                f"--output {out} holds files but no earlier export ({SUMMARY}); --force replaces only that"
            )
        shutil.rmtree(out)


def _best_merge(root: Path) -> tuple[MergeSpec, Path | None]:
    """The round's best merge and its adapter folder (None: the merge is not a linear sum of LoRA deltas)."""
    results = json.loads((root / "merge" / "results.json").read_text(encoding="utf-8"))
    adapter = results.get("best_adapter")
    return MergeSpec(**results["best"]["merge"]), Path(adapter) if adapter else None


def _student(run: RunDir, root: Path, job: MergeJob, out: Path, merged: bool) -> str:
    """Write the round's best merge at ``out``: a full model (the promoted student when the round promoted it)
    or its adapter; returns what it wrote."""
    spec, adapter = _best_merge(root)
    if not merged:
        if adapter is None or not (adapter / "adapter_config.json").is_file():
            raise ConfigError(f"the best merge of {root.name} ({spec.method}) is no LoRA adapter; export it --merged")
        shutil.copytree(adapter, out)
        return "the best merge (auto_merge) as a PEFT adapter on the round's base"
    if (root / STUDENT / "config.json").is_file():
        shutil.copytree(root / STUDENT, out)
        return "the promoted student: base + best merge (full model)"
    groups = run.config().merge.per_layer_groups
    deltas = [load_delta(path, None, name) for name, path in job.adapters.items() if name in spec.weights]
    save_full_model(job.base, deltas, spec, out, groups, run.config().run.seed)
    return "base + best merge (full model; the round kept its student)"


def _base_name(run: RunDir, job: MergeJob) -> str:
    """The round's base as cards name it: the configured student, or the earlier round's student inside the run."""
    inside = job.base.is_relative_to(run.path)
    return base_model_name(str(job.base.relative_to(run.path)) if inside else run.config().student.model)


def _name_base(adapter: Path, base: str) -> None:
    """Write ``base`` (a machine-free name) where the adapter's files name the local path it was trained from
    (PEFT loads an adapter onto whatever base model it is given)."""
    for file, key in BASE_KEYS:
        path = adapter / file
        if path.is_file():
            atomic_write_json(path, {**json.loads(path.read_text(encoding="utf-8")), key: base})


def _student_card(run: RunDir, finished: dict[str, Any], job: MergeJob, folder: Path, base: str) -> None:
    """The exported student's model card, when the run wrote none for it (the round did not promote it, or the
    student is the best merge's adapter): the round's table and merge weights, as the cycle cards its students."""
    root = run.path / "rounds" / str(finished["round"])
    results = json.loads((root / "merge" / "results.json").read_text(encoding="utf-8"))
    weights = {m: {d: sum(w) / len(w) for d, w in merge["weights"].items()} for m, merge in results["merges"].items()}
    result = {"round": finished["round"], "rows": results["table"], "test": finished.get("test"), "weights": weights}
    best = results["best"]["merge"]["weights"]
    chosen = [path for name, path in job.adapters.items() if any(best.get(name) or ())]
    kind = "adapter" if (folder / "adapter_config.json").is_file() else "model"
    write_model_card(
        folder,
        base_model=base,
        kind=kind,
        run_id=run.run_id,
        metric=results["metric"],
        round_result=result,
        label="auto_merge",
        deltas=[json.loads((path / TRAINING_FILE).read_text(encoding="utf-8")) for path in chosen],
        datasets=[f"rounds/{finished['round']}"],
        config_yaml=machine_free((run.path / "config.yaml").read_text(encoding="utf-8"), run.path),
        summary=f"Round {finished['round']}'s best merge (`auto_merge`) of run `{run.run_id}`"
        + (" as one PEFT adapter on" if kind == "adapter" else " folded into")
        + f" `{base}`.",
    )


def _lmoe_package(root: Path, job: MergeJob, out: Path, base: str) -> int:
    """The round's category deltas (:func:`~evoforge.cycle.routed.expert_chunks`) as an airoboros LMoE package at
    ``out``: each adapter, and as its routing data its chunk's own instructions; returns the number of experts."""
    experts = expert_chunks(job)
    for name, chunk in experts.items():
        shutil.copytree(job.adapters[name], out / "adapters" / name)
        _name_base(out / "adapters" / name, base)
        own = [e for e in load_examples(root / "chunks" / f"{chunk}.jsonl") if e.get(MIXED_FROM) is None]
        atomic_write_jsonl(out / "routing_data" / f"expert_{name}.jsonl", [{"instruction": e.prompt} for e in own])
    return len(experts)


def _dataset(root: Path, out: Path) -> int:
    """Copy the round's records (and their dataset card, which names the file for ``load_dataset``) to ``out``;
    returns their number."""
    source = next((root / name for name in DATA_FILES if (root / name).is_file()), None)
    if source is None:
        raise RunDirError(f"{root} holds none of {', '.join(DATA_FILES)}")
    out.mkdir(parents=True)
    shutil.copyfile(source, out / source.name)
    if (root / CARD).is_file():
        shutil.copyfile(root / CARD, out / CARD)
        for name in _card_files(root / CARD):  # an instruct round's card names its alpaca and ShareGPT files too
            if name != source.name and (root / name).is_file():
                shutil.copyfile(root / name, out / name)
    return sum(1 for line in source.read_text(encoding="utf-8").splitlines() if line.strip())


def _card_files(card: Path) -> list[str]:
    """The data files the ``configs:`` of a dataset card name (relative to its folder)."""
    from huggingface_hub import DatasetCard

    configs = DatasetCard.load(card).data.to_dict().get("configs") or []
    return [str(f["path"]) for config in configs for f in config.get("data_files") or [] if isinstance(f, dict)]


def export_round(
    run: RunDir, out: Path, round_n: int | None = None, merged: bool = True, force: bool = False
) -> dict[str, Any]:
    """Lay out round ``round_n`` (None: the last finished) of the cycle run ``run`` under ``out``; returns the
    summary also written to ``out/export.json`` (round, folders, what each holds).

    Raises:
        RunDirError: not a cycle run, or the round did not finish.
        ConfigError: ``out`` is not empty (and not ``force``), or ``--adapter`` of a merge that is no adapter.
    """
    n = _round(run, round_n)
    _empty_output(out, force)
    finished = finished_rounds(run)[n]
    root = run.path / "rounds" / str(n)
    job = saved_job(root)
    base = _base_name(run, job)
    folders = [Folder(STUDENT, "model", "", _student(run, root, job, out / STUDENT, merged))]
    if not (out / STUDENT / CARD).is_file():
        _student_card(run, finished, job, out / STUDENT, base)
    _name_base(out / STUDENT, base)
    experts = dict(job.adapters)
    if job.train_all is not None:
        experts[job.train_all.name] = job.train_all
    for name, path in experts.items():
        shutil.copytree(path, out / EXPERTS / name)
        _name_base(out / EXPERTS / name, base)
        folders.append(Folder(f"{EXPERTS}/{name}", "model", f"-{name}", f"expert {name} (PEFT adapter)"))
    kept = (finished.get("promotion") or {}).get("kept")
    if kept == ROUTED:
        count = _lmoe_package(root, job, out / LMOE, base)
        folders.append(Folder(LMOE, "model", "-lmoe", f"the round's published {count} experts + router (LMoE)"))
    rows = _dataset(root, out / DATASET)
    folders.append(Folder(DATASET, "dataset", "-data", f"{rows} records of round {n}"))
    summary = {"run_id": run.run_id, "round": n, "kept": kept, "folders": [f.__dict__ for f in folders]}
    atomic_write_json(out / SUMMARY, summary)
    return summary


def check_repo(repo: str) -> str:
    """``repo`` when it is ``OWNER/NAME``.

    Raises:
        ConfigError: it is not.
    """
    owner, sep, name = repo.partition("/")
    if not (sep and owner and name) or "/" in name:
        raise ConfigError(f"--push-to-hub expects OWNER/NAME, got '{repo}'")
    return repo


def hub_uploads(summary: dict[str, Any], out: Path, repo: str) -> list[dict[str, str]]:
    """Each exported folder's upload: ``repo_id`` (``repo`` + the folder's suffix), ``repo_type``, ``folder_path``.

    Raises:
        ConfigError: ``repo`` is not ``OWNER/NAME``.
    """
    check_repo(repo)
    return [
        {"repo_id": f"{repo}{f['suffix']}", "repo_type": f["repo_type"], "folder_path": str(out / f["path"])}
        for f in summary["folders"]
    ]


def push(uploads: list[dict[str, str]], api: HfApi, private: bool = True) -> list[str]:
    """Create each upload's repository (kept when it exists) and upload its folder; returns the repo ids.

    Raises:
        EvoforgeError: the Hub refused or could not be reached (the repository and the reason named).
    """
    from httpx import HTTPError  # the Hub's own errors (HfHubHTTPError) derive from it

    done = []
    for upload in uploads:
        repo_id, repo_type = upload["repo_id"], upload["repo_type"]
        try:
            api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
            api.upload_folder(repo_id=repo_id, repo_type=repo_type, folder_path=upload["folder_path"])
        except (HTTPError, OSError) as exc:
            raise EvoforgeError(
                f"pushing {upload['folder_path']} to {repo_type} repo {repo_id} at {api.endpoint} failed: {exc}"
            ) from exc
        done.append(repo_id)
    return done
