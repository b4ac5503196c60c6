"""An LMoE package folder as airoboros publishes it (``--lmoe DIR``, e.g. ``jondurbin/airoboros-lmoe-7b-2.1``).

The layout airoboros' ``lmoe/api.py`` and ``lmoe/router.py`` read::

    DIR/adapters/<expert>/adapter_config.json, adapter_model.{bin,safetensors}, description.txt
    DIR/routing_data/expert_<expert>.jsonl      one {"instruction": ...} per line (the router's index)

airoboros' ``scripts/segment_experts.py`` writes ``routing_data/expert_<expert>.jsonl`` (its router takes the name
after ``expert_``); ``routing_data/<expert>.jsonl`` is read too. ``description.txt`` is what the agent router reads
(a description from the routing instructions when it is missing). Anything else in the folder (README, the
``training_data`` airoboros trained on) is not read. Every expert needs routing data and every routing file an
adapter: a mismatch would route requests to an expert that cannot answer them, so it is refused, naming the path.
"""

from __future__ import annotations

import json
from pathlib import Path

from evoforge.errors import ConfigError, DataError
from evoforge.serve.experts import Expert, describe

ADAPTERS = "adapters"
ROUTING_DATA = "routing_data"
DESCRIPTION = "description.txt"


def routing_files(folder: Path) -> dict[str, Path]:
    """Expert name → its routing file in ``folder`` (``expert_<name>.jsonl`` or ``<name>.jsonl``)."""
    out: dict[str, Path] = {}
    for path in sorted(folder.glob("*.jsonl")):
        name = path.stem.removeprefix("expert_")
        if name in out:
            raise ConfigError(f"{folder}: both {out[name].name} and {path.name} are routing data for '{name}'")
        out[name] = path
    return out


def read_routing_data(path: Path) -> tuple[str, ...]:
    """The ``instruction`` of each line of an airoboros routing file."""
    texts = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                instruction = json.loads(line)["instruction"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError(f"{path}:{number}: expected a JSON object with an 'instruction'") from None
            texts.append(str(instruction))
    return tuple(texts)


def package_experts(package: Path | str) -> list[Expert]:
    """The experts of the LMoE package folder ``package``: adapter, description and routing instructions each.

    Every instruction is kept: the embedding router indexes a seeded sample of ``--router-max-samples`` of them
    (airoboros indexes a random sample of that many).

    Raises:
        ConfigError: the folder has no ``adapters/`` or no ``routing_data/``, an adapter folder is not a PEFT
            adapter, or an expert has no routing data (or routing data no adapter); the message names the path.
    """
    root = Path(package).expanduser()
    adapters_dir, routing_dir = root / ADAPTERS, root / ROUTING_DATA
    if not root.is_dir():
        raise ConfigError(f"--lmoe {root}: no such folder")
    for folder in (adapters_dir, routing_dir):
        if not folder.is_dir():
            raise ConfigError(f"--lmoe {root}: not an LMoE package (no {folder.name}/ folder at {folder})")
    adapters = sorted(p for p in adapters_dir.iterdir() if p.is_dir())
    if not adapters:
        raise ConfigError(f"--lmoe {root}: {adapters_dir} holds no adapter folder")
    routing = routing_files(routing_dir)
    orphans = sorted(set(routing) - {p.name for p in adapters})
    if orphans:
        raise ConfigError(f"--lmoe {root}: routing data without an adapter in {adapters_dir}: {orphans}")
    experts = []
    for adapter in adapters:
        if not (adapter / "adapter_config.json").is_file():
            raise ConfigError(f"--lmoe: {adapter} is not a PEFT adapter folder (no adapter_config.json)")
        if adapter.name not in routing:
            raise ConfigError(
                f"--lmoe: expert '{adapter.name}' has no routing data "
                f"({routing_dir / ('expert_' + adapter.name + '.jsonl')} is missing)"
            )
        instructions = read_routing_data(routing[adapter.name])
        if not instructions:
            raise ConfigError(f"--lmoe: {routing[adapter.name]} holds no instruction for expert '{adapter.name}'")
        text = (adapter / DESCRIPTION).read_text(encoding="utf-8").strip() if (adapter / DESCRIPTION).is_file() else ""
        experts.append(Expert(adapter.name, adapter, describe(adapter.name, instructions, text), instructions))
    return experts
