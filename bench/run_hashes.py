"""Fingerprints of a finished run's outputs, for showing that a change kept behaviour (a restructuring).

Run the same config with the same seed on the code before and after, then compare the two tables::

    python bench/run_hashes.py runs/qs-before runs/qs-after

Hashed: the tables (``merge/results.json``'s merges and table, each ``evals/*.json``'s scores and predictions),
the data (seeds, evolved, chunks, test set), every adapter's and the promoted students' ``*.safetensors``. Left out:
what records time (wall seconds, timings, events, manifests, reports that print them); a JSON value's
absolute paths are read relative to its run directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

TIMED = {"timing", "merge_share", "started", "finished", "predict_runtime"}


def _timed(key: str) -> bool:
    return key in TIMED or key.endswith(("_s", "_per_second"))


def _kept(value: Any, run: str) -> Any:
    """``value`` without what records time, its paths relative to the run directory ``run``."""
    if isinstance(value, dict):
        return {k: _kept(v, run) for k, v in value.items() if not _timed(k)}
    if isinstance(value, list):
        return [_kept(v, run) for v in value]
    if isinstance(value, str):
        return value.replace(run, "<run>")
    return value


def _digest(path: Path, run: Path) -> str:
    if path.suffix == ".json":
        data = _kept(json.loads(path.read_text(encoding="utf-8")), str(run))
        body = json.dumps(data, sort_keys=True).encode()
    else:
        body = path.read_bytes()
    return hashlib.sha256(body).hexdigest()[:16]


def _kind(relative: str) -> str | None:
    name = relative.rsplit("/", 1)[-1]
    if name.endswith(".safetensors"):
        return "student" if "/student/" in relative else "adapter"
    if ("/evals/" in relative and name.endswith(".json")) or name == "results.json":
        return "table"
    if name.endswith(".jsonl") and name != "events.jsonl":
        return "data"
    return None


def fingerprints(run: Path) -> dict[str, str]:
    """``{run-relative path: short sha256}`` of every hashed output of ``run``."""
    out = {}
    for path in sorted(run.rglob("*")):
        relative = path.relative_to(run).as_posix()
        if path.is_file() and _kind(relative):
            out[relative] = _digest(path, run)
    return out


def main() -> None:
    """Print each output kind's file count and how many differ between the runs given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories; the first is the baseline")
    args = parser.parse_args()
    prints = [fingerprints(run) for run in args.runs]
    base = prints[0]
    combined = hashlib.sha256(json.dumps(base, sort_keys=True).encode()).hexdigest()[:16]
    print(f"{'run':<40} {'kind':<8} {'files':>5} {'differ':>6}  all outputs")
    for run, fp in zip(args.runs, prints, strict=True):
        whole = hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:16]
        for kind in ("table", "data", "adapter", "student"):
            files = [p for p in fp if _kind(p) == kind]
            differ = sum(fp[p] != base.get(p) for p in files) + sum(1 for p in base if _kind(p) == kind and p not in fp)
            print(f"{str(run)[-40:]:<40} {kind:<8} {len(files):>5} {differ:>6}  {whole}")
    for run, fp in zip(args.runs[1:], prints[1:], strict=True):
        for path in sorted(set(fp) | set(base)):
            if fp.get(path) != base.get(path):
                print(f"differs in {run}: {path}")
    print(f"baseline fingerprint {combined}")


if __name__ == "__main__":
    main()
