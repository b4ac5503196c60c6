"""What a cycle run (``evoforge run``) will do, counted from its config before anything starts.

Rounds, seeds (or records per instructor), the deltas, merge trials, evaluation sizes and the LLM requests per role,
each a span ``(low, high)``: *high* is every optimisation step run, every start method validated and every call
answered; *low* is the fewest steps and rounds the patience settings allow, still every call answered. Calls that
fail only remove requests (a failed evolution ends its chain; its answer is never asked), so a run asks at most
*high*. The counts follow the code that makes the requests: :mod:`evoforge.graphs.evolve` over
:mod:`evoforge.evolve.steps`, :mod:`evoforge.cycle.work` (merge, test table), :mod:`evoforge.cycle.closing`
(steering) and :mod:`evoforge.instruct.producers` on the instruct graph. Each round also counts its *bulk*
requests per role, those a model entry with ``batch: true`` sends through the provider's batch API
(:mod:`evoforge.llm.batch`): the evolve dataset's evolutions and answers, the first instruct pass's instruction
requests and responses, and every judge request (:func:`evoforge.evals.judging.judge_set`); the rest (the
optimisation steps, topics, character cards, rp and gtkm chats) go one request at a time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from evoforge.cycle import instruct_source, pool
from evoforge.evolve.inputs import TEST_RUN_SEEDS
from evoforge.settings import Config

Span = tuple[int, int]
HUB_SLICE = re.compile(r"\[:(\d+)\]$")
PREFERENCES = "preferences"


@dataclass
class RoundPlan:
    """One round: its seeds (or records per instructor), dataset rows, held-out size, deltas, trials and calls."""

    number: int
    seeds: int | None
    records: dict[str, int]
    rows: int | None
    held_out: int | None
    deltas: list[str]
    trials: int
    calls: dict[str, Span]
    bulk: dict[str, Span] = field(default_factory=dict)  # those of ``calls`` that bulk fan-outs make


@dataclass
class RunPlan:
    """The whole run: rounds (at least, at most), the test set, each round, and what could not be known."""

    data_source: str
    rounds: Span
    test_size: int | None
    test_source: str
    plans: list[RoundPlan]
    notes: list[str] = field(default_factory=list)

    def calls(self, bulk: bool = False) -> dict[str, Span]:
        """LLM requests per role over the run (``bulk``: only those of bulk fan-outs, which ``batch: true`` sends
        as batches): low over the fewest rounds, high over all of them."""
        low_rounds = self.rounds[0]
        total: dict[str, Span] = {}
        for plan in self.plans:
            for role, (low, high) in (plan.bulk if bulk else plan.calls).items():
                was = total.get(role, (0, 0))
                total[role] = (was[0] + (low if plan.number <= low_rounds else 0), was[1] + high)
        return total


def _add(calls: dict[str, Span], role: str, low: int, high: int) -> None:
    was = calls.get(role, (0, 0))
    calls[role] = (was[0] + low, was[1] + high)


def evolve_calls(cfg: Config, n_seeds: int, carried: bool) -> dict[str, Span]:
    """Requests per role of one evolve graph run on ``n_seeds`` seeds (``carried``: a later round, whose carried
    method is validated beside e0 when they differ).

    Step 0 validates the start methods on dev (an evolution and a validator answer each); each step evolves the
    mini-batch ``loop`` times, analyses and optimises ``candidate_size`` candidates and validates each on dev; the
    dataset is every seed (10 with ``test_run``) evolved ``loop`` times and each generation answered. Steps run
    until ``max_steps`` or ``patience`` steps without a lower λ (low: ``min(max_steps, patience)``).
    """
    evolve = cfg.evolve
    dev, loop, m = evolve.dev_size, evolve.loop, evolve.candidate_size
    batch = min(evolve.batch_size, evolve.train_size)
    dataset = _dataset_seeds(cfg, n_seeds)
    calls: dict[str, Span] = {}
    for low in (True, False):
        steps = min(evolve.max_steps, evolve.patience) if low else evolve.max_steps
        starts = 2 if carried and not low else 1
        counts = {
            "evolver": starts * dev + steps * (batch * loop + m * dev) + dataset * loop,
            "validator": starts * dev + steps * m * dev,
            "analyzer": steps * m,
            "optimizer": steps * m,
            "generator": dataset * loop,
        }
        for role, n in counts.items():
            was = calls.get(role, (0, 0))
            calls[role] = (n, was[1]) if low else (was[0], n)
    return calls


def evolve_bulk(cfg: Config, n_seeds: int) -> dict[str, Span]:
    """The requests of :func:`evolve_calls` that the dataset's fan-outs make: every seed evolved ``loop`` times
    and each generation answered."""
    n = _dataset_seeds(cfg, n_seeds) * cfg.evolve.loop
    return {"evolver": (n, n), "generator": (n, n)}


def _dataset_seeds(cfg: Config, n_seeds: int) -> int:
    """The seeds the evolve dataset is made of: all of ``n_seeds``, or 10 with ``evolve.test_run``."""
    return min(TEST_RUN_SEEDS, n_seeds) if cfg.evolve.test_run else n_seeds


def instruct_calls(cfg: Config, records: dict[str, int], bulk: bool = False) -> dict[str, Span]:
    """Requests per role of one instruct graph run writing ``records`` per instructor: the topic requests (none
    with a topics file), at least ``ceil(count / batch_size)`` task requests per instructor and one response per
    record; high doubles the task requests and responses (duplicates and filtered responses ask again, up to
    ``instruct.patience`` idle batches: not bounded by the config). ``bulk``: only those that go as batches (the
    first pass's task requests and responses, editor's and stylized_response's; not the topics, the character
    cards nor the rp and gtkm chats)."""
    from evoforge.agents.instructors import REGISTRY
    from evoforge.agents.instructors.characters import Dependent
    from evoforge.instruct.dependent import BATCHED

    settings = cfg.instruct
    calls: dict[str, Span] = {}
    if settings.topics_path is None and not bulk:
        _add(calls, settings.topic_role, settings.topic_request_count, settings.topic_request_count)
    for name, count in records.items():
        if bulk and isinstance(REGISTRY[name], Dependent) and name not in BATCHED:
            continue
        own = settings.instructors[name].role
        tasks = math.ceil(count / settings.batch_size(name))
        _add(calls, own or settings.role, tasks, 2 * tasks)
        _add(calls, own or settings.response_role, count, 2 * count)
    return calls


def _count_rows(source: str) -> int | None:
    """Rows of a seed source without a network: a hub name's ``[:N]`` slice, or a local file's records."""
    sliced = HUB_SLICE.search(source)
    if sliced:
        return int(sliced.group(1))
    if not Path(source).expanduser().exists():
        return None
    from evoforge.data import seeds as seeds_io

    try:
        return len(seeds_io.read_raw(str(Path(source).expanduser())))
    except Exception:  # the preflight names the problem with the file; the plan only lacks its size
        return None


def _chunks(cfg: Config, on_world: bool) -> list[str] | None:
    """The round's chunk names, where the config says them (else None: they come from the data's categories)."""
    chunk_by = cfg.train.chunk_by
    if chunk_by.startswith("parts:"):
        names = [f"part{i + 1}" for i in range(int(chunk_by.split(":", 1)[1]))]
    elif on_world and chunk_by == "category":
        names = list(cfg.world.categories)
    elif instruct_source.uses_instruct(cfg) and chunk_by == "category":
        names = list(cfg.instruct.instructors)
    else:
        return None
    if (on_world and cfg.world.n_prefs) or cfg.train.preference_data:
        names.append(PREFERENCES)
    return names


def _methods(method: str, preferences: bool, mixed: bool) -> list[str]:
    """:func:`evoforge.training.deltas.methods_for` from what a chunk holds (all pairs, or some with ``mixed``)."""
    if method == "auto":
        return ["dpo"] if preferences and not mixed else ["sft"]
    if method == "both":
        return ["sft", "dpo"] if preferences else ["sft"]
    return [method]


def deltas(cfg: Config, chunks: list[str]) -> list[str]:
    """The round's deltas, ``chunk-method``, train@all's last (``train.train_all``)."""
    method = cfg.train.method
    names = [f"{c}-{m}" for c in chunks for m in _methods(method, c == PREFERENCES, False)]
    if cfg.train.train_all:
        names += [f"all-{m}" for m in _methods(method, PREFERENCES in chunks, len(chunks) > 1)]
    return names


def judge_calls(cfg: Config, held_out: int | None, test: int | None, n_deltas: int, trials: int) -> Span:
    """Judge requests of one round with ``eval.metric: judge``: the merge search scores the held-out split per trial
    and for raw and train@all; the test table scores raw, train@all, each delta and the merges; steering re-scores
    the kept model on the held-out split. Every answer is a request; the response cache answers a repeated
    (prompt, answer) pair for free, so the paid ones are at most these."""
    if cfg.eval.metric != "judge" or held_out is None or test is None:
        return (0, 0)
    refs = 1 + int(cfg.train.train_all)
    merges = 2 + int(bool(cfg.merge.human_weights))
    n = (trials + refs) * held_out + (refs + n_deltas + merges) * test + held_out
    return (n, n)


def _round_inputs(cfg: Config) -> tuple[int | None, int | None, str, list[str]]:
    """Seeds per round, the test set's size, where the test set comes from, and notes on what is unknown."""
    if not pool.uses_pool(cfg):
        return cfg.world.n_seeds, cfg.world.n_eval, "the skills world's oracle tasks (world.n_eval)", []
    data_path = cfg.evolve.data_path or ""
    rows = _count_rows(data_path)
    notes: list[str] = []
    if cfg.eval.test_path:
        test, source = _count_rows(cfg.eval.test_path), f"eval.test_path {cfg.eval.test_path}"
        n_pool = rows
    else:
        test, source = cfg.eval.test_size, "eval.test_size seeds carved off at round 1"
        n_pool = None if rows is None else rows - cfg.eval.test_size
    if cfg.cycle.seeds_per_round:
        return cfg.cycle.seeds_per_round, test, source, notes
    if n_pool is None:
        notes.append(f"the size of {data_path} is not known before it is read: seeds per round assume train + dev")
    need = cfg.evolve.train_size + cfg.evolve.dev_size
    return max((n_pool or 0) // cfg.cycle.rounds, need), test, source, notes


def plan_run(cfg: Config) -> RunPlan:
    """The plan of ``evoforge run`` on ``cfg`` (nothing is read but the sizes of local data files)."""
    on_instruct = instruct_source.uses_instruct(cfg)
    on_world = not on_instruct and not pool.uses_pool(cfg)
    rounds = cfg.cycle.rounds
    span = (min(rounds, cfg.cycle.patience + 1), rounds)  # round 1 always improves on nothing
    chunks = _chunks(cfg, on_world)
    notes: list[str] = []
    if on_instruct and cfg.eval.test_path:
        seeds, test, source = None, _count_rows(cfg.eval.test_path), f"eval.test_path {cfg.eval.test_path}"
    elif on_instruct:
        seeds, test, source = None, cfg.eval.test_size, "eval.test_size records carved off round 1's"
    else:
        seeds, test, source, notes = _round_inputs(cfg)
    if chunks is None:
        notes.append(f"train.chunk_by {cfg.train.chunk_by}: the chunks are the data's values, one delta each")
    delta_names = deltas(cfg, chunks or ["<each chunk>"])
    n_deltas = len(delta_names) - int(cfg.train.train_all)
    prefs = cfg.world.n_prefs if on_world else 0
    plans: list[RoundPlan] = []
    for number in range(1, rounds + 1):
        records: dict[str, int] = {}
        if on_instruct:
            records = instruct_source.first_plan(cfg)
            calls, bulk = instruct_calls(cfg, records), instruct_calls(cfg, records, bulk=True)
            rows: int | None = sum(records.values())
            drawn = None
        else:
            bad = cfg.cycle.bad_cases if number > 1 and pool.uses_pool(cfg) else 0
            drawn = None if seeds is None else seeds + bad
            calls, bulk = evolve_calls(cfg, drawn or 0, carried=number > 1), evolve_bulk(cfg, drawn or 0)
            rows = None if drawn is None else drawn * cfg.evolve.loop
        held_out = None if rows is None else math.ceil((rows + prefs) * cfg.train.eval_fraction)
        judge = judge_calls(cfg, held_out, test, n_deltas, cfg.merge.trials)
        if judge[1]:
            _add(calls, "judge", *judge)
            _add(bulk, "judge", *judge)
        plans.append(RoundPlan(number, drawn, records, rows, held_out, delta_names, cfg.merge.trials, calls, bulk))
    return RunPlan(cfg.cycle.data_source, span, test, source, plans, notes)
