"""Wall time of the main job (`evoforge run`, configs/quickstart.yaml) and where it goes, phase by phase.

Runs the quickstart in a fresh runs directory (the tiny student is built first, outside the timing, if it is not
cached yet), then reads the run's events.jsonl and prints a table: each phase's seconds per round and its share.

    .venv/bin/python bench/quickstart.py [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# events that close a phase of a round, in order (the phase runs from the previous event to this one)
PHASES = (
    ("round_started", "prepare"),
    ("review:review_dataset", "evolve"),
    ("merge_search_started", "chunk+train"),
    ("merge_search_finished", "merge search"),
    ("round_finished", "evaluate+promote+feedback"),
)


def phase_times(events: list[dict[str, object]]) -> dict[int, dict[str, float]]:
    """Seconds of each phase per round, from the run's events."""
    out: dict[int, dict[str, float]] = defaultdict(dict)
    names = dict(PHASES)
    round_no, last = 0, None
    for event in events:
        kind = str(event["event"])
        if kind == "review":
            kind = f"review:{event.get('checkpoint')}"
        if kind in ("run_started", "run_finished") and round_no:
            continue  # a round's own evolve run starting and ending inside the parent's round
        if kind == "round_started":
            round_no = int(event["round"])  # type: ignore[call-overload]
        t = float(event["t"])  # type: ignore[arg-type]
        if kind in names and last is not None and round_no:
            out[round_no][names[kind]] = out[round_no].get(names[kind], 0.0) + t - last
        if kind in names or kind == "run_started":
            last = t
    return dict(out)


def main() -> None:
    """Build the student if needed, run the quickstart, print the timing table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", action="append", default=[], help="extra section.key=value overrides")
    args = parser.parse_args()
    evoforge = [sys.executable, "-m", "evoforge.cli"]
    start = time.perf_counter()
    subprocess.run([*evoforge, "-q", "student", "build"], check=True, cwd=ROOT)
    build_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as runs:
        sets = [x for item in args.set for x in ("--set", item)]
        start = time.perf_counter()
        subprocess.run([*evoforge, "-q", "run", "--runs-dir", runs, "--run-id", "bench", *sets], check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        run = Path(runs) / "bench"  # each round logs its merge search in its own run directory
        files = [run / "events.jsonl", *sorted(run.glob("rounds/*/events.jsonl"))]
        events = [json.loads(line) for f in files for line in f.read_text().splitlines()]
        times = phase_times(sorted(events, key=lambda e: float(e["t"])))
    print(f"student build (or cache hit): {build_s:.1f} s")
    print(f"{'round':>5} " + " ".join(f"{name:>26}" for _, name in PHASES))
    for n, row in sorted(times.items()):
        print(f"{n:>5} " + " ".join(f"{row.get(name, 0.0):>25.1f}s" for _, name in PHASES))
    print(f"evoforge run wall time: {wall:.1f} s ({wall / 60:.2f} min; target ≤ 5 min, limit 10)")


if __name__ == "__main__":
    main()
