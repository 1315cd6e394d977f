#!/usr/bin/env bash
# Every GPU measurement of issue 12 in one run of at most ~8 minutes on the lent GPU machine
# (one H100/H200, CUDA 13 driver, PyTorch at /opt/torch/.venv, no Rust toolchain, no network):
# `asma bench pretrain` and `asma bench ops` for each carried binary, GPU device and
# formulation, each with PyTorch CUDA timed by the same command. tools/gpu/README.md says how
# to build the carried binaries and which `run` call to make.
#
# Steps run in priority order under one time budget: each gets its own `timeout` (a hang
# costs that step, not the run) and is skipped when the budget left is too small. After every
# step the results so far are packed into $OUT/results-gpu.tar.gz (one folder,
# `run-<UTC time>/`, to unpack into results/gpu/), with $OUT/summary.md and $OUT/log.txt
# beside it, so a run cut short still returns what it measured.
#
# ASMA_GPU_DRY=1 runs the same steps locally on the CPU device at tiny sizes (a test of the
# script, not a measurement), with the binary at ASMA_GPU_BIN (default target/release/asma)
# and, if ASMA_GPU_PARITY names one, a CPU build of the parity test binary.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

DRY=${ASMA_GPU_DRY:-0}
BUDGET=${ASMA_GPU_BUDGET:-470}
PYTHON=${ASMA_GPU_PYTHON:-/opt/torch/.venv/bin/python}
OUT=${OUT:-$(mktemp -d)}
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
WORK=/tmp/asma-gpu
RES=$WORK/run-$STAMP
BIN=$WORK/bin
mkdir -p "$RES" "$BIN" "$OUT"
LOG=$RES/log.txt
START=$SECONDS

log() { echo "[$(( SECONDS - START ))s] $*" | tee -a "$LOG"; }
left() { echo $(( BUDGET - (SECONDS - START) )); }

pack() {
  "$PY" "$ROOT/tools/gpu/summarize.py" "$RES" >"$RES/summary.md" 2>>"$LOG"
  tar -czf "$OUT/results-gpu.tar.gz" -C "$WORK" "run-$STAMP"
  cp "$RES/summary.md" "$LOG" "$OUT/" 2>/dev/null
}

# step NAME MIN_SECONDS MAX_SECONDS ENV... -- COMMAND...: runs COMMAND with stdout to
# NAME.json (NAME itself when it has an extension) and stderr to NAME.err, limited to MAX_SECONDS and to the budget left; skipped
# when less than MIN_SECONDS are left.
step() {
  local name=$1 min=$2 max=$3
  shift 3
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local l
  l=$(left)
  if [ "$l" -lt "$min" ]; then
    log "SKIP $name: ${l}s left, needs ${min}s"
    echo "skipped: ${l}s of the budget left, needs ${min}s" >"$RES/$name.err"
    return
  fi
  local limit=$(( l < max ? l : max ))
  log "RUN  $name (limit ${limit}s): ${envs[*]} $*"
  local t0=$SECONDS out=$RES/$name
  case "$name" in *.*) ;; *) out=$out.json ;; esac
  env "${envs[@]}" timeout -k 5 "$limit" "$@" >"$out" 2>"$RES/$name.err"
  local rc=$?
  log "DONE $name rc=$rc in $(( SECONDS - t0 ))s"
  [ "$rc" -eq 124 ] && echo "timed out after ${limit}s" >>"$RES/$name.err"
  tail -n 3 "$RES/$name.err" | sed 's/^/       /' | tee -a "$LOG" >/dev/null
  pack
}

if [ "$DRY" = 1 ]; then
  PY=python3
  DEVICES_GPU=(cpu)
  DEVICES_CUDA=()
  cp "${ASMA_GPU_BIN:-target/release/asma}" "$BIN/asma-dry"
  # A CPU build of the parity tests, to exercise that step too (optional).
  [ -n "${ASMA_GPU_PARITY:-}" ] && cp "$ASMA_GPU_PARITY" "$BIN/parity-dry"
  # Tiny sizes: the script's logic, not a measurement; PyTorch only where it is installed.
  PRE=(--batch 2 --proj-dim 64 --steps 1)
  OPS=(--batch 2 --reps 1)
  TORCH=()
  if python3 -c 'import torch' 2>/dev/null; then TORCH=(--python python3 --torch-device cpu); fi
else
  PY=$PYTHON
  [ -x "$PY" ] || PY=python3
  # The Vulkan loader, carried as Debian packages (/work/.library/device/README.md).
  for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
  ldconfig
  if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
  # The CUDA device compiles its kernels with NVRTC at run time: it needs the CUDA headers
  # (CUDA_PATH/include) and libnvrtc, from the toolkit or from PyTorch's wheels.
  export CUDA_PATH=${CUDA_PATH:-/usr/local/cuda}
  NVRTC_DIR=$(dirname "$(find "$CUDA_PATH"/ /opt/torch/.venv -name 'libnvrtc.so*' 2>/dev/null | head -n1)" 2>/dev/null)
  export LD_LIBRARY_PATH=${NVRTC_DIR:-$CUDA_PATH/lib64}:$CUDA_PATH/lib64:${LD_LIBRARY_PATH:-}
  for f in .gpu-bin/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    case "$name" in
      *.xz) if command -v xz >/dev/null; then xz -dc "$f" >"$BIN/${name%.xz}"; else
              "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
                "$f" "$BIN/${name%.xz}"; fi ;;
      *.gz) gzip -dc "$f" >"$BIN/${name%.gz}" ;;
      *) cp "$f" "$BIN/$name" ;;
    esac
  done
  chmod +x "$BIN"/* 2>/dev/null
  DEVICES_GPU=(gpu)
  DEVICES_CUDA=(cuda)
  # The paper's step: one encoder, three views, batch 128, projector 6144.
  PRE=(--batch 128 --proj-dim 6144 --steps 5)
  OPS=(--batch 128 --reps 10)
  TORCH=(--python "$PY" --torch-device cuda)
fi
export ASMA_REFERENCE_DIR=$ROOT/tools/reference

{
  echo "stamp $STAMP dry=$DRY budget=${BUDGET}s"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")' 2>&1
  ls -l "$BIN"
  git -C "$ROOT" log -1 --format='commit %H' 2>/dev/null
  echo "uncommitted files: $(git -C "$ROOT" status --short 2>/dev/null | wc -l)"
} >"$RES/env.txt" 2>&1
for b in "$BIN"/asma-*; do [ -e "$b" ] && "$b" --version >>"$RES/env.txt" 2>&1; done
cat "$RES/env.txt" | tee -a "$LOG"
pack

# The binaries, named by their Cargo features (tools/gpu/README.md): the plain GPU build
# first, fusion last; its name says whether it has the `cuda` device.
mapfile -t BINS < <(ls "$BIN" | grep '^asma-' | grep -v fusion | sort; ls "$BIN" | grep '^asma-.*fusion' | sort)
if [ "${#BINS[@]}" -eq 0 ]; then
  log "no binary in .gpu-bin/ (tools/gpu/README.md): nothing to measure"
  exit 1
fi
log "binaries: ${BINS[*]}"

pretrain() { # tag binary device conv norm min max env...
  local tag=$1 b=$2 dev=$3 conv=$4 norm=$5 min=$6 max=$7
  shift 7
  step "pretrain_${tag}" "$min" "$max" "$@" -- "$BIN/$b" bench pretrain --device "$dev" \
    "${PRE[@]}" --conv "$conv" --norm "$norm" "${TORCH[@]}" --json
}
ops() { # tag binary device min max
  step "ops_$1" "$4" "$5" -- "$BIN/$2" bench ops --device "$3" "${OPS[@]}" "${TORCH[@]}" --json
}

# 1. The new forms on each plain binary's devices and the per-op tables; later the old forms
#    with autotune, then fusion builds. CUDA only in binaries built with it (`*cuda*`).
for b in "${BINS[@]}"; do
  case "$b" in *fusion*) continue ;; esac
  devs=("${DEVICES_GPU[@]}")
  case "$b" in *cuda*) devs+=("${DEVICES_CUDA[@]}") ;; esac
  for d in "${devs[@]}"; do
    pretrain "${b}_${d}_shifted" "$b" "$d" shifted sums,burn 40 150
    ops "${b}_${d}" "$b" "$d" 25 75
  done
done
# 2. The PyTorch parity tests on every device of a carried test binary (`parity-*`, built with
#    the GPU features: tools/gpu/README.md), every form; a GPU that cannot run fails them.
#    ASMA_MODEL_FIXTURES points the binary at this tree's fixtures.
for f in "$BIN"/parity-*; do
  [ -e "$f" ] || continue
  step "parity_$(basename "$f").txt" 30 150 ASMA_REQUIRE_GPU=1 \
    ASMA_MODEL_FIXTURES="$ROOT/crates/asma-model/tests/fixtures" -- "$f" --test-threads 1 --nocapture
done
for b in "${BINS[@]}"; do
  case "$b" in *fusion*) continue ;; esac
  pretrain "${b}_${DEVICES_GPU[0]}_old" "$b" "${DEVICES_GPU[0]}" matmul,direct auto 40 120
done
for b in "${BINS[@]}"; do
  case "$b" in *fusion*) ;; *) continue ;; esac
  # fusion: shifted forms only (the candidate), to compare with the plain build's row.
  pretrain "${b}_${DEVICES_GPU[0]}_shifted" "$b" "${DEVICES_GPU[0]}" shifted sums 40 100
  ops "${b}_${DEVICES_GPU[0]}" "$b" "${DEVICES_GPU[0]}" 25 60
done
# 3. What autotuning costs on the first step at its lowest level (the default level's first
#    step is in every pretrain_*.json as first_step_seconds).
pretrain "${BINS[0]}_${DEVICES_GPU[0]}_tune_minimal" "${BINS[0]}" "${DEVICES_GPU[0]}" shifted sums 40 90 \
  CUBECL_AUTOTUNE_LEVEL=minimal

log "finished, $(left)s of the budget left"
pack
cat "$RES/summary.md"
