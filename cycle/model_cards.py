"""Model cards (the Hugging Face Hub's ``README.md``) for what a round writes: each delta's adapter (replacing
PEFT's empty template, which names this machine's path as ``base_model``) and the promoted student, the round's
best merge folded into a full model.

The front matter comes from ``huggingface_hub.ModelCardData`` with a ``model-index`` of ``EvalResult`` (the model's
test and held-out scores); ``base_model`` is the student as the user named it (:func:`base_model_name`), never a
path of this machine; the body carries AutoLLM's table, the merge weights, each delta's chunk and method, the
training settings, and the run id with the (redacted) config that reproduces it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from evoforge.cycle.round_record import RoundRecord
from evoforge.data.dataset_cards import CARD_FILE, machine_free
from evoforge.report import markdown_table
from evoforge.settings import Config
from evoforge.training.student import student_names
from evoforge.training.trainer import TRAINING_FILE

HUB_NAMES = {"tiny": "evoforge/tiny-student"}  # the built-in models as cards name them; others: evoforge/<name>


def base_model_name(student: str) -> str:
    """``student`` as a card names it: a built-in name becomes ``evoforge/tiny-student`` (``tiny``) or
    ``evoforge/<name>``, a hub id or relative name stays as the user wrote it, and an absolute local path keeps only
    its folder's name."""
    if student in student_names():
        return HUB_NAMES.get(student, f"evoforge/{student}")
    return local_name(student)


def local_name(name: str) -> str:
    """A model's or dataset's name as the user wrote it, but an absolute local path only as its folder's name."""
    path = Path(name).expanduser()
    return path.name if path.is_absolute() else name


def _eval(metric: str, value: float, dataset: str, split: str) -> Any:
    """One model-index entry: ``metric``'s ``value`` on ``dataset``'s ``split``."""
    from huggingface_hub import EvalResult

    return EvalResult(
        task_type="text-generation",
        dataset_type="json",
        dataset_name=dataset,
        dataset_split=split,
        metric_type=metric,
        metric_name=f"{metric} ({dataset})",
        metric_value=float(value),
    )


def _scores(round_result: Mapping[str, Any], label: str, metric: str, run_id: str) -> list[Any]:
    """The model-index entries of table row ``label``: its test and held-out scores."""
    n = round_result.get("round", "?")
    splits = (("test", "test", "fixed test set"), ("rows", "validation", "held-out split"))
    return [
        _eval(metric, round_result[key][label], f"{run_id} round {n} {name}", split)
        for key, split, name in splits
        if label in (round_result.get(key) or {})
    ]


def _results_section(round_result: Mapping[str, Any], label: str | None) -> str:
    """AutoLLM's table (held-out and test score of every row), this model's row in bold."""
    rows_, test = round_result.get("rows") or {}, round_result.get("test") or {}
    names = list(dict.fromkeys([*rows_, *test]))
    rows = [[f"**{n}**" if n == label else n, rows_.get(n, "–"), test.get(n, "–")] for n in names]
    return markdown_table(["model", "held-out", "test"], rows) if rows else ""


def _weights_section(round_result: Mapping[str, Any]) -> str:
    """Each merge's weight per delta (mean over layer groups)."""
    weights = round_result.get("weights") or {}
    rows = [[merge, delta, float(w)] for merge, by_delta in weights.items() for delta, w in by_delta.items()]
    return markdown_table(["merge", "delta", "weight"], rows) if rows else ""


def _settings_section(delta: Mapping[str, Any] | None) -> str:
    """A delta's chunk, method and training settings (its ``training.json``, without paths)."""
    if not delta:
        return ""
    head = f"Chunk `{delta.get('chunk')}`, method {str(delta.get('method', '')).upper()}."
    settings = delta.get("config") or {}
    rows = [[key, f"`{value}`"] for key, value in settings.items()]
    return head + ("\n\n" + markdown_table(["setting", "value"], rows) if rows else "")


def write_model_card(
    folder: Path,
    *,
    base_model: str,
    kind: str,
    run_id: str,
    metric: str,
    round_result: Mapping[str, Any] | None = None,
    label: str | None = None,
    delta: Mapping[str, Any] | None = None,
    deltas: Sequence[Mapping[str, Any]] = (),
    datasets: Sequence[str] = (),
    config_yaml: str | None = None,
    summary: str = "",
    scores: Mapping[str, float] | None = None,
    sections: Mapping[str, str] | None = None,
) -> Path:
    """Write ``folder/README.md``, a model card (replacing what is there, such as PEFT's template); returns its path.

    Args:
        folder: the adapter's or model's folder.
        base_model: the model it builds on, as the user named it (:func:`base_model_name`); never an absolute path.
        kind: ``adapter`` (a PEFT LoRA adapter, ``library_name: peft``) or ``model`` (a full model, transformers).
        run_id: the run that made it.
        metric: the eval metric of the scores.
        round_result: the round's figures (``rows``: held-out table, ``test``, ``weights``, ``round``).
        label: this model's row in the round's table (``train@<delta>``, ``auto_merge``), for the model-index.
        delta: an adapter's ``training.json`` (chunk, method, settings).
        deltas: a merge's deltas' ``training.json``: their chunk and method.
        datasets: the datasets it was trained on (relative names or hub ids).
        config_yaml: the run's resolved config (secrets already redacted), shown so the run can be reproduced.
        summary: the opening paragraph.
        scores: further test-set figures for the model-index, metric name → value (Self-Evolution's closed-book
            BLEU/ROUGE/exact match), on ``run_id``'s eval set.
        sections: further ``heading → Markdown`` sections of the body, after the training settings.
    """
    from huggingface_hub import ModelCard, ModelCardData

    result = round_result or {}
    evals = _scores(result, label, metric, run_id) if label else []
    evals += [_eval(name, value, f"{run_id} eval set", "test") for name, value in (scores or {}).items()]
    data = ModelCardData(
        base_model=base_model,
        library_name="peft" if kind == "adapter" else "transformers",
        pipeline_tag="text-generation",
        tags=["evoforge", "autollm", *(["lora"] if kind == "adapter" else ["merge"])],
        datasets=list(datasets) or None,
        model_name=f"{run_id}/{folder.name}" if evals else None,
        eval_results=evals or None,
    )
    made_of = [[d.get("name"), f"`{d.get('chunk')}`", str(d.get("method", "")).upper()] for d in deltas]
    sections = {
        "Results (AutoLLM's table, this round)": _results_section(result, label),
        "Merge weights": _weights_section(result) if kind == "model" else "",
        "Deltas merged": markdown_table(["delta", "chunk", "method"], made_of) if made_of else "",
        "Training": _settings_section(delta),
        **(sections or {}),
        "Reproduce": f"Run `{run_id}`"
        + (
            f" with this config (`evoforge run --config config.yaml`):\n\n```yaml\n{config_yaml}```"
            if config_yaml
            else "."
        ),
    }
    body = [f"# {run_id}: {folder.name}", summary]
    body += [f"## {heading}\n\n{text}" for heading, text in sections.items() if text]
    text = machine_free("\n\n".join(body))
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{text}\n")
    path = folder / CARD_FILE
    card.save(path)
    return path


def _training(folder: Path) -> dict[str, Any]:
    """An adapter's ``training.json`` (empty when missing)."""
    path = folder / TRAINING_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run_config_yaml(run_path: Path) -> str:
    """The run's ``config.yaml`` (secrets redacted when it was written) with no path of this machine."""
    return machine_free((run_path / "config.yaml").read_text(encoding="utf-8"), run_path)


def write_trained_cards(config: Config, run_path: Path, folders: Sequence[Path], data: str) -> list[Path]:
    """Cards of the adapters (or full model) ``evoforge train`` wrote, trained on ``data`` (its path or hub id)."""
    base, yaml_text = base_model_name(config.student.model), run_config_yaml(run_path)
    cards = []
    for folder in folders:
        delta = _training(folder)
        kind = "adapter" if (folder / "adapter_config.json").is_file() else "model"
        what = f"{str(delta.get('method', '')).upper()} on chunk `{delta.get('chunk')}`" if delta else "fine-tuned"
        cards.append(
            write_model_card(
                folder,
                base_model=base,
                kind=kind,
                run_id=run_path.name,
                metric=config.eval.metric,
                delta=delta or None,
                datasets=[local_name(data)],
                config_yaml=yaml_text,
                summary=f"`{base}` trained by `evoforge train` ({what}).",
            )
        )
    return cards


def _kept_note(result: Mapping[str, Any]) -> str:
    """What the round published, when it weighed one merged student against its experts + router on the test set."""
    promotion = result.get("promotion") or {}
    if promotion.get("kept") == "routed_experts":
        return (
            f" The round published its experts + router instead (routed_experts {promotion['routed']:.3f} vs "
            f"auto_merge {promotion['merged']:.3f} on the test set); a router of experts is no model to train on."
        )
    if promotion.get("kept") == "auto_merge":
        scores = f"{promotion['merged']:.3f} vs {promotion['routed']:.3f}"
        return f" It beat the round's experts + router on the test set ({scores}), and is what the round published."
    return ""


def write_round_cards(config: Config, run_path: Path, record: RoundRecord, result: Mapping[str, Any]) -> list[Path]:
    """Cards for every adapter of a closed round and, when promoted, its student (``rounds/<n>/student``)."""
    base = base_model_name(record.student)
    card = partial(
        write_model_card,
        base_model=base,
        run_id=run_path.name,
        metric=config.eval.metric,
        round_result=result,
        datasets=[record.round_dir],
        config_yaml=run_config_yaml(run_path),
    )
    adapters = dict(record.deltas)
    if record.train_all:
        adapters["all"] = record.train_all
    cards = []
    for name, relative in adapters.items():
        folder, label = run_path / relative, "train@all" if name == "all" else f"train@{name}"
        delta = _training(folder)
        summary = (
            f"A LoRA adapter (PEFT) of `{base}`: the delta `{folder.name}` that round {result.get('round')} of "
            f"evoforge's cycle trained ({str(delta.get('method', '')).upper()} on chunk `{delta.get('chunk')}`)."
        )
        cards.append(card(folder, kind="adapter", label=label, delta=delta, summary=summary))
    student = run_path / record.round_dir / "student"
    if result.get("promoted") and (student / "config.json").is_file():
        deltas = [_training(run_path / path) for path in record.deltas.values()]
        summary = (
            f"Round {result.get('round')}'s best merge (`auto_merge`, the deltas' LoRA weights merged by the weights "
            f"below) folded into `{base}`: the student the next round trains.{_kept_note(result)}"
        )
        cards.append(card(student, kind="model", label="auto_merge", deltas=deltas, summary=summary))
    return cards
