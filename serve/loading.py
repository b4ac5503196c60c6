"""Where the served models come from: a cycle run (``--run RUN_ID [--round N]``) or a base model with named
adapters (``--base DIR --expert NAME=ADAPTER …``), and the LLM gateway the agent router asks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from evoforge.errors import ConfigError
from evoforge.serve.experts import Expert, flag_experts, run_experts

if TYPE_CHECKING:
    from evoforge.config import LLMSettings
    from evoforge.llm.gateway import LLMGateway


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
) -> tuple[Path, list[Expert]]:
    """The base model directory and the experts: a run's round, or ``base`` (a directory or ``tiny``) + ``adapters``.

    Raises:
        ConfigError: both or neither of a run and a base are given, or a path is not what it should be.
    """
    from evoforge.offline.student import resolve_student

    if run is not None:
        if base is not None or adapters:
            raise ConfigError("give either --run RUN_ID or --base DIR with --expert NAME=ADAPTER, not both")
        from evoforge.runs import RunDir

        return run_experts(RunDir.open(runs_dir, run).path, round_n, max_samples)
    if base is None:
        raise ConfigError("nothing to serve: give --run RUN_ID, or --base DIR (and --expert NAME=ADAPTER …)")
    if round_n is not None:
        raise ConfigError("--round applies to --run only")
    experts = flag_experts(dict(adapters or {}), dict(data or {}), dict(descriptions or {}), max_samples)
    return resolve_student(base), experts


def looks_like_run(name: str, runs_dir: Path) -> bool:
    """Whether ``name`` is the id of a run in ``runs_dir`` (and not a model directory)."""
    return not (Path(name) / "config.json").is_file() and (runs_dir / name / "manifest.json").is_file()


def router_gateway(settings: LLMSettings, role: str) -> LLMGateway:
    """A gateway whose ``role`` routes: the config's own ``role``, else one on the judge role's model (greedy)."""
    from evoforge.config import RoleSettings
    from evoforge.llm.cache import response_cache_path
    from evoforge.llm.gateway import LLMGateway

    if role not in settings.roles:
        judge = settings.roles.get("judge")
        if judge is None:
            raise ConfigError(f"llm.roles has neither '{role}' nor 'judge' for the agent router")
        settings = settings.model_copy(update={"roles": {**settings.roles, role: RoleSettings(model=judge.model)}})
    return LLMGateway(settings, response_cache_path(settings) if settings.cache else None)
