"""Settings that do not apply are refused: a key the user set that the command's mode would silently ignore.

A command runs in one *mode* (:func:`mode`): ``evoforge run`` on the skills world, on the user's data
(``evolve.data_path``) or on the instruct graph (``cycle.data_source: instruct``); ``evoforge evolve`` on the
skills world or the user's data; ``evoforge instruct``; ``evoforge self-evolve``. :func:`inapplicable` names every
key the user set (:attr:`Config.user_keys`, with a value other than the default) that the mode does not read, with
why and what to do; :func:`refuse_inapplicable` raises them as one :class:`ConfigError` before a run starts.

Keys of the cycle's stages that a part of it does not run (``train.*``, ``merge.*``, ``cycle.*`` under ``evoforge
evolve``) are not refused: one project file serves ``evolve``, ``run``, ``eval`` and ``serve``. What is refused is a
key of another mode or another pipeline, which a user could believe shapes the run. The table, key by key, is in
``docs/configuration.md``.
"""

from __future__ import annotations

from pydantic import BaseModel

from evoforge.errors import ConfigError
from evoforge.settings.loading import Config

_SKILLS_WORLD = "the skills world (no evolve.data_path)"
_USER_DATA = "the user's data (evolve.data_path)"
_INSTRUCT = "the instruct graph (cycle.data_source: instruct)"


def mode(cfg: Config, command: str) -> str:
    """The mode ``command`` (``run``, ``evolve``, ``instruct``, ``self-evolve``, ...) runs in with ``cfg``, in words."""
    if command == "run":
        if cfg.cycle.data_source == "instruct":
            return f"evoforge run on {_INSTRUCT}"
        return f"evoforge run on {_USER_DATA if cfg.evolve.data_path else _SKILLS_WORLD}"
    if command == "evolve":
        return f"evoforge evolve on {_USER_DATA if cfg.evolve.data_path else _SKILLS_WORLD}"
    return f"evoforge {command}"


def _refused(cfg: Config, command: str) -> dict[str, str | None]:
    """The keys (``section.key``, or ``section.`` for all of a section's) the mode ignores → why, and what to do;
    None for a key that applies although its section does not."""
    out: dict[str, str | None] = {}
    world = cfg.evolve.data_path is None
    instruct_source = command == "run" and cfg.cycle.data_source == "instruct"
    if command in ("run", "evolve", "instruct"):
        out["self_evolve."] = "only evoforge self-evolve reads the self_evolve section; run that, or remove it"
    if command in ("run", "evolve", "self-evolve") and not instruct_source:
        out["instruct."] = (
            "only evoforge instruct and a cycle with cycle.data_source: instruct read the instruct section; set "
            "cycle.data_source: instruct, or remove it"
        )
        embedding = ("instruct.embedding_model", "instruct.embedding_device")
        if cfg.evolve.dedup == "embedding" and command != "self-evolve":  # evolve's de-duplication reads these two
            out |= dict.fromkeys(embedding)
        elif command != "self-evolve":
            out |= dict.fromkeys(embedding, "only evolve.dedup embedding reads it here; set that, or remove it")
    if instruct_source or command in ("instruct", "self-evolve") or (command in ("run", "evolve") and not world):
        reason = "the skills world makes no data here"
        if not world:
            reason = "evolve.data_path replaces the skills world: the seeds are the user's"
        out["world."] = f"{reason}; remove it"
    if instruct_source or command in ("instruct", "self-evolve"):
        out["evolve."] = "Auto Evol-Instruct does not run here; remove it"
    elif world and command in ("run", "evolve"):
        for key in ("evolve.instruction_field", "evolve.response_field"):
            out[key] = "it names a field of evolve.data_path's records; the skills world's are its own; remove it"
    if command == "run":
        if not instruct_source:
            out["cycle.instruct_config"] = (
                "only a cycle with cycle.data_source: instruct reads it; set that, or remove it"
            )
        if world:
            why = "a cycle on the instruct graph" if instruct_source else "the skills world (no evolve.data_path)"
            for key in ("cycle.seeds_per_round", "cycle.bad_cases"):
                out[key] = f"only a cycle on the user's data draws seeds from a pool, {why} does not; remove it"
        if cfg.eval.test_path:
            out["eval.test_size"] = "eval.test_path is the test set, nothing is carved off; remove one of them"
            if world and not instruct_source:
                out["world.n_eval"] = "eval.test_path replaces the skills world's test set; remove one of them"
        elif world and not instruct_source:
            out["eval.test_size"] = (
                "the skills world's test set is world.n_eval oracle tasks (or eval.test_path's rows); nothing is "
                "carved off seeds; set world.n_eval, or remove it"
            )
    if command == "self-evolve":
        own = {
            "student.model": "self_evolve.model_path (--model_path) is the model",
            "train.epochs": "self_evolve.train_epoch (--train_epoch) is the epochs per round",
            "train.method": "each round trains an SFT adapter",
            "eval.metric": "the rounds are scored by BLEU-4 and ROUGE (LLaMA-Factory's predict figures)",
            "eval.max_new_tokens": "self_evolve.max_new_tokens is the length of a question, answer and prediction",
            "eval.backend": "self_evolve.use_vllm (--use_vllm) chooses vLLM",
            "eval.ifd_variant": "IFD is Self-Evolution's own",
            "eval.ifd_max_length": "self_evolve.ifd_max_length is the tokens IFD scores",
            "eval.test_path": "self_evolve.eval_data (--eval_data) is the closed-book test set",
            "eval.test_size": "self_evolve.eval_data (--eval_data) is the closed-book test set",
            "cycle.": "self-evolve runs its own rounds (self_evolve.start_id .. end_id)",
            "merge.": "self-evolve merges nothing (self_evolve.export_merged saves each round's model)",
        }
        out |= {key: f"{why}; remove it" for key, why in own.items()}
    return out


def _default(section: BaseModel, key: str) -> object:
    return type(section).model_fields[key].get_default(call_default_factory=True)


def inapplicable(cfg: Config, command: str) -> list[str]:
    """One message per reason the user's settings do not apply to ``command`` in its mode (:func:`mode`): the keys
    with their values, why the mode ignores them and what to do; [] when every key the user set applies.

    ``command`` is the command's name as typed (``run``, ``evolve``, ``instruct``, ``self-evolve``; the other
    commands refuse nothing). A key counts as set when :attr:`Config.user_keys` holds it and its value is not the
    field's default.
    """
    refused = _refused(cfg, command)
    by_reason: dict[str, list[tuple[str, object]]] = {}
    for key in sorted(cfg.user_keys):
        section_name, _, name = key.partition(".")
        why = refused[key] if key in refused else refused.get(f"{section_name}.")
        section = getattr(cfg, section_name, None)
        if why is None or not isinstance(section, BaseModel) or name not in type(section).model_fields:
            continue
        value = getattr(section, name)
        if value != _default(section, name):
            by_reason.setdefault(why, []).append((key, value))
    where = mode(cfg, command)
    return [f"{_named(keys)}: not read by {where}: {why}" for why, keys in by_reason.items()]


def _named(keys: list[tuple[str, object]]) -> str:
    """``key=value`` for up to three keys (a long value cut short), else the keys alone."""
    if len(keys) > 3:
        return ", ".join(key for key, _ in keys)
    return ", ".join(f"{key}={_short(value)}" for key, value in keys)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def refuse_inapplicable(cfg: Config, command: str) -> None:
    """Refuse the settings ``command`` would ignore (:func:`inapplicable`), all of them in one error.

    Raises:
        ConfigError: one line per key.
    """
    messages = inapplicable(cfg, command)
    if messages:
        lines = "\n".join(f"  - {message}" for message in messages)
        raise ConfigError(f"settings that do not apply (nothing was run):\n{lines}")
