"""Cost curve of the main job: time and peak memory of every phase against model size and against work.

Each phase runs through evoforge's own code path (``bench/scale_phases.py`` says which), each measurement in a
fresh process so that its peak memory (VmHWM; CUDA's max allocated on a GPU) is its own. Model shapes are
random-initialised real architectures written once by ``evoforge.offline.shapes.write_shape`` (the ``tiny``
shape is the shipped tiny student); random weights never emit end-of-sequence, so every generation runs to its
``max_new_tokens`` (16 here): the worst case. Per phase: every shape at the middle work size, and the work sizes
on one shape (``--work-shape``); then the least-squares exponent of time against parameters (fixed work) and
against work (fixed shape), and an extrapolation to real sizes on one H100 from FLOP and byte counts
(``bench/scale_h100.py``, its assumptions printed with it).

    .venv/bin/python bench/scale.py [--shapes tiny,llama-8m,llama-30m,llama-125m] [--phases all|sft,dpo,...]
        [--device cpu|cuda] [--quick] [--markdown FILE] [--work-shape llama-8m] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scale_h100 import extrapolate, fmt, table  # a script's own folder is on sys.path: run as python bench/scale.py

BENCH = Path(__file__).resolve().parent

PHASES = ("sft", "dpo", "merge", "generate", "ifd", "judge", "serve", "checkpoint")
MODEL_FREE = ("judge", "checkpoint")  # the simulated judge and the checkpoint store do not see the student
WORKS = {  # work sizes (the first is every shape's) and their unit; batches: train 16, eval 32, IFD 32
    "sft": ((16, 32, 64), "records"),
    "dpo": ((16, 8, 32), "pairs"),
    "merge": ((8, 4, 16, 32), "trials"),
    "generate": ((64, 32, 128), "items"),
    "ifd": ((64, 32, 128), "records"),
    "judge": ((64, 128, 256), "items"),
    "serve": ((16, 32, 64), "requests"),
    "checkpoint": ((3,), "rounds"),
}
QUICK_PHASES = ("sft", "generate", "ifd")
OTHER = (
    "req_s",
    "steps",
    "padding",
    "linear_path",
    "dense_mb",
    "bytes_by_round",
    "rows_by_round",
    "largest_by_round",
    "file_bytes",
)


def shape_dir(name: str, root: Path) -> Path:
    """The model directory of shape ``name`` under ``root`` (written on first use), with its bench adapters."""
    out = root / name
    if not (out / "config.json").is_file():
        if name == "tiny":
            from evoforge.training.student import resolve_student

            shutil.copytree(resolve_student("tiny"), out, dirs_exist_ok=True)
        else:
            from evoforge.offline.shapes import write_shape

            write_shape(name, out, force=True)
    if not (out / "adapters" / "delta_4" / "adapter_config.json").is_file():
        measure("prepare", out, 0, "cpu", 1)
    return out


def measure(phase: str, model: Path, work: int, device: str, threads: int) -> dict[str, Any]:
    """One measurement in a fresh process (``bench/scale_phases.py``): its JSON figures, or ``error``."""
    cmd = [sys.executable, str(BENCH / "scale_phases.py"), phase, str(model), str(work), device, str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode:
        return {"phase": phase, "work": work, "error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1]) if phase != "prepare" else {}


def plan(phases: list[str], shapes: list[str], work_shape: str, quick: bool) -> list[tuple[str, str, int]]:
    """(phase, shape, work) of every measurement: each shape at the middle work, the work sizes on ``work_shape``."""
    runs = []
    for phase in phases:
        works, _ = WORKS[phase]
        if quick:
            runs.append((phase, shapes[0], min(works)))
            continue
        for shape in [shapes[0]] if phase in MODEL_FREE else shapes:
            runs.append((phase, shape, works[0]))
        runs += [(phase, shapes[0] if phase in MODEL_FREE else work_shape, w) for w in works[1:]]
    return runs


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log y on log x (None with fewer than two distinct x)."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


def phase_section(phase: str, results: list[dict[str, Any]], work_shape: str) -> tuple[list[str], dict[str, Any]]:
    """The phase's table and fitted exponents."""
    unit = WORKS[phase][1]
    ok = [r for r in results if "error" not in r]
    lines = [f"### {phase} (work: {unit})", ""]
    header = ["shape", "params", unit, "wall s", "s per unit", "tokens", "tok/s", "RSS base MB", "RSS peak MB"]
    header += ["peak−base MB", "(peak−base) / fp32 weights", "CUDA peak MB", "other"]
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["shape"], None, r["work"], "failed: " + " ".join(r["error"])] + [None] * 9)
            continue
        grown = r["rss_peak_mb"] - r["rss_base_mb"]
        other = {k: v for k, v in r.items() if k in OTHER}
        rows.append([r["shape"], r["params"], r["work"], r["wall_s"], r["wall_s"] / r["work"], r["tokens"] or None,
                     r["tokens"] / r["wall_s"] if r["tokens"] else None, r["rss_base_mb"], r["rss_peak_mb"], grown,
                     grown * 2**20 / (4 * r["params"]), r["cuda_peak_mb"],
                     ", ".join(f"{k} {fmt(v)}" for k, v in other.items())])  # fmt: skip
    lines += table(header, rows)
    fits: dict[str, Any] = {}
    works = sorted({r["work"] for r in ok})
    at_middle = [r for r in ok if r["work"] == WORKS[phase][0][0]]
    on_shape = [r for r in ok if r["shape"] == (ok[0]["shape"] if phase in MODEL_FREE else work_shape)]
    if phase == "checkpoint" and ok:
        sizes = ok[0]["bytes_by_round"]
        fits["work"] = slope(list(range(1, len(sizes) + 1)), sizes)
        fits["bytes_per_round"] = [b - a for a, b in zip([0, *sizes], sizes, strict=False)]
    elif len(works) > 1:
        fits["work"] = slope([r["work"] for r in on_shape], [r["wall_s"] for r in on_shape])
        ts = sorted((r["work"], r["wall_s"]) for r in on_shape)
        if len(ts) >= 3:  # the cost per unit of the last step of work over that of the first: 1 when linear
            first = (ts[1][1] - ts[0][1]) / (ts[1][0] - ts[0][0])
            last = (ts[-1][1] - ts[-2][1]) / (ts[-1][0] - ts[-2][0])
            fits["increment_ratio"] = last / first if first > 0 else None
    if phase not in MODEL_FREE:
        fits["params"] = slope([r["params"] for r in at_middle], [r["wall_s"] for r in at_middle])
    what = "exponent of the stored bytes in rounds" if phase == "checkpoint" else "exponent of time"
    lines += ["", f"{what}: " + ", ".join(f"{k} {fmt(v)}" for k, v in fits.items()), ""]
    return lines, fits


def main() -> None:
    """Measure, print the tables, exponents and extrapolation."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="tiny,llama-8m,llama-30m,llama-125m")
    parser.add_argument("--phases", default="all")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="One shape, one work size, a few phases (~1 minute).")
    parser.add_argument("--markdown", type=Path, default=None, help="Also write the output to this file.")
    parser.add_argument("--work-shape", default="llama-8m", help="The shape whose work sizes are measured.")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per measurement.")
    parser.add_argument("--cache", type=Path, default=None, help="Where the shapes are written (default: cache).")
    args = parser.parse_args()
    shapes = args.shapes.split(",")
    phases = list(QUICK_PHASES if args.quick and args.phases == "all" else PHASES)
    phases = phases if args.phases == "all" else args.phases.split(",")
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {sorted(unknown)}; known: {', '.join(PHASES)}")
    work_shape = args.work_shape if args.work_shape in shapes else shapes[0]
    from evoforge.offline.tiny_builds import cache_root

    root = args.cache or cache_root().parent / "scale-shapes"
    started = time.perf_counter()
    dirs = {name: shape_dir(name, root) for name in shapes}
    results = []
    for phase, shape, work in plan(phases, shapes, work_shape, args.quick):
        print(f"… {phase} on {shape}, work {work}", file=sys.stderr, flush=True)
        results.append({"shape": shape, **measure(phase, dirs[shape], work, args.device, args.threads)})
    out = [f"## Scale bench ({args.device}, {args.threads} torch thread(s); generation to 16 new tokens)", ""]
    fits = {}
    for phase in phases:
        lines, fits[phase] = phase_section(phase, [r for r in results if r["phase"] == phase], work_shape)
        out += lines
    out += extrapolate(results, shapes)
    out += [f"total wall {time.perf_counter() - started:.0f} s"]
    text = "\n".join(out)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
