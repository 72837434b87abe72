#!/usr/bin/env bash
# The whole mlsm_small recipe on one CUDA GPU, in invocations of at most ~9 minutes each.
#
#   scripts/train_gpu.sh                  # run, re-run until it prints "done"
#   scripts/train_gpu.sh --budget 300     # training seconds for this invocation (default 480)
#   scripts/train_gpu.sh --out runs/gpu2  # run folder (default runs/gpu)
#   scripts/train_gpu.sh --cpu-smoke      # the same chain on the CPU with a few steps per stage
#
# Stages, as scripts/train_default.sh (same steps, seeds and settings), then the real-pair
# fine-tune of configs/mlsm_small_real.yaml (LOL-v1 our485 from ../shared/data/lol):
#   vae  -> map (7065 of 15k steps) -> tune (D_N, 128 crops) -> tune2 (whole chain, best kept)
#        -> real (LOL + synthetic, best on val_real_psnr) -> exposure head -> OUT/model.safetensors
# A stage is done when its final.pt exists; an unfinished one is resumed from its last.pt.
# Each invocation trains until the time budget, sends SIGTERM (the loop checkpoints at the next
# step boundary and exits) and stops; the next invocation carries on from there.
# Needs: this repo installed (pip install -e .) with a CUDA build of torch, and ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."

BUDGET=480
OUT=runs/gpu
SMOKE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --budget) BUDGET="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --cpu-smoke) SMOKE=1; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "train_gpu.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

python -c "import mlsm" 2>/dev/null || pip install -q -e .
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # per data-loader worker; the GPU does the maths
CFG=configs/mlsm_small.yaml
REAL=configs/mlsm_small_real.yaml
DEADLINE=$(( $(date +%s) + BUDGET ))
if [ "$SMOKE" = 1 ]; then
    # tiny steps on the CPU: checks the chain (resume, export, exposure head), not the model
    COMMON=(--set train.device=cpu --set train.num_threads=1 --set train.num_workers=0
            --set train.tensorboard=false --set train.log_every=1 --set data.validation_images=1
            --set data.validation_crop=64)
    steps() { echo "--set train.steps=4 --set train.val_every=2"; }
    STOP="--set train.stop_after=4"
    VAL_REAL=(--set data.validation_pairs_crop=64)
else
    COMMON=(--set train.device=cuda --set train.num_workers=12 --set train.checkpoint_minutes=2
            --set train.tensorboard=true)
    steps() { echo "--set train.steps=$1 --set train.val_every=$2"; }
    STOP="--set train.stop_after=7065"
    VAL_REAL=()
fi

# run_stage NAME WEIGHTS_FILE ARGS...: skip when OUT/NAME/WEIGHTS_FILE exists, else train (or
# resume) until it finishes or the budget is spent; returns 1 when the budget ran out.
run_stage() {
    local name="$1" weights="$2"
    shift 2
    if [ -f "$OUT/$name/$weights" ]; then
        echo "== $name: done ($OUT/$name/$weights)"
        return 0
    fi
    local left=$(( DEADLINE - $(date +%s) ))
    if [ "$left" -lt 30 ]; then
        echo "== $name: time budget spent; re-run scripts/train_gpu.sh to continue"
        return 1
    fi
    echo "== $name: training for at most ${left}s"
    local rc=0
    timeout --signal=TERM --kill-after=90 "$left" mlsm train "$@" --out "$OUT/$name" --resume \
        "${COMMON[@]}" || rc=$?
    if [ -f "$OUT/$name/$weights" ]; then
        return 0
    fi
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
        echo "== $name: failed (exit $rc)" >&2
        exit "$rc"
    fi
    echo "== $name: stopped before the end of its schedule (last.pt); re-run scripts/train_gpu.sh to continue"
    return 1
}

# a stage is done when the loop wrote OUT/NAME/final.pt (after its last step)
run_stage vae final.pt vae --config $CFG $(steps 10000 1000) || exit 0
# stage 2 stops at step 7065 of a 15k schedule (last.pt at the stop); stage2.done marks it
if [ ! -f "$OUT/map/stage2.done" ]; then
    run_stage map stage2.done map --config $CFG --vae "$OUT/vae/vaes.safetensors" $(steps 15000 1500) $STOP || true
    [ -f "$OUT/map/last.pt" ] || exit 0
    python - "$OUT/map/last.pt" "$OUT/map/stage2.done" <<'EOF' || exit 0
import sys
from pathlib import Path

from mlsm.train.checkpoint import load_checkpoint

checkpoint = load_checkpoint(sys.argv[1])
if checkpoint["step"] < checkpoint["options"]["stop_after"]:
    sys.exit(1)
Path(sys.argv[2]).write_text(f"stopped at step {checkpoint['step']}\n")
EOF
fi
TUNE=(--set mapping.tune_decoder=true --set data.crop_size=128 --set train.batch_size=8
      --set data.validation_crop=256)
run_stage tune final.pt map --config $CFG --vae "$OUT/vae/vaes.safetensors" --init "$OUT/map/last.pt" \
    "${TUNE[@]}" --set train.lr=5e-4 $(steps 6000 1000) || exit 0
run_stage tune2 final.pt map --config $CFG --vae "$OUT/vae/vaes.safetensors" --init "$OUT/tune/last.pt" \
    "${TUNE[@]}" --set mapping.tune_encoder=true --set train.lr=2.5e-4 --set train.keep_best=val_psnr \
    --set train.seed=1 $(steps 4000 500) || exit 0
run_stage real final.pt map --config $REAL --init "$OUT/tune2/best.safetensors" \
    ${VAL_REAL[@]+"${VAL_REAL[@]}"} $(steps 6000 500) || exit 0

FINAL="$OUT/real/best.safetensors"
if mlsm train exposure --help >/dev/null 2>&1; then
    if [ ! -f "$OUT/final/model.safetensors" ]; then
        echo "== exposure head"
        exposure_args=(--config $REAL --init "$FINAL" --out "$OUT/final")
        if [ "$SMOKE" = 1 ]; then exposure_args+=(--set exposure.draws=1); fi
        timeout --signal=TERM "$(( DEADLINE - $(date +%s) + 60 ))" mlsm train exposure "${exposure_args[@]}" || {
            echo "== exposure head: not fitted within the budget; re-run scripts/train_gpu.sh" >&2
            exit 0
        }
    fi
    FINAL="$OUT/final/model.safetensors"
fi
if mlsm train keep-gate --help >/dev/null 2>&1 && [ -f "$OUT/final/model.safetensors" ]; then
    if [ ! -f "$OUT/keep_gate/model.safetensors" ]; then
        echo "== keep gate and brightness floor"
        timeout --signal=TERM "$(( DEADLINE - $(date +%s) + 60 ))" mlsm train keep-gate --config configs/keep_gate.yaml \
            --init "$OUT/final/model.safetensors" --out "$OUT/keep_gate" || {
            echo "== keep gate: not fitted within the budget; re-run scripts/train_gpu.sh" >&2
            exit 0
        }
    fi
    FINAL="$OUT/keep_gate/model.safetensors"
fi
cp "$FINAL" "$OUT/model.safetensors"
echo "done: $OUT/model.safetensors (from $FINAL)"
