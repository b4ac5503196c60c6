"""The plan prices batch generation: a role whose model entry says ``batch: true`` pays its bulk requests (the
evolve dataset, instruct's first pass, every judge request) at the entry's batch price, the rest at the full price,
and ``evoforge plan`` says how many requests go as batches at which share of the price."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evoforge.cli import app
from evoforge.cycle.estimate import RoleCost, costs
from evoforge.cycle.plan import instruct_calls, plan_run
from evoforge.settings import load_config

DEEPSEEK = Path("configs/deepseek.yaml")


def _costs(*overrides: str) -> dict[str, RoleCost]:
    cfg = load_config(DEEPSEEK, list(overrides))
    return {row.role: row for row in costs(cfg, plan_run(cfg))}


def test_batch_entries_pay_their_bulk_requests_at_the_batch_price() -> None:
    full, half = _costs(), _costs("llm.models.deepseek.batch=true")
    quarter = _costs("llm.models.deepseek.batch=true", "llm.models.deepseek.batch_price=0.25")
    assert all(row.batched == (0, 0) for row in full.values())
    for role in ("judge", "generator"):  # every request of these is a bulk fan-out's
        assert half[role].batched == half[role].calls and half[role].batch_price == 0.5
        assert half[role].usd == pytest.approx(tuple(usd / 2 for usd in full[role].usd or ()))
        assert quarter[role].usd == pytest.approx(tuple(usd / 4 for usd in full[role].usd or ()))
    evolver, plain = half["evolver"], full["evolver"]  # the dataset's evolutions batched, the steps' one by one
    assert 0 < evolver.batched[1] < evolver.calls[1]
    assert plain.usd is not None and evolver.usd is not None
    assert plain.usd[1] / 2 < evolver.usd[1] < plain.usd[1]
    for role in ("validator", "analyzer"):  # no bulk request (analyzer: deepseek-reasoner, without batch: true)
        assert (half[role].batched, half[role].usd) == ((0, 0), full[role].usd)


def test_instruct_bulk_leaves_out_topics_cards_and_chats() -> None:
    cfg = load_config(None, ["cycle.data_source=instruct", "cycle.instruct_config=airoboros-example"])
    records = {"general": 6, "rp": 2, "editor": 2}
    calls, bulk = instruct_calls(cfg, records), instruct_calls(cfg, records, bulk=True)
    editor = -(-2 // cfg.instruct.batch_size("editor")) + 2
    first = -(-6 // cfg.instruct.batch_size("general")) + 6 + editor  # general's and editor's; rp's chats none
    assert tuple(map(sum, zip(*bulk.values(), strict=True))) == (first, 2 * first)
    assert sum(span[1] for span in calls.values()) > sum(span[1] for span in bulk.values())


def test_plan_output_names_the_batched_requests_and_their_price() -> None:
    result = CliRunner().invoke(app, ["plan", str(DEEPSEEK), "--set", "llm.models.deepseek.batch=true"])
    assert "of them batched (× price)" in result.output and "(× 0.5)" in result.output
    assert "batched: the requests of evolver, generator, judge" in result.output
    plain = CliRunner().invoke(app, ["plan", str(DEEPSEEK)])
    assert "batched" not in plain.output
