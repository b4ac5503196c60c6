"""Configuration: YAML files validated by pydantic, with documented defaults.

Every section is a pydantic model with ``extra="forbid"`` so that a typo is an error, not a silent default.
Secrets never live here: a model entry names the *environment variable* that holds its key
(``api_key_env``), and :func:`redact` scrubs secret values from anything written to disk.

Import everything from here (``from evoforge.config import Config, load_config, TrainSettings``). The section
models live in :mod:`evoforge.config.sections`, :mod:`evoforge.config.llm`, :mod:`evoforge.config.cycle`,
:mod:`evoforge.config.instruct` and :mod:`evoforge.config.self_evolve`; loading, overrides and error
locations, and the shipped configs (``configs/*.yaml``, found by name) in :mod:`evoforge.config.loading`.
"""

from evoforge.config.cycle import CycleSettings
from evoforge.config.evaluation import EvalSettings
from evoforge.config.instruct import InstructorSettings, InstructSettings
from evoforge.config.llm import LLMSettings, ModelEntry, RoleSettings
from evoforge.config.loading import (
    SHIPPED_CONFIGS,
    Config,
    format_validation_error,
    load_config,
    locate_config,
    redact,
    secret_values,
    shipped_configs,
)
from evoforge.config.sections import (
    EvolveSettings,
    MergeSettings,
    RunSettings,
    Section,
    StudentSettings,
    TrainSettings,
    WorldSettings,
)
from evoforge.config.self_evolve import SelfEvolveSettings

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
