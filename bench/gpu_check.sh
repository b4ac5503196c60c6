#!/usr/bin/env bash
# The GPU checks of issue 28 in one go, on one H100 with no network, in at most 8 minutes.
#
# Run on the GPU machine (the device tool; from the repository root, $OUT set by the tool):
#     command: bash bench/gpu_check.sh      carry: [".whl"]      timeout_s: 560
# Before that, once, here (PyPI reachable):   bash bench/gpu_check.sh --gather
# And to check everything the GPU run needs, here on the CPU (< 3 minutes, no network):
#                                             bash bench/gpu_check.sh --dry-run
#
# What travels: the working tree plus .whl/ (ignored through .git/info/exclude), 64 MiB at most together; --gather
# and --dry-run print the total. The GPU machine has Python 3.12 with torch 2.11 (cu130), transformers 5.17,
# accelerate, numpy, pandas, pyarrow, rich, typer, httpx, pyyaml ... (bench/device_packages.txt, from the device
# notes' KINDS.md). .whl/ holds the rest of evoforge's dependency closure as cp312 x86_64 wheels, one version each,
# computed by bench/gpu_wheels.py from this checkout's .venv: trl, peft, optuna, litellm, langgraph(-checkpoint-
# sqlite), langchain-core, datasets, pydantic, fastapi, uvicorn ... and their missing dependencies; also
# transformers 5.24 (5.17 lacks TrainingArguments' activation_checkpointing, which training/trainer.py passes) and
# peft 0.21 (evoforge pins <0.22). To fit the limit every wheel is re-compressed with LZMA (same files; pip reads
# them through zipfile) and litellm's proxy admin UI is left out of its wheel. Not carried: jieba and rouge-score
# (sdists; Chinese ROUGE only), boto3 (litellm's AWS providers), and vLLM: its wheel alone is hundreds of MB and
# pins its own torch, so eval.backend vllm / serve --backend vllm cannot be checked on that machine this way.
# Self-Evolution's AIOps_eval_data.json (for the IFD bench's long-sample table) travels in .whl/ too.
#
# On the GPU machine it installs the wheels into /tmp/site (pip --no-index --no-deps --target), makes evoforge
# importable from the checkout itself (bench/gpu_wheels.py link: /tmp/site/evoforge -> the checkout, plus a dist-info
# with its requirements and entry points; nothing is built, so the image's setuptools version does not matter),
# checks every requirement against what imports there (env.txt), and runs, each step timed, its output teed under
# $OUT, a failing step not stopping the others, under one 470 s deadline:
#   init   evoforge student init --shape qwen2.5-0.5b --output /tmp/qwen          (random weights, built on CPU)
#   ifd    bench/ifd_throughput.py --device cuda --model /tmp/qwen                (batched vs per-sample IFD)
#   cycle  evoforge run --config bench/gpu_cycle.yaml --set student.model=/tmp/qwen (2 reduced rounds, bf16 and
#          gradient checkpointing: automatic on a GPU)
#   scale  bench/scale.py --device cuda --shapes qwen2.5-0.5b, one call per phase (generate first) so that the
#          deadline costs only the phase in flight; phases not started in time are listed as skipped
# GPU_SCALE_PHASES="dpo judge checkpoint" limits the scale phases (a second run for those a deadline skipped).
# $OUT receives 8 files: summary.txt (each step's status and seconds), env.txt (nvidia-smi, versions, the install
# and the requirements check), init.log, ifd.log, cycle.log, cycle_report.md (the run's report, time per phase
# included), scale.log, scale.md (the scale tables). The exit status is the number of steps failed or skipped.
#
# --dry-run (here, on the CPU, no network; about 90 s of CPU, its wall time printed) checks what the GPU run needs:
# .whl/ holds exactly the planned wheels for cp312 x86_64 and .whl/ + the tree fit 64 MiB (gpu_wheels.py check); pip's
# resolver, in a Python 3.12 venv holding metadata stubs of the device's packages, meets evoforge's requirements from
# .whl/ alone (gpu_wheels.py resolve); the wheels install with pip --target for cp312 as they will there; the link
# imports evoforge from a copy of the travelling tree and finds its entry point; bench/gpu_cycle.yaml validates; every
# flag the GPU steps pass is in their --help; then the smallest CPU version of each step: student init llama-8m, the
# IFD bench with --model (the tiny student), scale.py --quick sft on llama-8m, and (in the background) one CPU round
# of bench/gpu_cycle.yaml on the tiny student. It exits with the number of checks not ok, each named.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-gpu}
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 LITELLM_LOCAL_MODEL_COST_MAP=True
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
AIOPS_SRC=$ROOT/../shared/datasets/self-evolution/AIOps_eval_data.json
# the scale bench's phases, most telling first (GPU_SCALE_PHASES="dpo judge" reruns the ones a deadline skipped)
read -ra SCALE_PHASES <<<"${GPU_SCALE_PHASES:-generate sft ifd merge serve dpo judge checkpoint}"
# evoforge is imported from the linked checkout (argv[1]) and its simulated LLM provider found by entry point
LINK_CHECK='import sys, evoforge, importlib.metadata as md
from pathlib import Path
assert Path(evoforge.__file__).resolve().parent == Path(sys.argv[1]).resolve(), evoforge.__file__
assert "sim" in [e.name for e in md.distribution("evoforge").entry_points if e.group == "evoforge.llm_providers"]
print("evoforge", md.version("evoforge"), "from", Path(evoforge.__file__).resolve().parent)' 
NOT_OK=$(mktemp) # one line per step not ok (a file: the dry run's background lane writes it too)
STARTED=$(date +%s)

# step NAME LOG CAP CMD...: run CMD under min(CAP, time left) seconds, its output into $OUT/LOG (and onto stdout
# unless BACKGROUND is set), its status and seconds into $OUT/summary.txt
step() {
  local name=$1 log=$2 cap=$3 left limit t0 rc status command
  shift 3
  left=$((DEADLINE - $(date +%s)))
  limit=$((cap < left ? cap : left))
  if ((left < 10)); then
    skip "$name"
    return
  fi
  echo "=== $name: $* (limit ${limit}s)" >>"$OUT/$log"
  t0=$(date +%s%N)
  if [[ -n ${BACKGROUND:-} ]]; then
    timeout --kill-after=10 "$limit" "$@" >>"$OUT/$log" 2>&1
  else
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$OUT/$log"
  fi
  rc=${PIPESTATUS[0]}
  case $rc in 0) status=ok ;; 124 | 137) status=timeout ;; *) status="failed($rc)" ;; esac
  [[ $rc == 0 ]] || echo "$name:$status" >>"$NOT_OK"
  t0=$((($(date +%s%N) - t0) / 100000000))
  command="$*"
  printf '%-16s %-10s %4d.%d s  %.110s\n' "$name" "$status" $((t0 / 10)) $((t0 % 10)) "${command//$'\n'/ }" \
    | tee -a "$OUT/summary.txt"
}

skip() {
  printf '%-16s %-10s %6s s  (the deadline is too near to start it)\n' "$1" skipped - | tee -a "$OUT/summary.txt"
  echo "$1:skipped" >>"$NOT_OK"
}

finish() {
  local bad cpu
  mapfile -t bad <"$NOT_OK"
  times >"$NOT_OK" # the second line: the children's user and system time
  cpu=$(tail -1 "$NOT_OK" | awk '{for (i = 1; i <= 2; i++) {split($i, t, "m"); n += t[1] * 60 + t[2]}; printf "%.0f", n}')
  echo "--- $MODE: ${#bad[@]} step(s) not ok${bad[*]:+: ${bad[*]}}; wall $(($(date +%s) - STARTED)) s," \
    "CPU $cpu s (the steps' user + system)" | tee -a "$OUT/summary.txt"
  rm -f "$NOT_OK"
  exit "${#bad[@]}"
}

# the flags a step's command must accept, read from its --help
has_flags() {
  local help
  help=$("${@:2}" --help 2>&1) || { echo "$1: --help failed"; return 1; }
  for flag in $1; do grep -q -- "$flag" <<<"$help" || { echo "missing flag $flag in: ${*:2}"; return 1; }; done
  echo "ok: ${*:2} accepts $1"
}

find_python312() {
  local c
  for c in "${PY312:-}" python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do
    [[ -n $c ]] && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && echo "$c" && return
  done
  return 1
}

case $MODE in
--flags) # (the dry run's) every flag the GPU steps pass is one that the step's command accepts
  has_flags "--shape --output --force" "$2" -m evoforge.cli student init &&
    has_flags "--config --set --runs-dir --run-id" "$2" -m evoforge.cli run &&
    has_flags "--device --shapes --phases --markdown --cache" "$2" bench/scale.py &&
    has_flags "--device --model --aiops --n-long" "$2" bench/ifd_throughput.py
  exit
  ;;

--gather)
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >>.git/info/exclude
  .venv/bin/python bench/gpu_wheels.py gather || exit 1
  cp "$AIOPS_SRC" .whl/AIOps_eval_data.json || echo "warning: $AIOPS_SRC missing: the IFD bench skips its long table"
  .venv/bin/python bench/gpu_wheels.py check
  exit
  ;;

--dry-run)
  DRY=${TMPDIR:-/tmp}/evoforge-gpu-dry
  rm -rf "$DRY" && mkdir -p "$DRY/out" "$DRY/src" "$DRY/shapes"
  OUT=$DRY/out
  DEADLINE=$((STARTED + 400)) # each step's own cap binds first; the wall time is reported against 180 s
  PY=$ROOT/.venv/bin/python
  echo "dry run: logs in $OUT; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" | tee "$OUT/summary.txt"
  # lane 1, in the background: a one-round CPU cycle of bench/gpu_cycle.yaml on the tiny student
  BACKGROUND=1 step cycle cycle.log 170 "$PY" -m evoforge.cli -q run --config bench/gpu_cycle.yaml \
    --runs-dir "$DRY/runs" --set student.model=tiny --set student.device=cpu --set cycle.rounds=1 \
    --set train.workers=1 --set merge.workers=1 --set merge.trials=2 --set world.n_seeds=32 --set world.n_eval=8 \
    --set world.n_prefs=4 &
  CYCLE=$!
  # lane 2: the wheels, the installation, the commands, the smallest CPU version of the other steps
  step wheels wheels.log 20 "$PY" bench/gpu_wheels.py check
  step aiops wheels.log 5 test -s .whl/AIOps_eval_data.json
  # the working tree as it travels (tracked + untracked-not-ignored), linked as the GPU run links it
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$DRY/src"
  step link install.log 30 "$PY" bench/gpu_wheels.py link --site "$DRY/shim" --root "$DRY/src"
  step link-import install.log 30 env PYTHONPATH="$DRY/shim" "$PY" -c "$LINK_CHECK" "$DRY/src"
  if PY312=$(find_python312); then
    step resolve install.log 60 "$PY" bench/gpu_wheels.py resolve --python312 "$PY312" --venv "$DRY/venv312"
  else
    step resolve install.log 5 sh -c 'echo "no Python 3.12 interpreter here (set PY312)"; exit 1'
  fi
  step install install.log 90 "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps \
    --no-compile --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --target "$DRY/site" .whl/*.whl
  step config config.log 30 "$PY" -m evoforge.cli config show bench/gpu_cycle.yaml --set student.model=/tmp/qwen
  step flags config.log 60 bash bench/gpu_check.sh --flags "$PY"
  step init init.log 60 "$PY" -m evoforge.cli student init --shape llama-8m --output "$DRY/shapes/llama-8m"
  step ifd ifd.log 60 "$PY" bench/ifd_throughput.py --device cpu --model offline/tiny_student --n 4 --n-long 1 \
    --repeats 1 --aiops .whl/AIOps_eval_data.json
  step scale scale.log 60 "$PY" bench/scale.py --quick --shapes llama-8m --phases sft --device cpu \
    --cache "$DRY/shapes" --markdown "$OUT/scale.md"
  wait "$CYCLE"
  finish
  ;;

gpu) ;;
*)
  echo "usage: bash bench/gpu_check.sh [--gather | --dry-run]   (no argument: the GPU run, \$OUT set)" >&2
  exit 2
  ;;
esac

# ---- the GPU run ----
: "${OUT:?the GPU run writes under \$OUT (set by the device tool)}"
mkdir -p "$OUT" /tmp/shapes
compgen -G ".whl/*.whl" >/dev/null || { echo "no wheels in .whl/: run --gather here, then carry [\".whl\"]" >&2; exit 1; }
DEADLINE=$((STARTED + 470))
SHAPE=${GPU_SHAPE:-qwen2.5-0.5b} # another shape only to rehearse this script's flow elsewhere
{
  date -u
  nvidia-smi
  echo "python3: $(command -v python3) $(python3 -V 2>&1)"
  python3 -c 'import lzma' && echo "lzma: ok (the wheels are LZMA zips)"
  python3 -m pip --version
} >"$OUT/env.txt" 2>&1
step install env.txt 120 python3 -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile \
  --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site
step link env.txt 30 python3 bench/gpu_wheels.py link --site /tmp/site
step link-import env.txt 30 python3 -c "$LINK_CHECK" "$ROOT"
step requirements env.txt 30 python3 bench/gpu_wheels.py requirements --site /tmp/site
python3 - >>"$OUT/env.txt" 2>&1 <<'EOF'
import importlib.metadata as md, platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "cuda", torch.version.cuda,
      "| device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none", "| bf16",
      torch.cuda.is_available() and torch.cuda.is_bf16_supported())
for name in ("transformers", "peft", "trl", "accelerate", "datasets", "optuna", "litellm", "langgraph", "pydantic",
             "tokenizers", "huggingface-hub", "safetensors", "pyarrow", "numpy", "evoforge"):
    try:
        print(f"{name} {md.version(name)} ({md.distribution(name).locate_file('')})")
    except md.PackageNotFoundError:
        print(f"{name} MISSING")
EOF

step init init.log 90 python3 -m evoforge.cli student init --shape "$SHAPE" --output /tmp/qwen --force
ln -sfn /tmp/qwen "/tmp/shapes/$SHAPE" # scale.py finds the shape there instead of writing it again
step ifd ifd.log 75 python3 bench/ifd_throughput.py --device cuda --model /tmp/qwen --aiops .whl/AIOps_eval_data.json
step cycle cycle.log 240 python3 -m evoforge.cli run --config bench/gpu_cycle.yaml --set student.model=/tmp/qwen \
  --runs-dir /tmp/runs --run-id "gpu-cycle-$STARTED"
cp "/tmp/runs/gpu-cycle-$STARTED/report.md" "$OUT/cycle_report.md" 2>/dev/null || echo "no report.md" >>"$OUT/cycle.log"
for phase in "${SCALE_PHASES[@]}"; do
  if (($(date +%s) + 45 > DEADLINE)); then
    skip "scale-$phase"
    continue
  fi
  rm -f "/tmp/scale-$phase.md"
  step "scale-$phase" scale.log 240 python3 bench/scale.py --device cuda --shapes "$SHAPE" --phases "$phase" \
    --cache /tmp/shapes --markdown "/tmp/scale-$phase.md"
  cat "/tmp/scale-$phase.md" >>"$OUT/scale.md" 2>/dev/null
  if grep -q '| failed: ' "/tmp/scale-$phase.md" 2>/dev/null; then # scale.py exits 0 with failed rows
    echo "scale-$phase:rows-failed" >>"$NOT_OK"
    echo "scale-$phase: some measurements failed (scale.md)" | tee -a "$OUT/summary.txt"
  fi
done
finish
