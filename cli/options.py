"""Command-line options shared by the subcommands, and the one way a command resolves its config and run.

Every command that makes a run takes the same tail of options (``--config``, ``--set``, ``--runs-dir``,
``--run-id``, ``--seed``): :func:`run_options` adds them to a command, which receives them as one
:class:`RunOptions`. Kept light (typer only) so that ``evoforge --help`` stays fast: heavy libraries are imported
inside the command functions.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

import typer

from evoforge.database import run_claim
from evoforge.errors import ConfigError
from evoforge.runs import RunDir, new_run_id
from evoforge.settings import Config, load_config, shipped_configs
from evoforge.settings.applicability import refuse_inapplicable

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help=f"YAML configuration file, or a shipped config's name ({', '.join(shipped_configs())}); "
        "default: the offline world.",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a setting: section.key=value (repeatable)."),
]
RunsDirOpt = Annotated[Path | None, typer.Option("--runs-dir", help="Root of run directories (run.runs_dir).")]
RunIdOpt = Annotated[str | None, typer.Option("--run-id", help="Id of the new run (default: generated).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed (run.seed).")]
InteractiveOpt = Annotated[
    bool, typer.Option("--interactive", "-i", help="Ask at each human checkpoint in the terminal.")
]
AutoApproveOpt = Annotated[
    bool | None,
    typer.Option("--auto-approve/--no-auto-approve", help="Approve human checkpoints by policy (run.auto_approve)."),
]

F = TypeVar("F", bound=Callable[..., Any])


def either_config(argument: Path | None, option: Path | None) -> Path | None:
    """The configuration of a command that takes it as an argument or as ``--config``; both at once is an error."""
    if argument is not None and option is not None:
        raise ConfigError(f"the configuration is given twice ({argument} and --config {option}); give it once")
    return argument or option


def resolve_config(
    config: Path | None,
    overrides: Sequence[str] | None = None,
    runs_dir: Path | None = None,
    seed: int | None = None,
) -> Config:
    """Load ``config`` with ``--set`` overrides, then apply the dedicated options."""
    extra = list(overrides or [])
    if runs_dir is not None:
        extra.append(f"run.runs_dir={runs_dir}")
    if seed is not None:
        extra.append(f"run.seed={seed}")
    return load_config(config, extra)


@dataclass
class RunOptions:
    """The option tail of a command that makes a run, as given on the command line."""

    config: Path | None = None
    overrides: list[str] = field(default_factory=list)
    runs_dir: Path | None = None
    run_id: str | None = None
    seed: int | None = None
    command: str | None = None
    """The command as typed after ``evoforge`` (``run``, ``evolve``, ``instruct``, ``self-evolve``, ...)."""
    interactive: bool = False
    """``--interactive``: ask at each human checkpoint in the terminal (a command that drives a graph)."""
    auto_approve: bool | None = None
    """``--auto-approve/--no-auto-approve``: the ``run.auto_approve`` override, None when neither is given."""

    def resolve(self, *extra: str, config: Path | None = None) -> Config:
        """The run's configuration: the file (``--config``, else the command's own ``config``), ``--set``
        overrides, then ``extra`` overrides from the command's own options, then ``--auto-approve`` (or its
        ``--no-`` form), ``--runs-dir`` and ``--seed``.

        Raises:
            ConfigError: a key the user set that the command's mode ignores (:mod:`evoforge.settings.applicability`).
        """
        approval = [] if self.auto_approve is None else [f"run.auto_approve={str(self.auto_approve).lower()}"]
        cfg = resolve_config(self.config or config, [*self.overrides, *extra, *approval], self.runs_dir, self.seed)
        if self.command is not None:
            refuse_inapplicable(cfg, self.command)
        return cfg

    def start(self, cfg: Config, command: str) -> RunDir:
        """Create the run directory of ``command`` (named by ``--run-id`` when given), its id first claimed in the
        run-state database when there is one (an id that database already holds state for is refused)."""
        run_id = self.run_id or new_run_id(command)
        with run_claim(cfg.run, run_id, cfg.run.runs_dir / run_id):
            return RunDir.create(cfg, command, run_id)


_TAIL: tuple[tuple[str, Any, Any], ...] = (
    ("config", ConfigOpt, None),
    ("set_", SetOpt, None),
    ("runs_dir", RunsDirOpt, None),
    ("run_id", RunIdOpt, None),
    ("seed", SeedOpt, None),
)
_REVIEW: tuple[tuple[str, Any, Any], ...] = (
    ("interactive", InteractiveOpt, False),
    ("auto_approve", AutoApproveOpt, None),
)


_CONTEXT = "typed_command_context"  # typer passes the command's context to a parameter of type typer.Context


def run_options(review: bool = False) -> Callable[[F], F]:
    """Give a command the shared option tail; it receives them as the keyword argument ``opts: RunOptions``.
    ``review``: a command that drives a graph, whose tail starts with ``--interactive`` and ``--auto-approve``."""

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "opts"]
        tail = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for name, annotation, default in (*(_REVIEW if review else ()), *_TAIL, (_CONTEXT, typer.Context, None))
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            opts = RunOptions(
                config=kwargs.pop("config", None),
                overrides=list(kwargs.pop("set_", None) or []),
                runs_dir=kwargs.pop("runs_dir", None),
                run_id=kwargs.pop("run_id", None),
                seed=kwargs.pop("seed", None),
                command=_typed_command(kwargs.pop(_CONTEXT, None)),
                interactive=kwargs.pop("interactive", False),
                auto_approve=kwargs.pop("auto_approve", None),
            )
            return command(*args, opts=opts, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *tail])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *tail]}
        return wrapper  # type: ignore[return-value]

    return decorate


def _typed_command(ctx: typer.Context | None) -> str | None:
    """The command the user typed after ``evoforge`` (``instruct`` for ``evoforge instruct cull``), from the
    command's context; None outside a command line."""
    names = []
    node: Any = ctx
    while node is not None and node.parent is not None:
        names.append(node.info_name)
        node = node.parent
    return names[-1] if names else None


def seed_spellings(*names: str) -> Callable[[F], F]:
    """Let a seed's underscore flags (``--start_id``) stand for a command's dashed options (``--start-id``): each
    parameter in ``names`` gets a twin option under ``--<name>``, hidden from ``--help``, whose value is used when
    given. The parameters are ``Annotated[T, typer.Option(...)]``; a required one is required in either spelling."""

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        params = dict(signature.parameters)
        required = [name for name in names if params[name].default is inspect.Parameter.empty]
        for name in required:
            params[name] = params[name].replace(default=None)
        twins = [
            inspect.Parameter(
                f"{name}__seed",
                inspect.Parameter.KEYWORD_ONLY,
                default=params[name].default,
                annotation=Annotated[get_args(params[name].annotation)[0], typer.Option(f"--{name}", hidden=True)],
            )
            for name in names
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for name in names:
                twin = kwargs.pop(f"{name}__seed", params[name].default)
                if twin != params[name].default:
                    kwargs[name] = twin
                if name in required and kwargs.get(name) is None:
                    raise ConfigError(f"missing option --{name.replace('_', '-')}")
            return command(*args, **kwargs)

        head = [p for p in params.values() if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        tail = [p for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        wrapper.__signature__ = signature.replace(parameters=[*head, *twins, *tail])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*head, *twins, *tail]}
        return wrapper  # type: ignore[return-value]

    return decorate
