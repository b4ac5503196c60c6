"""The whole configuration (:class:`Config`) and loading it: a YAML file (or a shipped config by name),
``section.key=value`` overrides, errors that name the file, line and field; and :func:`redact`, which scrubs secret
values from anything written to disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, PrivateAttr, ValidationError

from evoforge.errors import ConfigError
from evoforge.settings.airoboros import airoboros_key, from_airoboros, is_airoboros
from evoforge.settings.cycle import CycleSettings, adopt_roles, check_instruct_source
from evoforge.settings.evaluation import EvalSettings
from evoforge.settings.instruct import InstructSettings
from evoforge.settings.llm import LLMSettings
from evoforge.settings.sections import (
    REMOVED_KEY,
    EvolveSettings,
    MergeSettings,
    RunSettings,
    Section,
    StudentSettings,
    TrainSettings,
    WorldSettings,
)
from evoforge.settings.self_evolve import SelfEvolveSettings


class Config(Section):
    """The whole resolved configuration of a run."""

    run: RunSettings = Field(default_factory=RunSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    world: WorldSettings = Field(default_factory=WorldSettings)
    student: StudentSettings = Field(default_factory=StudentSettings)
    evolve: EvolveSettings = Field(default_factory=EvolveSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    merge: MergeSettings = Field(default_factory=MergeSettings)
    cycle: CycleSettings = Field(default_factory=CycleSettings)
    instruct: InstructSettings = Field(default_factory=InstructSettings)
    self_evolve: SelfEvolveSettings = Field(default_factory=SelfEvolveSettings)
    _user_keys: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @property
    def user_keys(self) -> frozenset[str]:
        """The ``section.key`` names the user gave (a YAML file of theirs, ``--set``, a command's flags), whatever
        their value; a shipped config's own keys are not among them. Empty for a config not made by
        :func:`load_config`."""
        return self._user_keys

    def __eq__(self, other: object) -> bool:
        """Equal settings make equal configurations, whoever set them (:attr:`user_keys` is left out)."""
        return isinstance(other, Config) and dict(self) == dict(other)

    def to_yaml(self) -> str:
        """Render the resolved configuration as YAML (it holds no secrets by construction)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path of a YAML mapping document to its 1-based line number."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, str(i))] = item.start_mark.line + 1
                walk(item, (*path, str(i)))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


KeyOf = Callable[[tuple[str, ...]], "tuple[str, ...] | None"]


def format_validation_error(
    error: ValidationError, source: str, text: str | None = None, key_of: KeyOf | None = None
) -> str:
    """Describe each validation problem: source, line, field path, bad value, what was expected.

    ``key_of`` maps a field to the key path of the file it came from, when the file's keys are not evoforge's (an
    airoboros config): the line is that key's, and the message names the key beside the field.
    """
    lines = _yaml_lines(text) if text else {}
    out = [f"invalid configuration in {source}:"]
    for err in error.errors():
        kind = err["type"]
        loc = tuple(str(p) for p in err["loc"])
        if kind == REMOVED_KEY:  # raised by the section that held the key: point at the key itself
            loc = (*loc, str(err.get("ctx", {}).get("key", "")))
        where = ".".join(loc) or "(top level)"
        key = key_of(loc) if key_of else loc
        line = next((lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in lines), None) if key else None
        at = f"line {line}" if line else ""
        if key and key != loc:
            at = ", ".join(part for part in (at, f"key {'.'.join(key)}") if part)
        if kind == "extra_forbidden":
            msg = "unknown key (check the spelling; see `evoforge config show` for valid keys)"
        else:
            msg = err["msg"]
        value = "" if kind in ("missing", "extra_forbidden", REMOVED_KEY) else f"; got {err.get('input')!r}"
        out.append(f"  - {where}{f' ({at})' if at else ''}: {msg}{value}")
    return "\n".join(out)


def _set_path(data: dict[str, Any], dotted: str, raw: str) -> None:
    """Set ``data[a][b][c] = yaml(raw)`` for an override ``a.b.c=raw``."""
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted}={raw}: '{key}' is not a section")
        node = child
    node[keys[-1]] = yaml.safe_load(raw) if raw != "" else None


SHIPPED_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
"""The configs that ship with evoforge (``configs/`` of the package: in the wheel and in a source checkout)."""


def shipped_configs() -> list[str]:
    """The names of the shipped configs (``quickstart``, ``deepseek``, ...), sorted."""
    return sorted(path.stem for path in SHIPPED_CONFIGS.glob("*.yaml"))


def read_config_text(path: Path, what: str = "config file") -> str:
    """The UTF-8 text of a YAML file (a byte-order mark skipped); ConfigError naming the file and the line of the
    first byte that is not UTF-8 (another encoding, binary data)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{what} {path}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None


def locate_config(path: Path | str) -> Path:
    """The YAML file ``path`` names: the file itself when it exists, else, for a bare name (``deepseek`` or
    ``deepseek.yaml``, no folder), the shipped config of that name.

    Raises:
        ConfigError: neither exists (the message lists the shipped names).
    """
    path = Path(path)
    if path.is_file():
        return path
    if path.parent == Path("."):
        shipped = SHIPPED_CONFIGS / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
        if shipped.is_file():
            return shipped
    raise ConfigError(
        f"config file not found: {path} (shipped configs, usable by name: {', '.join(shipped_configs())})"
    )


def load_config(path: Path | str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load, merge overrides into, and validate a configuration.

    Args:
        path: a YAML file or a shipped config's name (:func:`locate_config`); None means the built-in defaults
            (the offline world).
        overrides: ``section.key=value`` strings (values parsed as YAML), applied after the file.

    With ``cycle.data_source: instruct``, the file ``cycle.instruct_config`` names is read too (its instruct section
    and the roles it uses are copied in, see :mod:`evoforge.settings.cycle`) and the result is checked.

    Raises:
        ConfigError: the file is missing, not YAML, or fails validation (message names file, line, field).
    """
    path = None if path is None else locate_config(path)
    config, data = _load(path, overrides)
    return _with_instruct_source(config, data, str(path) if path else "the defaults")


def _load(path: Path | None, overrides: list[str] | tuple[str, ...]) -> tuple[Config, dict[str, Any]]:
    """The validated configuration of a located file (or the defaults) with overrides, and its plain data."""
    text: str | None = None
    data: dict[str, Any] = {}
    key_of: KeyOf | None = None
    source = str(path) if path else "the defaults"
    if path is not None:
        text = read_config_text(path)
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
        if is_airoboros(loaded, Config.model_fields):  # airoboros' keys mapped onto evoforge's (what is not honoured
            data = from_airoboros(loaded, _yaml_lines(text))  # is named, with its line)

            def key_of(loc: tuple[str, ...]) -> tuple[str, ...] | None:
                return airoboros_key(loc, loaded)

    shipped = path is not None and path.resolve().parent == SHIPPED_CONFIGS
    user_keys = set() if shipped else {f"{s}.{k}" for s, keys in data.items() if isinstance(keys, dict) for k in keys}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        key, raw = item.split("=", 1)
        _set_path(data, key.strip(), raw.strip())
        user_keys.add(".".join(key.strip().split(".")[:2]))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        suffix = f" (with overrides {', '.join(overrides)})" if overrides else ""
        raise ConfigError(format_validation_error(exc, source + suffix, text, key_of)) from None
    config._user_keys = frozenset(user_keys)
    return config, data


BUDGET_KEYS = ("max_tokens_total", "max_cost_usd")


def _with_instruct_source(config: Config, data: dict[str, Any], source: str) -> Config:
    """A cycle on the instruct graph: its instruct section (``cycle.instruct_config``'s, under this config's own
    instruct keys, when a file is named) and the roles it needs, checked."""
    cycle = config.cycle
    if cycle.data_source != "instruct":
        return config
    where = source
    if cycle.instruct_config:
        found = locate_config(cycle.instruct_config)
        where = str(found)
        theirs, _ = _load(found, ())
        own = data.get("instruct") or {}
        try:
            settings = InstructSettings.model_validate({**theirs.instruct.model_dump(), **own})
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, f"{where} under the instruct keys of {source}")) from None
        settings = settings.with_absolute_paths()
        own_llm = data.get("llm") or {}
        budget = {  # the file's budget (an airoboros max_tokens) holds for the whole cycle, unless this config sets one
            key: getattr(theirs.llm, key)
            for key in BUDGET_KEYS
            if key not in own_llm and getattr(theirs.llm, key) is not None
        }
        update = {
            "instruct": settings,
            "llm": adopt_roles(config.llm, theirs.llm, settings, where).model_copy(update=budget),
            "cycle": cycle.model_copy(update={"instruct_config": None}),
        }
        config = config.model_copy(update=update)
    check_instruct_source(config.llm, config.instruct, config.evolve.data_path, where)
    return config


_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|DATABASE_URL|DSN)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]+)@")  # in a variable's value: the URL is all of it
_URL_PASSWORD_IN_TEXT = re.compile(r"://[^:/@\s]*:([^@\s/]+)@")  # in running text: stop at '/' (a port, a path)


def secret_values(extra_names: tuple[str, ...] = ()) -> list[str]:
    """Values of environment variables that look like secrets (``*_KEY``, ``*TOKEN*``, ``*DATABASE_URL*``, ...)
    and the passwords inside any variable's URL (``scheme://user:password@host``), longest first."""
    values = {
        value
        for name, value in os.environ.items()
        if (_SECRET_NAME.search(name) or name in extra_names) and len(value) >= 8
    }
    values |= {m[1] for value in os.environ.values() for m in _URL_PASSWORD.finditer(value) if len(m[1]) >= 6}
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """Replace every secret value from the environment in ``text`` with ``***``, and the password of any
    ``scheme://user:password@host`` in it, however short (a short one is not replaced elsewhere in the text: it
    would mangle unrelated words and numbers)."""
    for value in secret_values():
        text = text.replace(value, "***")
    return _URL_PASSWORD_IN_TEXT.sub(lambda m: m[0].replace(f":{m[1]}@", ":***@"), text)
