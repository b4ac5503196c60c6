"""Does the model teach itself? Self-Evolution's offline default over several seeds and replay modes.

Each (mode, seed) runs ``evoforge self-evolve`` (the shipped self-evolve config: the tiny reader on the skills
world's made-up facts, evaluated closed book) in a runs folder, then reads every generation's
``generated_predictions.jsonl``. A figure is the median over the seeds; its 95% interval comes from a bootstrap
that resamples the closed-book questions within each seed (paired across rounds for the gain) and takes the
median over seeds of each replicate (``bench/science.py``'s bootstrap).

    .venv/bin/python bench/self_evolution.py [--seeds 42 43 44] [--modes hard random all] [--set key=value ...]
        [--keep DIR]

With ``--keep DIR`` a run that has finished in DIR is read again rather than run again. It prints, per mode,
closed-book exact match and ROUGE-L per round, and the gain of the last round over round 0 (target ≥ +0.20 exact
match in at least one mode), and says which mode wins.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from science import bootstrap, diff, mean_of

from evoforge.evals.metrics import exact_match, rouge

ROOT = Path(__file__).resolve().parents[1]
TARGET_GAIN = 0.20


def run_one(runs: Path, mode: str, seed: int, extra: Sequence[str]) -> dict[str, Any]:
    """Run (or read again) one self-evolve run; returns per round the per-question exact match and ROUGE-L."""
    run_id = f"{mode}-{seed}"
    run = runs / run_id
    manifest = run / "manifest.json"
    started = time.perf_counter()
    if not (manifest.is_file() and json.loads(manifest.read_text())["status"] == "completed"):
        args = [sys.executable, "-m", "evoforge.cli", "-q", "self-evolve", "--runs-dir", str(runs)]
        sets = [f"run.seed={seed}", *extra]
        args += ["--identify", run_id, "--mode", mode, *(x for s in sets for x in ("--set", s))]
        subprocess.run(args, check=True, cwd=ROOT)
        (run / "bench-seconds.json").write_text(json.dumps(time.perf_counter() - started))
    seconds = float(json.loads((run / "bench-seconds.json").read_text()))
    rounds: list[dict[str, list[float]]] = []
    folder = run / "eval" / f"{run_id}_generations"
    for i in range(len(list(folder.glob("generation_*")))):
        rows = [json.loads(line) for line in (folder / f"generation_{i}" / "generated_predictions.jsonl").open()]
        rounds.append(
            {
                "exact": [exact_match(r["predict"], r["label"]) for r in rows],
                "rouge_l": [rouge(r["predict"], r["label"])["rouge-l"] / 100 for r in rows],
            }
        )
    return {"mode": mode, "seed": seed, "rounds": rounds, "seconds": seconds}


def _cell(values: tuple[float, float, float]) -> str:
    point, low, high = values
    return f"{point:.3f} [{low:.3f}, {high:.3f}]"


def mode_table(results: list[dict[str, Any]]) -> tuple[list[list[str]], float]:
    """Rows (round, exact match, ROUGE-L) for one mode's seeds, the gain row last; returns the gain's median."""
    sizes = [len(r["rounds"][0]["exact"]) for r in results]
    rows = []
    for i in range(len(results[0]["rounds"])):
        exact = bootstrap([mean_of(r["rounds"][i]["exact"]) for r in results], sizes)
        rouge_l = bootstrap([mean_of(r["rounds"][i]["rouge_l"]) for r in results], sizes)
        rows.append([str(i), _cell(exact), _cell(rouge_l)])
    last = len(results[0]["rounds"]) - 1
    gains = [diff(mean_of(r["rounds"][last]["exact"]), mean_of(r["rounds"][0]["exact"])) for r in results]
    gain = bootstrap(gains, sizes)
    rouge_gain = bootstrap(
        [diff(mean_of(r["rounds"][last]["rouge_l"]), mean_of(r["rounds"][0]["rouge_l"])) for r in results], sizes
    )
    met = "met" if gain[0] >= TARGET_GAIN else "missed"
    rows.append([f"{last} − 0", f"{_cell(gain)} ({met}: ≥ +{TARGET_GAIN:.2f})", _cell(rouge_gain)])
    return rows, gain[0]


def markdown(by_mode: dict[str, list[dict[str, Any]]]) -> str:
    """The per-mode tables, the winner and the wall time per run."""
    lines: list[str] = []
    gains = {}
    for mode, results in by_mode.items():
        rows, gains[mode] = mode_table(results)
        seeds = ", ".join(str(r["seed"]) for r in results)
        minutes = max(r["seconds"] for r in results) / 60
        lines += [f"### mode {mode} (seeds {seeds}; longest run {minutes:.1f} min)", ""]
        lines += ["| round | exact match | ROUGE-L |", "|---|---|---|", *("| " + " | ".join(r) + " |" for r in rows)]
        lines.append("")
    best = max(gains, key=lambda m: gains[m])
    lines.append(f"Winner: mode {best} (median gain {gains[best]:+.3f} exact match over round 0).")
    return "\n".join(lines)


def main() -> None:
    """Run the modes and seeds, print and write the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--modes", nargs="+", default=["hard", "random", "all"])
    parser.add_argument("--set", action="append", default=[], help="extra section.key=value overrides")
    parser.add_argument("--keep", type=Path, help="runs folder to keep (default: a temporary one)")
    parser.add_argument("--out", type=Path, help="markdown output (default: <runs>/self_evolution.md)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.keep or Path(tmp)
        by_mode = {m: [run_one(runs, m, s, args.set) for s in args.seeds] for m in args.modes}
        text = markdown(by_mode)
        print(text)
        (args.out or runs / "self_evolution.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
