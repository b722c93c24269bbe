#!/usr/bin/env bash
# The GPU checks in one go, for a machine with an NVIDIA GPU: tests/test_cuda.py (every GPU path gives
# what the CPU path gives), then the GPU benchmarks at sizes that fit 8 minutes on an H200:
#   bench_profile.py    the genre profile of a 3-minute track, CPU and CUDA
#   bench_procedural.py the procedural renderer alone at 1280x720 (CPU eager, then CUDA)
#   bench_render.py     render + encode of a 30 s track at 1280x720, 30 fps, beside ffmpeg alone
#   bench_diffusion.py  the diffusion render loop, SD-turbo architecture at random weights (fp16 on
#                       CUDA), with the full VAE and with TAESD
# The figures are appended to benchmarks/RESULTS.md under a dated heading naming the GPU; the full
# output goes to a log whose path is printed. Run from anywhere: `benchmarks/gpu_check.sh`.
# Sets up the virtual environment first when needed (scripts/setup.sh, as scripts/test does).
# Refuses, before setting anything up, on a machine without a CUDA device.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Whole-run budget (s) for the checks after set-up, and each step's share of it: a step that runs
# over its share is stopped, reported as timed out, and the next one runs.
# 465 s leaves room, within 8 minutes, for the heading and a stopped step's 10 s grace. The shares
# are estimates for an H200, not measurements.
BUDGET_S="${MVGEN_GPU_CHECK_BUDGET_S:-465}"
declare -A CAP_S=([test_cuda]=110 [bench_profile]=55 [bench_procedural]=55 [bench_render]=95 [bench_diffusion]=150)

die() { echo "gpu_check: $*" >&2; exit 1; }

# Fail fast without a GPU: nvidia-smi needs no Python, so nothing is installed on a machine that
# could not run the checks anyway.
command -v nvidia-smi >/dev/null 2>&1 || die "no CUDA device here (nvidia-smi not found); run this on a machine with an NVIDIA GPU"
gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)" || true
[ -n "$gpu_name" ] || die "no CUDA device here (nvidia-smi lists no GPU); run this on a machine with an NVIDIA GPU"

# shellcheck source=../scripts/setup.sh
source scripts/setup.sh
# set-up may have installed a CPU-only torch (a local wheel of the pinned version): say so plainly
python - <<'EOF' || die "torch $(python -c 'import torch; print(torch.__version__)' 2>/dev/null) sees no CUDA device although nvidia-smi lists '$gpu_name' (a CPU-only build? set MVGEN_TORCH_PIN to a CUDA build and remove .venv)"
import sys, torch
sys.exit(0 if torch.cuda.is_available() else 1)
EOF
gpu_name="$(python -c 'import torch; print(torch.cuda.get_device_name(0))')"

log="$(mktemp -t mvgen-gpu-check.XXXXXX.log)"
results=benchmarks/RESULTS.md
section="$(mktemp -t mvgen-gpu-check.XXXXXX.md)"
start=$SECONDS
failed=0

{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC'): $gpu_name"
  echo
  echo "\`benchmarks/gpu_check.sh\` at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)');" \
       "$(python -c 'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}")');" \
       "driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1); $(nproc) CPU cores."
} >"$section"

# step NAME COMMAND...: run with its time cap (never past the whole budget), keep the figures.
step() {
  local name=$1; shift
  local left=$((BUDGET_S - (SECONDS - start)))
  local cap=${CAP_S[$name]}
  if ((cap > left)); then cap=$left; fi
  if ((left < 10)); then
    printf '\n### %s\n\nskipped: the %s s budget is spent\n' "$name" "$BUDGET_S" >>"$section"
    failed=1
    return
  fi
  echo "gpu_check: $name (at most $cap s) ..." >&2
  local out t0=$SECONDS rc=0
  out="$(mktemp)"
  # stdout holds the figures; warnings and progress go to the log only
  timeout --kill-after=10 "$cap" "$@" >"$out" 2>>"$log" || rc=$?
  cat "$out" >>"$log"
  local status="ok"
  if ((rc == 124 || rc == 137)); then status="timed out after $cap s"; failed=1
  elif ((rc != 0)); then status="failed (exit $rc)"; failed=1; fi
  {
    printf '\n### %s: %s, %d s\n\n`%s`\n\n```text\n' "$name" "$status" $((SECONDS - t0)) "$*"
    tail -n 40 "$out"
    printf '```\n'
  } >>"$section"
  rm -f "$out"
  echo "gpu_check: $name $status" >&2
}

step test_cuda python -m pytest -q -p no:cacheprovider tests/test_cuda.py -rs
step bench_profile python benchmarks/bench_profile.py --minutes 3 --repeats 3
step bench_procedural python benchmarks/bench_procedural.py --eager
step bench_render python benchmarks/bench_render.py --seconds 30 --floor-seconds 10
step bench_diffusion python benchmarks/bench_diffusion.py --seconds 10 --size 512

[ -f "$results" ] || printf '# GPU check results\n\nAppended by `benchmarks/gpu_check.sh`, newest last.\n' >"$results"
cat "$section" >>"$results"
rm -f "$section"
echo "gpu_check: $((SECONDS - start)) s; figures appended to $results, full output in $log" >&2
exit $failed
