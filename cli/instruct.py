"""CLI: ``evoforge instruct generate-topics`` and ``evoforge instruct generate-instructions`` (airoboros' two
commands, on the ``instruct`` graph). ``--config`` (or airoboros' spelling, ``--config-path``) takes an evoforge
config with an ``instruct`` section or a config file written for airoboros itself; ``--model NAME`` points every LLM
role at one model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from evoforge.cli.drive import execute
from evoforge.cli.graphs import warn_unsupported
from evoforge.cli.options import RunOptions, either_config, run_options
from evoforge.console import console, set_verbosity
from evoforge.errors import ConfigError, DataError
from evoforge.preflight import ensure
from evoforge.settings import Config, LLMSettings

instruct_app = typer.Typer(
    help="airoboros' generation: topics, then instructions from every instructor; cull keeps the best near duplicate."
)
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="Point every LLM role at this LiteLLM model (e.g. sim/skills, openai/gpt-4o)."),
]
ConfigPathOpt = Annotated[
    Path | None, typer.Option("--config-path", help="airoboros' spelling of --config (its config file as it is).")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="airoboros' --debug: more detail (evoforge -v).")]
InputOpt = Annotated[
    Path | None, typer.Option("--input", help="Records to cull (default: the config's instruct.output_path).")
]
OutputOpt = Annotated[Path | None, typer.Option("--output", help="Also write the kept records here (a new file).")]
CLI_MODEL = "cli"


def with_model(cfg: Config, model: str) -> Config:
    """``cfg`` with every role played by ``model`` (a new entry ``cli`` of llm.models; fallbacks dropped)."""
    data = cfg.llm.model_dump()
    data["models"][CLI_MODEL] = {"model": model}
    for role in data["roles"].values():
        role.update(model=CLI_MODEL, fallbacks=[])
    return cfg.model_copy(update={"llm": LLMSettings.model_validate(data)})


def _resolve(opts: RunOptions, config_path: Path | None, model: str | None, debug: bool) -> Config:
    """The config (``--config`` or ``--config-path``) with absolute output, topics and prompt paths (a user's prompt
    files checked) and ``--model``; warns first about what it cannot honour. ``--debug`` is ``-v``."""
    from evoforge.agents.instructors import check_prompt_files

    if debug:
        set_verbosity(2)
    cfg = opts.resolve(config=either_config(config_path, opts.config))
    warn_unsupported(cfg)
    cfg = cfg.model_copy(update={"instruct": cfg.instruct.with_absolute_paths()})
    check_prompt_files(cfg.instruct)
    return with_model(cfg, model) if model else cfg


def _run(opts: RunOptions, config_path: Path | None, model: str | None, debug: bool, mode: str) -> None:
    """Resolve the config, refuse a bad start, then run the instruct graph in ``mode``."""
    cfg = _resolve(opts, config_path, model, debug)
    topics = cfg.instruct.topics_path
    if mode == "topics" and topics and Path(topics).exists():
        raise ConfigError(f"topics file {topics} exists; delete it or set instruct.topics_path to a new file")
    if mode == "instructions" and not cfg.instruct.instructors:
        raise ConfigError("instruct.instructors names no instructor; add at least one (e.g. general: {count: 10})")
    ensure(cfg, "instruct")
    execute(opts.start(cfg, "instruct"), opts.interactive, cfg.run.auto_approve, start={"mode": mode})


def _generation(mode: str, doc: str) -> Callable[..., None]:
    """airoboros' command that runs the instruct graph in ``mode`` (``topics``, ``instructions``), ``doc`` its help."""

    def command(
        config_path: ConfigPathOpt = None, model: ModelOpt = None, debug: DebugOpt = False, *, opts: RunOptions
    ) -> None:
        _run(opts, config_path, model, debug, mode)

    command.__doc__ = doc
    return run_options(review=True)(command)


generate_topics = _generation(
    "topics", "Generate the topics file (instruct.topics_path): topic_request_count requests at once, de-duplicated."
)
generate_instructions = _generation(
    "instructions", "Generate records with every configured instructor (topics first when the topics file is missing)."
)


@run_options()
def cull(
    source: InputOpt = None,
    output: OutputOpt = None,
    config_path: ConfigPathOpt = None,
    model: ModelOpt = None,
    debug: DebugOpt = False,
    *,
    opts: RunOptions,
) -> None:
    """Group near-duplicate records (instruct.dedup and its threshold) and keep the judge's best of each group
    (role instruct.cull_role); writes culled.jsonl, cull_groups.jsonl and the report in a new run."""
    from evoforge.instruct.cull import cull_run
    from evoforge.instruct.output import read_records

    cfg = _resolve(opts, config_path, model, debug)
    path = source or (Path(cfg.instruct.output_path) if cfg.instruct.output_path else None)
    if path is None or not path.is_file():
        raise ConfigError(
            f"cull: records file not found: {path or '(none named)'}; give --input or instruct.output_path"
        )
    if output is not None and output.exists():
        raise ConfigError(f"cull: --output {output} exists; refusing to overwrite it (choose another path)")
    records = read_records(path)
    if not records:
        raise DataError(f"cull: {path} holds no record")
    run = opts.start(cfg, "cull")
    result = cull_run(cfg, run, path, records, output)
    console.print(
        f"cull: {result.total} records, {len(result.groups)} groups of near duplicates, {result.dropped} dropped, "
        f"{len(result.kept)} kept → {run.path / 'culled.jsonl'}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``instruct`` group to the ``evoforge`` command."""
    instruct_app.command("generate-topics")(generate_topics)
    instruct_app.command("generate-instructions")(generate_instructions)
    instruct_app.command("cull")(cull)
    app.add_typer(instruct_app, name="instruct")
