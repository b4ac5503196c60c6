"""CLI: ``evoforge plan CONFIG`` (and ``evoforge run --dry-run``): what the run will do and cost, then exit.

Counts come from :mod:`evoforge.cycle.plan`, prices and the time class from :mod:`evoforge.cycle.estimate`; the
preflight's problems follow the plan (exit code 2). Nothing is written and no LLM is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from evoforge.cli.options import ConfigOpt, SetOpt, either_config, resolve_config
from evoforge.settings import SHIPPED_CONFIGS, Config

SHOWN = 6  # deltas named in a round's row


def _span(low: int | float, high: int | float, money: bool = False) -> str:
    """``low–high`` (one figure when they agree); dollars with ``money``."""
    shown = [f"${v:,.2f}" if money else f"{v:,}" for v in (low, high)]
    return shown[0] if shown[0] == shown[1] else f"{shown[0]}–{shown[1]}"


def _rounds_table(plan: Any) -> Any:
    from rich.table import Table

    table = Table(title="rounds", title_justify="left")
    for column in ("round", "seeds" if plan.data_source == "evolve" else "records", "rows ≤", "held-out ≈"):
        table.add_column(column, justify="right")
    table.add_column("deltas")
    table.add_column("trials", justify="right")
    for r in plan.plans:
        drawn = f"{sum(r.records.values())} ({len(r.records)} instructors)" if r.records else r.seeds
        named = ", ".join(r.deltas[:SHOWN]) + (f", … {len(r.deltas) - SHOWN} more" if len(r.deltas) > SHOWN else "")
        cells = [r.number, drawn, r.rows, r.held_out, f"{len(r.deltas)}: {named}", r.trials]
        table.add_row(*("?" if c is None else str(c) for c in cells))
    return table


def _cost_table(cfg: Config, rows: list[Any]) -> Any:
    from rich.table import Table

    from evoforge.cycle.estimate import tokens

    batches = any(row.batched[1] for row in rows)
    table = Table(title="LLM requests per role (low–high) and cost", title_justify="left")
    columns = ("role", "model", "requests", "of them batched (× price)", "tokens in / out per request", "cost (USD)")
    for column in columns if batches else columns[:3] + columns[4:]:
        table.add_column(column)
    for row in rows:
        tokens_in, out_low, out_high = tokens(cfg, row.role)
        cost = "$0: not in the price table" if row.usd is None else _span(row.usd[0], row.usd[1], money=True)
        batched = [f"{_span(*row.batched)} (× {row.batch_price:g})" if row.batched[1] else "–"] if batches else []
        table.add_row(row.role, row.model, _span(*row.calls), *batched, f"{tokens_in} / {out_low}–{out_high}", cost)
    return table


def _batch_note(rows: list[Any]) -> str | None:
    """The line saying which roles' requests the plan prices at the batch price, or None when none."""
    roles = [row.role for row in rows if row.batched[1]]
    if not roles:
        return None
    return (
        f"batched: the requests of {', '.join(roles)} that bulk fan-outs make (the evolve dataset, instruct "
        "generation but its topics, cards and chats, judging) go to a model entry with batch: true, through the "
        "provider's batch API, priced at its batch_price share of the price; the rest one by one at the full price"
    )


def show_plan(cfg: Config) -> None:
    """Print the plan of ``evoforge run`` on ``cfg``, then the preflight's problems.

    Raises:
        PreflightError: the run could not start (printed after the plan; exit code 2).
    """
    from rich.console import Console

    from evoforge.cycle.estimate import costs, time_class
    from evoforge.cycle.plan import plan_run
    from evoforge.preflight import PreflightError, Problem, collect
    from evoforge.settings.applicability import inapplicable

    out = Console(width=140, highlight=False)
    plan = plan_run(cfg)
    low, high = plan.rounds
    out.print("[bold]evoforge run[/bold] would do (nothing was run, no LLM was called):")
    out.print(f"rounds: {_span(low, high)} (cycle.rounds {high}, cycle.patience {cfg.cycle.patience})")
    out.print(f"test set: {plan.test_size if plan.test_size is not None else '?'} items, {plan.test_source}")
    out.print(f"student: {cfg.student.model}; eval.metric {cfg.eval.metric}")
    out.print(_rounds_table(plan))
    if plan.plans and plan.plans[0].records:
        each = ", ".join(f"{name} {n}" for name, n in plan.plans[0].records.items())
        out.print(f"records per instructor (round 1; later rounds follow the weak categories): {each}")
    rows = costs(cfg, plan)
    out.print(_cost_table(cfg, rows))
    note = _batch_note(rows)
    if note is not None:
        out.print(note)
    priced = [row.usd for row in rows if row.usd is not None]
    total = _span(sum(u[0] for u in priced), sum(u[1] for u in priced), money=True)
    unpriced = [row.role for row in rows if row.usd is None]
    if unpriced:
        total += (
            f"; {', '.join(unpriced)} at $0, as the gateway counts a model LiteLLM's price table lacks (set "
            "input_cost_per_token / output_cost_per_token on its llm.models entry to price it)"
        )
    out.print(f"LLM cost: {total}")
    if cfg.llm.max_cost_usd is not None:
        out.print(f"budget: llm.max_cost_usd ${cfg.llm.max_cost_usd:,.2f} stops the run when spent")
    timing = time_class(cfg, plan)
    if timing is None:
        out.print("time class: unknown (the data's size is not known before it is read)")
    else:
        phases = ", ".join(f"{name} {seconds:,.0f} s" for name, seconds in timing.phases.items())
        out.print(f"time class: {timing.label} (≈{timing.seconds:,.0f} s of local work, every round run: {phases})")
        out.print(f"  figures: {timing.figures.shape}; LLM latency not included")
    for note in plan.notes:
        out.print(f"note: {note}")
    refused = [Problem("settings", message) for message in inapplicable(cfg, "run")]
    problems = [*refused, *collect(cfg, "run")]
    if problems:
        raise PreflightError("run", problems)
    out.print("preflight: no problems")


def plan(
    config: Annotated[
        Path | None,
        typer.Argument(help="YAML configuration or a shipped config's name (default: the shipped quickstart)."),
    ] = None,
    set_: SetOpt = None,
    config_opt: ConfigOpt = None,
) -> None:
    """Print what `evoforge run` would do — rounds, seeds, deltas, trials, eval sizes, LLM requests per role, their
    cost and the time class — check every input, and exit without running anything (exit code 2 on a problem)."""
    chosen = either_config(config, config_opt) or SHIPPED_CONFIGS / "quickstart.yaml"
    show_plan(resolve_config(chosen, set_))


def register(app: typer.Typer) -> None:
    """Add ``plan`` to the ``evoforge`` command."""
    app.command("plan")(plan)
