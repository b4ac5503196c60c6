"""Configuration: YAML files validated by pydantic, with documented defaults.

Every section is a pydantic model with ``extra="forbid"`` so that a typo is an error, not a silent default.
Secrets never live here: a model entry names the *environment variable* that holds its key
(``api_key_env``), and :func:`redact` scrubs secret values from anything written to disk.

Import everything from here (``from evoforge.settings import Config, load_config, TrainSettings``). The section
models live in :mod:`evoforge.settings.sections`, :mod:`evoforge.settings.llm`, :mod:`evoforge.settings.cycle`,
:mod:`evoforge.settings.instruct` and :mod:`evoforge.settings.self_evolve`; loading, overrides and error
locations, and the shipped configs (``configs/*.yaml``, found by name) in :mod:`evoforge.settings.loading`.
"""

from evoforge.settings.cycle import CycleSettings
from evoforge.settings.evaluation import EvalSettings
from evoforge.settings.instruct import InstructorSettings, InstructSettings
from evoforge.settings.llm import LLMSettings, ModelEntry, RoleSettings
from evoforge.settings.loading import (
    SHIPPED_CONFIGS,
    Config,
    format_validation_error,
    load_config,
    locate_config,
    redact,
    secret_values,
    shipped_configs,
)
from evoforge.settings.sections import (
    EvolveSettings,
    MergeSettings,
    RunSettings,
    Section,
    StudentSettings,
    TrainSettings,
    WorldSettings,
)
from evoforge.settings.self_evolve import SelfEvolveSettings

__all__ = [
    "SHIPPED_CONFIGS",
    "Config",
    "CycleSettings",
    "EvalSettings",
    "EvolveSettings",
    "InstructSettings",
    "InstructorSettings",
    "LLMSettings",
    "MergeSettings",
    "ModelEntry",
    "RoleSettings",
    "RunSettings",
    "Section",
    "SelfEvolveSettings",
    "StudentSettings",
    "TrainSettings",
    "WorldSettings",
    "format_validation_error",
    "load_config",
    "locate_config",
    "redact",
    "secret_values",
    "shipped_configs",
]
