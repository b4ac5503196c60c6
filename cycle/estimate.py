"""The price and the time class of a planned run (:mod:`evoforge.cycle.plan`).

Prices come from LiteLLM's offline price table (or a model entry's own ``input_cost_per_token`` /
``output_cost_per_token``); output lengths are not known before a run, so each role's cost is a range over
:data:`TOKENS`, the assumed tokens in and out of one request (a role's ``max_tokens`` caps the output). A role whose
model entry says ``batch: true`` pays its bulk requests (:attr:`RunPlan.calls` with ``bulk``) at the entry's
``batch_price`` share of the price, as the gateway records a batch's answers. The time
class uses per-phase figures for the student's shape (:data:`CPU_TINY`, the H100 rows of docs/scaling.md); LLM
latency is not in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evoforge.cycle.plan import RunPlan
from evoforge.llm.backend import token_cost
from evoforge.settings import Config

TOKENS: dict[str, tuple[int, int, int]] = {
    "evolver": (700, 60, 400),  # the method (≈400 tokens) + one instruction → one evolved instruction
    "analyzer": (1500, 300, 2000),  # a mini-batch of trajectories → feedback (reasoning models write more)
    "optimizer": (1200, 300, 1500),  # the method + feedback → a revised method
    "validator": (200, 100, 800),  # one evolved instruction → its answer
    "generator": (200, 100, 1000),  # one instruction (or an instruct batch request) → its answer
    "judge": (700, 30, 200),  # instruction, reference and answer → a grade and a reason
}
"""Assumed (tokens in, tokens out low, tokens out high) of one request per role; other roles use ``generator``'s."""


@dataclass(frozen=True)
class RoleCost:
    """One role's requests and their cost range (None: the model is not in the price table)."""

    role: str
    model: str
    calls: tuple[int, int]
    usd: tuple[float, float] | None
    batched: tuple[int, int] = (0, 0)  # of ``calls``, those sent as batches (model entry ``batch: true``)
    batch_price: float = 1.0  # the share of the price the batched ones pay


def tokens(cfg: Config, role: str) -> tuple[int, int, int]:
    """The assumed tokens of one request of ``role``, the output capped by the role's ``max_tokens``."""
    tokens_in, low, high = TOKENS.get(role, TOKENS["generator"])
    cap = cfg.llm.roles[role].max_tokens if role in cfg.llm.roles else None
    return (tokens_in, min(low, cap), min(high, cap)) if cap else (tokens_in, low, high)


def costs(cfg: Config, plan: RunPlan) -> list[RoleCost]:
    """Each role's requests over the run (low, high) and their cost: low requests at short outputs, high requests
    at long ones; with ``batch: true`` on the role's model entry, its bulk requests at the batch price."""
    rows: list[RoleCost] = []
    bulk = plan.calls(bulk=True)
    for role, (low, high) in sorted(plan.calls().items()):
        if role not in cfg.llm.roles:
            rows.append(RoleCost(role, "(no llm.roles entry)", (low, high), None))
            continue
        entry = cfg.llm.models[cfg.llm.roles[role].model]
        batched, share = (bulk.get(role, (0, 0)), entry.batch_price) if entry.batch else ((0, 0), 1.0)
        tokens_in, out_low, out_high = tokens(cfg, role)
        short, long = token_cost(entry, tokens_in, out_low), token_cost(entry, tokens_in, out_high)
        usd = None
        if short is not None and long is not None:
            paid = (low - batched[0] * (1 - share), high - batched[1] * (1 - share))  # requests at the full price
            usd = (paid[0] * short, paid[1] * long)
        rows.append(RoleCost(role, entry.model, (low, high), usd, batched, share))
    return rows


@dataclass(frozen=True)
class Figures:
    """Seconds per unit of each phase for one shape and machine (docs/scaling.md)."""

    shape: str
    sft_record: float
    dpo_pair: float
    eval_item: float
    trial_batch: float  # one merge trial's scoring of one batch of held-out items (eval.batch_size)


CPU_TINY = Figures(
    "tiny (1M) on an idle 2-core CPU, two worker processes, from the quickstart's measured phases (README)",
    0.00876,
    0.0155,
    0.0049,
    0.126,
)
EXTRAPOLATED = "on one H100, extrapolated (not measured), docs/scaling.md"
H100_SMALL = Figures(f"qwen2.5-0.5b {EXTRAPOLATED}", 0.756e-3, 1.13e-3, 9.22e-3, 1.15 / 4)
H100_8B = Figures(f"llama-3-8b {EXTRAPOLATED}", 2.93e-3, 8.29e-3, 12.3e-3, 1.54 / 4)
"""The tiny row divides the shipped quickstart's phase times on an idle 2-core CPU (README: train_delta 31 s, merge
32 s, evaluate 59 s, four rounds of 160 seeds) by this module's units for that plan (the scale bench's tiny units
each load the model and came out 14x slower). Its evaluation figure is twice docs/scaling.md's batched generation row
(0.0022 s per item; the two-round quickstart of 640 seeds measured that): it carries each table row's model build and
the routed_experts row's router. The H100 rows are docs/scaling.md's extrapolation, whose merge trial scores a
100-item split, four batches of 32."""
BILLIONS = re.compile(r"(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])")
CLASSES = ((600, "minutes"), (3600, "tens of minutes"), (36000, "hours"))


def figures_for(cfg: Config) -> Figures:
    """The figures of the student's shape: the tiny student's measured CPU row; a model whose name says ≤ 2B
    parameters (or says nothing) the 0.5B H100 row; a larger one the 8B row."""
    name = cfg.student.model
    if name == "tiny":
        return CPU_TINY
    size = BILLIONS.search(name.rsplit("/", 1)[-1])
    return H100_8B if size and float(size.group(1)) > 2 else H100_SMALL


@dataclass(frozen=True)
class TimeClass:
    """The local work of the run (training, merge search, test table, steering), in seconds and as a class."""

    figures: Figures
    seconds: float
    label: str
    phases: dict[str, float]


def time_class(cfg: Config, plan: RunPlan) -> TimeClass | None:
    """The run's local work at the student's figures (every round, every trial); None when the sizes are unknown."""
    fig = figures_for(cfg)
    phases = {"train": 0.0, "merge": 0.0, "test table": 0.0, "steering": 0.0}
    prefs = cfg.world.n_prefs if not cfg.evolve.data_path and cfg.cycle.data_source == "evolve" else 0
    for round_plan in plan.plans:
        if round_plan.rows is None or round_plan.held_out is None or plan.test_size is None:
            return None
        trained = round_plan.rows * (1 - cfg.train.eval_fraction) * cfg.train.epochs
        copies = 1 + int(cfg.train.train_all)  # every record trains its chunk's delta and train@all
        phases["train"] += copies * (trained * fig.sft_record + prefs * cfg.train.epochs * fig.dpo_pair)
        refs = 1 + int(cfg.train.train_all)
        batches = -(-round_plan.held_out // cfg.eval.batch_size)
        phases["merge"] += (round_plan.trials + refs) * batches * fig.trial_batch
        table = 1 + len(round_plan.deltas) + 2 + int(bool(cfg.merge.human_weights))  # raw, deltas, merges
        phases["test table"] += table * plan.test_size * fig.eval_item
        phases["steering"] += round_plan.held_out * fig.eval_item
    seconds = sum(phases.values())
    label = next((name for limit, name in CLASSES if seconds < limit), "days")
    return TimeClass(fig, seconds, label, phases)
