"""Run the cycle (``evoforge run``) for the science benches and read back what each round measured.

A run lives in ``<runs>/<run id>``; a run that finished there (its manifest says completed, and the bench wrote its
wall time beside it) is read again rather than run again, so a kept runs folder re-prints a table for free.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECONDS_FILE = "science-seconds.json"


def run_cycle(runs: Path, run_id: str, sets: Sequence[str]) -> tuple[Path, float]:
    """Run (or find finished) ``evoforge run`` with ``--set`` overrides ``sets``; returns its folder and wall time."""
    run = runs / run_id
    if not completed(run):
        started = time.perf_counter()
        args = [sys.executable, "-m", "evoforge.cli", "-q", "run", "--runs-dir", str(runs), "--run-id", run_id]
        subprocess.run([*args, *(x for s in sets for x in ("--set", s))], check=True, cwd=ROOT)
        (run / SECONDS_FILE).write_text(json.dumps(time.perf_counter() - started))
    return run, float(json.loads((run / SECONDS_FILE).read_text()))


def completed(run: Path) -> bool:
    """Whether ``run`` finished and the bench recorded its wall time."""
    manifest = run / "manifest.json"
    done = manifest.is_file() and json.loads(manifest.read_text()).get("status") == "completed"
    return done and (run / SECONDS_FILE).is_file()


def read_rounds(run: Path) -> list[dict[str, Any]]:
    """Per finished round: ``round``, ``scores`` (table row → per-example test scores, the same item order in every
    row), ``categories``, ``lambda`` (:func:`lambda_path`), ``dev`` (:func:`dev_failures`), ``promoted``,
    ``plan`` (its seed plan), ``router`` (``evals/router.json``, or None where the round has no routed-experts row)."""
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    plans = {int(e["round"]): e.get("seed_plan") for e in events if e["event"] == "round_started"}
    rounds = []
    for event in (e for e in events if e["event"] == "round_finished"):
        n = int(event["round"])
        root = run / f"rounds/{n}"
        reports = {label(p): json.loads(p.read_text()) for p in (root / "evals").glob("test-*.json")}
        scores = {name: [float(e["score"]) for e in r["per_example"]] for name, r in reports.items()}
        router = root / "evals" / "router.json"
        rounds.append(
            {
                "round": n,
                "scores": scores,
                "categories": [str(e["category"]) for e in reports["raw"]["per_example"]],
                "lambda": lambda_path(root),
                "dev": dev_failures(root),
                "promoted": bool(event.get("promoted")),
                "plan": plans.get(n),
                "router": json.loads(router.read_text()) if router.is_file() else None,
            }
        )
    return rounds


def label(path: Path) -> str:
    """The table row of ``rounds/<n>/evals/test-<row>.json`` (``train_x`` → ``train@x``)."""
    name = path.stem.removeprefix("test-")
    return name.replace("train_", "train@", 1) if name.startswith("train_") else name


def lambda_path(round_dir: Path) -> list[float]:
    """λ of the universal initial method e0 (validated beside a carried start method from round 2 on), then of the
    selected method after step 0 and each optimisation step."""
    methods = json.loads((round_dir / "methods.json").read_text())
    e0 = methods["e0_failure_rate"]
    start = min(c["failure_rate"] for c in methods["candidates"] if c["step"] == 0 and c["index"] >= 0)
    return [float(e0), float(start), *(float(step["selected_rate"]) for step in methods.get("history") or [])]


def dev_failures(round_dir: Path) -> dict[str, list[float]]:
    """Per dev instruction (in id order), 1.0 where the method failed: ``e0`` (``s0c1`` beside a carried start
    method, else ``s0c0``, as ``graphs/evolve/report.e0_rate`` reads it) and the ``selected`` method."""
    methods = json.loads((round_dir / "methods.json").read_text())
    by_id = {c["id"]: c for c in methods["candidates"]}
    chosen = {"e0": by_id.get("s0c1") or by_id["s0c0"], "selected": by_id[methods["selected"]["id"]]}
    out = {}
    for name, candidate in chosen.items():
        rows = [json.loads(x) for x in (round_dir / candidate["validation_path"]).read_text().splitlines() if x]
        out[name] = [1.0 if r.get("failure") else 0.0 for r in sorted(rows, key=lambda r: str(r["id"]))]
    return out
