"""The ``cycle`` section (AutoLLM's outer loop), and a cycle whose rounds take their data from the instruct graph
(``cycle.data_source: instruct``): the instruct section and the LLM roles it needs, copied from
``cycle.instruct_config`` and checked when the configuration loads.

The rounds' instruct graph runs on the cycle's gateway, so every role the instruct section names must be in the
cycle's ``llm.roles``: :func:`adopt_roles` copies the ones the cycle lacks (and the model entries they name) from the
instruct config, and :func:`check_instruct_source` names whatever is still missing, before any round starts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from evoforge.errors import ConfigError
from evoforge.settings.instruct import InstructSettings
from evoforge.settings.llm import LLMSettings
from evoforge.settings.sections import Section


class CycleSettings(Section):
    """The outer loop: rounds of evolve → train → merge → evaluate → feed back."""

    rounds: int = Field(2, ge=1)
    patience: int = Field(1, ge=1, description="Rounds without a better held-out score before stopping.")
    seeds_per_round: int | None = Field(
        None,
        gt=0,
        description="User data: the fresh seeds each round draws from the pool; None = the pool split evenly over "
        "the rounds (at least evolve.train_size + evolve.dev_size).",
    )
    bad_cases: int = Field(
        20, ge=0, description="User data: most held-out bad cases of a round added to the next round's seeds."
    )
    data_source: Literal["evolve", "instruct"] = Field(
        "evolve",
        description="Where a round's data comes from: evolve (Auto Evol-Instruct on the round's seeds) or instruct "
        "(airoboros' generation by the instruct section's instructors: each category becomes a chunk, so each "
        "instructor's records train an expert; the next round's counts follow the weak categories).",
    )
    steering: Literal["weak_categories", "uniform"] = Field(
        "weak_categories",
        description="How the next round's seeds are planned: weak_categories (more seeds, and harder ones, where the "
        "kept student failed on the held-out split) or uniform (every round repeats the first round's even plan: "
        "the baseline bench/claims.py measures the feedback against).",
    )
    instruct_config: str | None = Field(
        None,
        description="data_source instruct: a config file (an airoboros config, or an evoforge config with an "
        "instruct section; a path or a shipped name such as airoboros-example) whose instruct section, under this "
        "config's own instruct keys, makes the rounds' data; the LLM roles it names join llm.roles where this config "
        "lacks them. Read when the configuration loads: the run's snapshot holds the result, and null here. None = "
        "this config's own instruct section.",
    )


def adopt_roles(llm: LLMSettings, source: LLMSettings, settings: InstructSettings, where: str) -> LLMSettings:
    """``llm`` with the roles ``settings`` uses that it lacks, and the models they name, taken from ``source`` (the
    LLM section of the config file ``where``); the cycle's own roles and models win.

    Raises:
        ConfigError: a model entry of the same name differs between the two files.
    """
    data = llm.model_dump()
    for role in dict.fromkeys(settings.generation_roles().values()):
        if role in data["roles"] or role not in source.roles:
            continue
        entry = source.roles[role]
        data["roles"][role] = entry.model_dump()
        for name in (entry.model, *entry.fallbacks):
            theirs = source.models[name].model_dump()
            ours: dict[str, Any] | None = data["models"].get(name)
            if ours is None:
                data["models"][name] = theirs
            elif ours != theirs:
                raise ConfigError(
                    f"cycle.instruct_config {where}: its role '{role}' names the model entry '{name}', which this "
                    f"config defines differently; rename one of them"
                )
    return LLMSettings.model_validate(data)


def check_instruct_source(llm: LLMSettings, settings: InstructSettings, data_path: str | None, where: str) -> None:
    """Refuse a cycle with ``data_source: instruct`` that could not make a round's data (``where``: the instruct
    section's file, for the messages).

    Raises:
        ConfigError: no instructor, a role the gateway does not know, or seed data the rounds would not read.
    """
    if data_path is not None:
        raise ConfigError(
            f"cycle.data_source instruct makes each round's data with the instruct graph and reads no seeds; remove "
            f"evolve.data_path ({data_path}) or set cycle.data_source: evolve"
        )
    if not settings.instructors:
        raise ConfigError(
            f"cycle.data_source instruct: the instruct section of {where} names no instructor; add "
            "instruct.instructors (e.g. general: {count: 40}) or point cycle.instruct_config at a config file "
            "(an airoboros config, or an evoforge config with an instruct section)"
        )
    known = ", ".join(sorted(llm.roles))
    for field, role in settings.generation_roles().items():
        if role not in llm.roles:
            raise ConfigError(
                f"cycle.data_source instruct: instruct.{field} ({where}) names the LLM role '{role}', which is not in "
                f"llm.roles ({known}); add it there"
            )
