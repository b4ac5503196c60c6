"""Where the served models come from: a cycle run (``--run RUN_ID [--round N]``), a base model with named
adapters (``--base DIR --expert NAME=ADAPTER …``) or with an airoboros LMoE package (``--base-model DIR --lmoe
DIR``), and the LLM gateway the agent router asks.

A base is ``tiny``, a local model folder, or a Hugging Face hub id (``org/name``), which is read from the hub cache
or downloaded into it by ``huggingface_hub`` as ``from_pretrained`` would (``HF_HOME``, ``HF_HUB_OFFLINE``, tokens).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from evoforge.errors import ConfigError
from evoforge.serve.experts import Expert, flag_experts, run_experts
from evoforge.serve.package import package_experts

if TYPE_CHECKING:
    from evoforge.llm.gateway import LLMGateway
    from evoforge.settings import LLMSettings

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def resolve_experts(
    *,
    base: str | None = None,
    adapters: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    run: str | None = None,
    round_n: int | None = None,
    runs_dir: Path = Path("runs"),
    max_samples: int = 1000,
    lmoe: str | None = None,
) -> tuple[Path, list[Expert]]:
    """The base model directory and the experts: a run's round, or ``base`` (see :func:`resolve_base`) with
    ``adapters`` and/or the experts of the LMoE package folder ``lmoe``.

    Raises:
        ConfigError: both or neither of a run and a base are given, or a path is not what it should be.
    """
    if run is not None:
        if base is not None or adapters or lmoe:
            raise ConfigError(
                "give either --run RUN_ID or --base DIR with --expert NAME=ADAPTER / --lmoe DIR, not both"
            )
        from evoforge.runs import RunDir

        return run_experts(RunDir.open(runs_dir, run).path, round_n, max_samples)
    if base is None:
        raise ConfigError("nothing to serve: give --run RUN_ID, or --base DIR (and --expert NAME=ADAPTER …)")
    if round_n is not None:
        raise ConfigError("--round applies to --run only")
    experts = package_experts(lmoe) if lmoe else []
    experts += flag_experts(dict(adapters or {}), dict(data or {}), dict(descriptions or {}), max_samples)
    return resolve_base(base), experts


def resolve_base(name: str) -> Path:
    """The model folder of ``name``: ``tiny``, a local Hugging Face model folder, or a hub id (``org/name``) from
    the hub cache, downloaded first when the hub can be reached.

    Raises:
        ConfigError: neither a local model folder nor a hub id that can be fetched (the message names ``name``).
    """
    from evoforge.training.student import resolve_student, student_names

    if name in student_names() or Path(name).expanduser().exists() or not HUB_ID.fullmatch(name):
        return resolve_student(name)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=name))
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"model '{name}' is no local folder and could not be fetched from the Hugging Face hub: {reason}"
        ) from None


def model_name(base: str) -> str:
    """The name requests use for the base model itself: its folder's name (airoboros' ``os.path.basename``), or
    the hub id as given."""
    path = Path(base).expanduser()
    return path.resolve().name if path.exists() or not HUB_ID.fullmatch(base) else base


def looks_like_run(name: str, runs_dir: Path) -> bool:
    """Whether ``name`` is the id of a run in ``runs_dir`` (and not a model directory)."""
    return not (Path(name) / "config.json").is_file() and (runs_dir / name / "manifest.json").is_file()


def router_gateway(settings: LLMSettings, role: str) -> LLMGateway:
    """A gateway whose ``role`` routes: the config's own ``role``, else one on the judge role's model (greedy)."""
    from evoforge.llm.cache import response_cache_path
    from evoforge.llm.gateway import LLMGateway
    from evoforge.settings import RoleSettings

    if role not in settings.roles:
        judge = settings.roles.get("judge")
        if judge is None:
            raise ConfigError(f"llm.roles has neither '{role}' nor 'judge' for the agent router")
        settings = settings.model_copy(update={"roles": {**settings.roles, role: RoleSettings(model=judge.model)}})
    return LLMGateway(settings, response_cache_path(settings) if settings.cache else None)
