"""Seed 001's ``--evol-llm-config`` / ``--optim-llm-config``: the model of the evolving role (the evolver) and of the
optimising roles (the analyzer and the optimizer), given on the command line.

The value is a YAML file holding one model entry, the fields of an ``llm.models`` entry (``model``, ``api_base``,
``api_key_env``, ``timeout``, ``params``, ...) and, beside them, the roles' sampling (``temperature``, ``top_p``,
``max_tokens``); or the seed's own string of ``key=value`` pairs (``"temperature=0 top_p=0 max_tokens=4096
timeout=120 max_retries=2"``, its defaults), which keeps the roles' model and sets their sampling, the model's
``timeout`` and the gateway's retries (``llm.num_retries``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from evoforge.errors import ConfigError
from evoforge.settings.llm import LLMSettings, ModelEntry
from evoforge.settings.loading import Config, format_validation_error, read_config_text

ROLES = {"evol": ("evolver",), "optim": ("analyzer", "optimizer")}
"""The roles each flag sets, by the flag's prefix."""
SAMPLING = ("temperature", "top_p", "max_tokens")
PAIR_KEYS = (*SAMPLING, "timeout", "max_retries")


def _pairs(value: str, flag: str) -> dict[str, Any]:
    """The seed's ``key=value ...`` string as a dict (values parsed as YAML scalars)."""
    pairs: dict[str, Any] = {}
    for item in value.split():
        key, sep, raw = item.partition("=")
        if not sep or key not in PAIR_KEYS:
            raise ConfigError(
                f"{flag} {value!r}: {item!r} is not one of {', '.join(k + '=VALUE' for k in PAIR_KEYS)} (the seed's "
                "keys), and no file of that name exists (a YAML file with one llm.models entry)"
            )
        pairs[key] = yaml.safe_load(raw)
    return pairs


def _file(path: Path, flag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model entry, sampling) of a model entry file, each field checked."""
    text = read_config_text(path, flag)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{flag} {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{flag} {path}: expected one llm.models entry (a mapping with 'model'), got {data!r}")
    sampling = {key: data.pop(key) for key in SAMPLING if key in data}
    try:
        entry = ModelEntry.model_validate(data).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, f"{flag} {path}", text)) from None
    return entry, sampling


def with_role_models(cfg: Config, values: dict[str, str]) -> Config:
    """``cfg`` with the roles of each given flag (``{"evol": VALUE, "optim": VALUE}``) on its model and sampling.

    A file's entry joins ``llm.models`` as ``<prefix>_llm_config`` and its roles name it.

    Raises:
        ConfigError: a file that is not YAML, not one model entry, or with a bad field (named with its line); a
            string that is neither an existing file nor the seed's ``key=value`` pairs; sampling out of range.
    """
    llm = cfg.llm.model_dump(mode="json")
    for prefix, value in values.items():
        flag = f"--{prefix}-llm-config"
        path = Path(value).expanduser()
        current = llm["roles"].get(ROLES[prefix][0], {}).get("model", "sim")
        entry: dict[str, Any] | None
        if path.is_file():
            entry, sampling = _file(path, flag)
        else:
            sampling = _pairs(value, flag)
            if "max_retries" in sampling:
                llm["num_retries"] = sampling.pop("max_retries")
            timeout = sampling.pop("timeout", None)
            entry = None if timeout is None else {**llm["models"].get(current, {}), "timeout": timeout}
        name = current if entry is None else f"{prefix}_llm_config"
        if entry is not None:
            llm["models"][name] = entry
        for role in ROLES[prefix]:
            llm["roles"][role] = {**llm["roles"].get(role, {}), "model": name, **sampling}
    try:
        return cfg.model_copy(update={"llm": LLMSettings.model_validate(llm)})
    except ValidationError as exc:
        given = ", ".join(f"--{prefix}-llm-config {value!r}" for prefix, value in values.items())
        raise ConfigError(format_validation_error(exc, f"llm ({given})")) from None
