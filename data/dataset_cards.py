"""Dataset cards (the Hugging Face Hub's ``README.md``) for the datasets a run writes, and the machine-free text
every card shares.

A card's front matter comes from ``huggingface_hub.DatasetCardData`` (never hand-written YAML); its ``configs:``
name the folder's data files, so ``datasets.load_dataset(<folder>)`` reads the folder as it is. Nothing in a card
names this machine: :func:`machine_free` turns the run directory, the working directory and the home directory
into relative names and any other absolute directory into ``<local>/``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evoforge.report import markdown_table
from evoforge.settings import Config

CARD_FILE = "README.md"
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
_ABSOLUTE = re.compile(r"(?<![\w.:/~<>-])/(?:[^\s/'\"`|]+/)*")


def machine_free(text: str, run_path: Path | None = None) -> str:
    """``text`` with no absolute path of this machine: the run directory becomes ``.``, its parent ``<runs_dir>``,
    the working directory ``.``, the home directory ``~``, and any other absolute directory ``<local>/``."""
    roots: list[tuple[Path, str]] = [(Path.cwd(), "."), (Path.home(), "~")]
    if run_path is not None:
        run = run_path.resolve()
        roots += [(run, "."), (run.parent, "<runs_dir>")]
    for root, name in sorted(roots, key=lambda item: len(str(item[0])), reverse=True):
        if str(root) != "/":
            text = re.sub(re.escape(str(root)) + r"(?![\w.-])", name, text)
    return _ABSOLUTE.sub("<local>/", text)


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` value of ``n`` rows."""
    return next((label for limit, label in _SIZES if n < limit), "n>1M")


def usage_by_role(config: Config, usage: Mapping[str, Any]) -> list[list[Any]]:
    """Rows ``role, model, calls, tokens in, tokens out, cost`` of the run's LLM usage (``manifest['llm_usage']`` or
    the gateway's ``usage()``): the models that wrote the data and what they cost."""
    rows = []
    for role, figures in sorted((usage.get("roles") or {}).items()):
        settings = config.llm.roles.get(role)
        entry = config.llm.models.get(settings.model) if settings else None
        model = entry.model if entry else role
        figures_row = [figures.get(k, 0) for k in ("calls", "tokens_in", "tokens_out")]
        rows.append([role, f"`{model}`", *figures_row, f"${float(figures.get('cost_usd', 0.0)):.4f}"])
    return rows


def usage_section(config: Config, usage: Mapping[str, Any]) -> str:
    """The card's table of the models that wrote the data and their cost (empty text when no LLM was called)."""
    rows = usage_by_role(config, usage)
    header = ["role", "model", "calls", "tokens in", "tokens out", "cost (USD)"]
    return markdown_table(header, rows) if rows else ""


def write_dataset_card(
    folder: Path,
    *,
    title: str,
    data_files: Mapping[str, str],
    n_rows: int,
    fields: Sequence[str],
    summary: str,
    sections: Mapping[str, str] | None = None,
    run_id: str,
    tags: Sequence[str] = (),
) -> Path:
    """Write ``folder/README.md``, a dataset card; returns its path.

    Args:
        folder: the dataset's folder (the card's ``data_files`` are relative to it).
        title: the card's heading.
        data_files: config name → data file (relative to ``folder``); the first is the default configuration.
        n_rows: rows in the default configuration's file.
        fields: the rows' fields.
        summary: the opening paragraph (sources, how the data was made).
        sections: further ``heading → Markdown`` sections (method and λ history, filters, models and cost, …).
        run_id: the run that wrote the data.
        tags: Hub tags beside ``evoforge`` and ``synthetic``.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    configs = [
        {"config_name": name if i else "default", "data_files": [{"split": "train", "path": path}]}
        for i, (name, path) in enumerate(data_files.items())
    ]
    data = DatasetCardData(
        pretty_name=title,
        size_categories=[size_category(n_rows)],
        task_categories=["text-generation"],
        annotations_creators=["machine-generated"],
        language_creators=["machine-generated"],
        tags=["evoforge", "synthetic", *tags],
        configs=configs,
    )
    body = [f"# {title}", summary, f"{n_rows} rows; fields: {', '.join(f'`{f}`' for f in fields)}."]
    body += [f"## {heading}\n\n{text}" for heading, text in (sections or {}).items() if text]
    body.append(
        "## Loading\n\n```python\nfrom datasets import load_dataset\n\n"
        f'rows = load_dataset("<this folder or repo>")\n```\n\nWritten by evoforge run `{run_id}`.'
    )
    text = machine_free("\n\n".join(body))
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{text}\n")
    path = folder / CARD_FILE
    card.save(path)
    return path
