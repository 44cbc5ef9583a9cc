#!/usr/bin/env bash
# Everything fnn_numba checks on a GPU, in one run of about 9 minutes:
#
#   bash benchmarks/gpu_run.sh          # from the repository root; output under $OUT (default ./gpu-out)
#
# 1. a virtualenv over the system Python (python3 -m venv --system-site-packages, so that
#    numba-cuda's .pth import redirector is processed) with the wheels carried in .whl/
#    (numba-cuda 0.30.4 and NumPy 2.4.6 for cp312: numba-cuda 0.30.4 cannot compile under
#    NumPy 2.5) installed with --no-index --no-deps; CUDA_HOME=/usr/local/cuda for NVVM;
# 2. the versions (nvidia-smi, python, numpy, numba, numba-cuda, torch);
# 3. every kernel once against its CPU twin (tests/cuda_smoke.py kernels);
# 4. compute-sanitizer --tool synccheck and --tool racecheck on a tiny network
#    (tests/cuda_smoke.py tiny);
# 5. benchmarks/gpu_check.py (correctness, digits, cold/warm cache) and
#    benchmarks/bench_gpu.py (samples/s against PyTorch, GEMM GFLOP/s against cuBLAS, the
#    fused-epoch sweep), each under `timeout`.
#
# Each step's output goes to $OUT/<step>.log and a line per step to $OUT/summary.txt; the
# script's exit status is the number of steps that failed. The step budgets add up to the
# ~9 minutes a device session allows; a step that runs out is reported as "timed out".
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
START=$(date +%s)
DEADLINE=$((START + ${GPU_RUN_SECONDS:-540}))
FAILED=0
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

note() { echo "$*" | tee -a "$SUMMARY"; }

# run NAME BUDGET_SECONDS COMMAND...: at most BUDGET seconds, and never past the deadline
run() {
    local name=$1 budget=$2
    shift 2
    local left=$((DEADLINE - $(date +%s) - 5))
    if [ "$left" -lt 10 ]; then
        note "$name: not run (out of time)"
        FAILED=$((FAILED + 1))
        return
    fi
    [ "$budget" -gt "$left" ] && budget=$left
    local t0=$(date +%s)
    timeout --kill-after=5 "$budget" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    local took=$(($(date +%s) - t0))
    if [ "$rc" -eq 0 ]; then
        note "$name: ok (${took} s)"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        note "$name: timed out after ${budget} s"
        FAILED=$((FAILED + 1))
    else
        note "$name: FAILED, exit $rc (${took} s); last lines:"
        tail -n 15 "$OUT/$name.log" | sed 's/^/    /' | tee -a "$SUMMARY"
        FAILED=$((FAILED + 1))
    fi
}

export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
export PATH="$PATH:$CUDA_HOME/bin:$CUDA_HOME/compute-sanitizer"
export NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0
# unbuffered: a step cut off by its timeout still leaves everything it printed
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD"
# one cache for the steps after the smoke test: each compiles only what the earlier ones did not
export NUMBA_CACHE_DIR=/tmp/fnn-numba-cache
VENV=/tmp/gpuvenv

# 1. the environment
# (--without-pip: the system's pip, visible through --system-site-packages, installs into the
# venv, so that no ensurepip is needed)
run setup 40 bash -c "rm -rf $VENV && python3 -m venv --system-site-packages --without-pip $VENV \
    && $VENV/bin/python -m pip install --no-index --no-deps --ignore-installed -q \
    .whl/numba_cuda-0.30.4-*.whl .whl/numpy-2.4.6-*.whl && $VENV/bin/python -c \
    'import numpy, numba_cuda; print(numpy.__file__, numpy.__version__, numba_cuda.__version__)'"
PY="$VENV/bin/python"
[ -x "$PY" ] || PY=python3

# 2. the versions
run versions 20 bash -c "nvidia-smi; $PY tests/cuda_smoke.py versions"

# 3. every kernel once (compiles them all: the cold cost is here)
run smoke 80 "$PY" tests/cuda_smoke.py kernels

# 4. the sanitizers on a tiny network (both paths, every kernel a fit uses)
SANITIZER=$(command -v compute-sanitizer || true)
if [ -n "$SANITIZER" ]; then
    run synccheck 40 "$SANITIZER" --tool synccheck --error-exitcode 3 "$PY" tests/cuda_smoke.py tiny
    run racecheck 50 "$SANITIZER" --tool racecheck --error-exitcode 3 "$PY" tests/cuda_smoke.py tiny
else
    note "synccheck, racecheck: not run (no compute-sanitizer on PATH or in \$CUDA_HOME)"
    FAILED=$((FAILED + 1))
fi

# 5. correctness, then speed
run gpu_check 170 "$PY" benchmarks/gpu_check.py
run bench_gpu 120 "$PY" benchmarks/bench_gpu.py --seconds 0.5

note "total: $(($(date +%s) - START)) s, $FAILED step(s) failed"
cat "$OUT"/gpu_check.log "$OUT"/bench_gpu.log 2>/dev/null | tail -n 80
exit "$FAILED"
