"""CLI: ``evoforge instruct generate-topics`` and ``evoforge instruct generate-instructions`` (airoboros' two
commands, on the ``instruct`` graph). ``--config`` takes an evoforge config with an ``instruct`` section or a
config file written for airoboros itself; ``--model NAME`` points every LLM role at one model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoforge.cli.graphs import AutoApproveOpt, InteractiveOpt, _approval, _decider, _execute
from evoforge.cli.options import RunOptions, run_options
from evoforge.config import Config, LLMSettings
from evoforge.console import console
from evoforge.errors import ConfigError

instruct_app = typer.Typer(help="airoboros' generation: topics, then instructions from every instructor.")
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="Point every LLM role at this LiteLLM model (e.g. sim/skills, openai/gpt-4o)."),
]
CLI_MODEL = "cli"


def with_model(cfg: Config, model: str) -> Config:
    """``cfg`` with every role played by ``model`` (a new entry ``cli`` of llm.models; fallbacks dropped)."""
    data = cfg.llm.model_dump()
    data["models"][CLI_MODEL] = {"model": model}
    for role in data["roles"].values():
        role.update(model=CLI_MODEL, fallbacks=[])
    return cfg.model_copy(update={"llm": LLMSettings.model_validate(data)})


def _absolute(value: str | None) -> str | None:
    return None if not value else str(Path(value).expanduser().resolve())


def resolve_paths(cfg: Config) -> Config:
    """``cfg`` with relative output and topics paths made absolute against the working directory (airoboros reads
    them from where it runs; the run keeps them absolute, so a resume finds the same files)."""
    settings = cfg.instruct
    instructors = {
        name: own.model_copy(update={"topics_path": _absolute(own.topics_path)})
        for name, own in settings.instructors.items()
    }
    update = {
        "output_path": _absolute(settings.output_path),
        "topics_path": _absolute(settings.topics_path),
        "instructors": instructors,
    }
    return cfg.model_copy(update={"instruct": settings.model_copy(update=update)})


def _run(opts: RunOptions, model: str | None, interactive: bool, auto_approve: bool | None, mode: str) -> None:
    """Resolve the config (paths, --model), warn about what it cannot honour, refuse a bad start, then run."""
    cfg = resolve_paths(opts.resolve(*_approval(auto_approve)))
    if model:
        cfg = with_model(cfg, model)
    for item in cfg.instruct.unsupported:
        console.print(f"[yellow]warning:[/yellow] {item}", highlight=False)
    topics = cfg.instruct.topics_path
    if mode == "topics" and topics and Path(topics).exists():
        raise ConfigError(f"topics file {topics} exists; delete it or set instruct.topics_path to a new file")
    if mode == "instructions" and not cfg.instruct.instructors:
        raise ConfigError("instruct.instructors names no instructor; add at least one (e.g. general: {count: 10})")
    _execute(opts.start(cfg, "instruct"), _decider(interactive, cfg.run.auto_approve), start={"mode": mode})


@run_options()
def generate_topics(
    model: ModelOpt = None,
    interactive: InteractiveOpt = False,
    auto_approve: AutoApproveOpt = None,
    *,
    opts: RunOptions,
) -> None:
    """Generate the topics file (instruct.topics_path): topic_request_count requests at once, de-duplicated."""
    _run(opts, model, interactive, auto_approve, "topics")


@run_options()
def generate_instructions(
    model: ModelOpt = None,
    interactive: InteractiveOpt = False,
    auto_approve: AutoApproveOpt = None,
    *,
    opts: RunOptions,
) -> None:
    """Generate records with every configured instructor (topics first when the topics file is missing)."""
    _run(opts, model, interactive, auto_approve, "instructions")


def register(app: typer.Typer) -> None:
    """Add the ``instruct`` group to the ``evoforge`` command."""
    instruct_app.command("generate-topics")(generate_topics)
    instruct_app.command("generate-instructions")(generate_instructions)
    app.add_typer(instruct_app, name="instruct")
