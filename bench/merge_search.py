"""Merge-search benchmark: (1) time per trial, merge vs eval, against the naive path; (2) sample efficiency.

(1) The tiny student architecture (random init, byte tokenizer, chat template) with 4 random LoRA adapters
    (r=8, every linear layer), the eval harness's Generator and exact match on skills-world prompts. Per trial:
    ours = a merge applied on the resident model (adapter scales for linear, in-place ΔW for TIES) and restored;
    naive = load the base from disk, load the 4 adapters, PEFT add_weighted_adapter + merge_and_unload.
    Both are evaluated the same way (greedy generation over the eval set).
(2) A 4-delta toy problem (evoforge.testing.merge_toy: tiny Llama, 4 LoRA deltas each trained on one synthetic skill;
    held-out mix of the skills in unequal shares plus one unlearned skill), scored by teacher-forced next-token
    accuracy (a forward pass instead of generation, so a thousand trials are affordable on a CPU). Best score
    after 10/20/40 trials, median of the seeds, for each sampler with our baselines enqueued first, TPE without
    them, and AutoLLM's own optimiser (bayes_opt, GP-UCB). Reference: median over the seeds of the best of 200
    random trials; the last column is the median number of trials to come within 1% of it.

Run: ``.venv/bin/python bench/merge_search.py [--seeds 5] [--budget 40] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from evoforge.merging.lora import load_lora_delta
from evoforge.merging.search import SearchSpace, completed, open_search, optimize
from evoforge.merging.trial import MergeSpec, TrialRunner
from evoforge.testing.merge_toy import accuracy_objective, build_toy_problem, load_resident

NAMES = ["delta_1", "delta_2", "delta_3", "delta_4"]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [[f"{c:.4f}" if isinstance(c, float) else str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


# -- (1) time per trial --------------------------------------------------------------------------------------
def _random_adapters(base: Path, root: Path, n: int) -> dict[str, Path]:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = {}
    for i in range(n):
        torch.manual_seed(i)
        config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), config)
        model.save_pretrained(root / NAMES[i])
        out[NAMES[i]] = root / NAMES[i]
    return out


def timing_table(root: Path, trials: int, device: str, n_eval: int) -> str:
    """Per-trial merge and eval time of our resident paths and of the naive reload-and-merge path."""

    from evoforge.data.records import Example
    from evoforge.evals.batched_generation import Generator
    from evoforge.evals.harness import evaluate
    from evoforge.offline.tiny_builds import StudentBuildConfig, build_tiny_student
    from evoforge.offline.world import generators

    base = build_tiny_student(root / "student", config=StudentBuildConfig(steps=0, eval_tasks=0))
    adapters = _random_adapters(base, root, len(NAMES))
    rows = generators.eval_records(n_eval, 0)
    records = [Example.for_eval(r["prompt"], r["reference"], r["category"]) for r in rows]
    gen = Generator(base, adapters, device=device, batch_size=32, max_new_tokens=24)
    gen.set_weights({})
    deltas = [load_lora_delta(p, n) for n, p in adapters.items()]
    snapshot = {k: v.clone() for k, v in gen.model.state_dict().items()}
    runners = {
        path: TrialRunner(gen.model, deltas, lambda: evaluate(gen, records).score, linear_path=path)
        for path in ("scales", "delta")
    }
    plain = Generator(base, None, device=device, batch_size=32, max_new_tokens=24)
    rng = random.Random(0)
    weight_sets = [[rng.random() for _ in NAMES] for _ in range(trials)]
    rows = []
    cases = [("linear", {}, "scales", "adapter scales"), ("linear", {}, "delta", "in-place ΔW")]
    cases.append(("ties", {"density": 0.5}, "delta", "in-place ΔW"))
    naive: dict[str, tuple[float, float]] = {}
    for method, params, path, label in cases:
        runner = runners[path]
        specs = [MergeSpec({n: [w] for n, w in zip(NAMES, ws, strict=True)}, method, params) for ws in weight_sets]
        setup = runner.score(specs[0]).merge_s  # the first trial stacks the ΔW, trims, elects signs
        ours = [runner.score(spec) for spec in specs]
        m, e = statistics.mean(r.merge_s for r in ours), statistics.mean(r.eval_s for r in ours)
        if method not in naive:
            naive[method] = _naive_trials(base, adapters, plain, records, weight_sets, method, params)
        nm, ne = naive[method]
        rows.append([f"{method}: ours ({label})", m, e, f"{m / (m + e):.2%}", f"{nm / m:.0f}x faster", setup])
        if path == "delta":
            rows.append(
                [
                    f"{method}: naive (reload + add_weighted_adapter + merge_and_unload)",
                    nm,
                    ne,
                    f"{nm / (nm + ne):.2%}",
                    "1x",
                    "-",
                ]
            )
    restore_diff = _restore_check(runners["delta"], gen.model, snapshot)
    n_params = sum(p.numel() for p in plain.model.parameters())
    title = (
        f"(1) time per trial, mean of {trials} trials: student arch ({n_params / 1e6:.2f}M params), 4 LoRA r=8 "
        f"all-linear, {n_eval} eval prompts, max_new_tokens=24, device={device}, {torch.get_num_threads()} thread(s)"
    )
    header = ["path", "merge s/trial", "eval s/trial", "merge share", "merge speed", "first-trial merge s"]
    footer = f"restore: max |W - W0| over every base weight after all trials above + 100 random merges = {restore_diff}"
    return title + "\n" + _table(header, rows) + "\n" + footer


def _naive_trials(
    base: Path,
    adapters: dict[str, Path],
    plain: Any,
    records: list[Any],
    weight_sets: list[list[float]],
    method: str,
    params: dict[str, Any],
) -> tuple[float, float]:
    """Mean (merge s, eval s) of the naive path: fresh base + adapters, add_weighted_adapter, merge_and_unload."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from evoforge.evals.harness import evaluate

    naive_merge, naive_eval = [], []
    for ws in weight_sets:
        start = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(base).to(plain.model.device)
        model = PeftModel.from_pretrained(model, adapters[NAMES[0]], adapter_name=NAMES[0])
        for name in NAMES[1:]:
            model.load_adapter(adapters[name], adapter_name=name)
        combination = "cat" if method == "linear" else method
        model.add_weighted_adapter(NAMES, ws, "merged", combination_type=combination, **params)
        model.set_adapter("merged")
        plain.model = model.merge_and_unload().eval()
        merged = time.perf_counter()
        evaluate(plain, records)
        naive_merge.append(merged - start)
        naive_eval.append(time.perf_counter() - merged)
    return statistics.mean(naive_merge), statistics.mean(naive_eval)


def _restore_check(runner: TrialRunner, model: Any, snapshot: dict[str, torch.Tensor]) -> float:
    """100 random merges (every method) applied and restored; then the largest |W − W₀| over the whole model."""
    from evoforge.merging.methods import METHODS

    rng = random.Random(1)
    mixer = runner.delta_mixer()
    for _ in range(100):
        method = rng.choice(sorted(METHODS))
        params = {} if method == "linear" else {"density": rng.choice([0.3, 0.6])}
        with mixer.trial(MergeSpec({n: [rng.uniform(-1.5, 1.5)] for n in NAMES}, method, params)):
            pass
    state = model.state_dict()
    return max(float((state[k] - v).abs().max()) for k, v in snapshot.items())


# -- (2) sample efficiency -----------------------------------------------------------------------------------
def _optuna_curve(runner: TrialRunner, sampler: str, seed: int, budget: int, with_baselines: bool) -> list[float]:
    space = SearchSpace(NAMES)
    study = open_search(space, sampler, seed, baselines=with_baselines)
    optimize(study, space, runner, budget)
    return [t.value for t in completed(study)]


def _bayes_opt_curve(runner: TrialRunner, seed: int, budget: int) -> list[float]:
    from bayes_opt import BayesianOptimization

    scores: list[float] = []

    def f(**w: float) -> float:
        scores.append(runner.score(MergeSpec({n: [w[n]] for n in NAMES})).score)
        return scores[-1]

    opt = BayesianOptimization(f=f, pbounds=dict.fromkeys(NAMES, (0.0, 1.0)), random_state=seed, verbose=0)
    opt.maximize(init_points=5, n_iter=budget - 5)
    return scores[:budget]


def _best_after(curve: list[float], n: int) -> float:
    return max(curve[:n])


def _trials_to(curve: list[float], target: float) -> float:
    return next((i + 1 for i, s in enumerate(curve) if s >= target), float("inf"))


def efficiency_table(root: Path, seeds: int, budget: int, reference_trials: int) -> str:
    """Best score after 10/20/40 trials (median of seeds) per sampler on the 4-delta toy problem."""
    problem = build_toy_problem(root / "toy", n_deltas=4, steps=40)
    model = load_resident(problem.base, problem.adapters)
    deltas = [load_lora_delta(p, n) for n, p in problem.adapters.items()]
    runner = TrialRunner(model, deltas, accuracy_objective(model, problem.eval_ids))
    reference = statistics.median(
        max(_optuna_curve(runner, "random", 1000 + s, reference_trials, False)) for s in range(seeds)
    )
    target = 0.99 * reference
    methods: dict[str, Any] = {
        "tpe (default, baselines first)": lambda s: _optuna_curve(runner, "tpe", s, budget, True),
        "tpe, no baselines": lambda s: _optuna_curve(runner, "tpe", s, budget, False),
        "gp (baselines first)": lambda s: _optuna_curve(runner, "gp", s, budget, True),
        "cmaes (baselines first)": lambda s: _optuna_curve(runner, "cmaes", s, budget, True),
        "random (baselines first)": lambda s: _optuna_curve(runner, "random", s, budget, True),
        "bayes_opt (AutoLLM: GP-UCB, 5 random inits)": lambda s: _bayes_opt_curve(runner, s, budget),
    }
    checkpoints = [n for n in (10, 20, 40) if n <= budget]
    rows = []
    for label, run in methods.items():
        start = time.perf_counter()
        curves = [run(s) for s in range(seeds)]
        per_trial = (time.perf_counter() - start) / (seeds * budget)
        best = [statistics.median(_best_after(c, n) for c in curves) for n in checkpoints]
        reach = statistics.median(_trials_to(c, target) for c in curves)
        rows.append([label, *best, "never" if reach == float("inf") else f"{reach:.0f}", f"{per_trial * 1000:.0f} ms"])
    singles = [runner.score(MergeSpec({n: [1.0]})).score for n in NAMES]
    raw = runner.score(MergeSpec({})).score
    title = (
        f"(2) sample efficiency, 4 deltas, weights in [0, 1], median of {seeds} seeds; score = held-out token "
        f"accuracy (raw {raw:.4f}, single deltas {', '.join(f'{s:.4f}' for s in singles)}); reference = best of "
        f"{reference_trials} random trials (median over seeds) = {reference:.4f}, target 99% = {target:.4f}"
    )
    header = ["optimiser", *(f"best@{n}" for n in checkpoints), "trials to 99% of ref", "time/trial"]
    return title + "\n" + _table(header, rows)


def main() -> None:
    """Print both tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--reference-trials", type=int, default=200)
    parser.add_argument("--timing-trials", type=int, default=5)
    parser.add_argument("--eval-prompts", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=["timing", "efficiency"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "efficiency":
            print(timing_table(Path(tmp), args.timing_trials, args.device, args.eval_prompts), flush=True)
            print()
        if args.only != "timing":
            print(efficiency_table(Path(tmp), args.seeds, args.budget, args.reference_trials), flush=True)


if __name__ == "__main__":
    main()
