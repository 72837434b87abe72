#!/usr/bin/env bash
# Reproduces the shipped models mlsm_small.synth_dark_jpeg and the default mlsm_small.real_exposure (and the direct ablation)
# exactly as it was trained: single-threaded CPU runs, seed 0, data from ../shared/data/photos.
# Resume any interrupted step by re-running it with --resume added.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
CFG=configs/mlsm_small.yaml
T="--set train.num_threads=1"

# stage 1 (eq. 12-13): VAE_C and VAE_N, 10k steps, batch 16 of 64x64, lr 1e-3 linear decay
mlsm train vae --config $CFG --out runs/vae --set train.steps=10000 --set train.val_every=1000 $T
# stage 2 (eq. 18): the mappers with both VAEs frozen; schedule of 15k steps, stopped at 7065
mlsm train map --config $CFG --vae runs/vae/vaes.safetensors --out runs/map \
    --set train.steps=15000 --set train.stop_after=7065 --set train.val_every=1500 $T
# stage 2b (our extension): mappers + D_N on 128x128 crops, batch 8, lr 5e-4, 6k steps
mlsm train map --config $CFG --vae runs/vae/vaes.safetensors --init runs/map/last.pt --out runs/tune \
    --set mapping.tune_decoder=true --set data.crop_size=128 --set train.batch_size=8 \
    --set train.lr=5e-4 --set train.steps=6000 --set train.val_every=1000 --set data.validation_crop=256 $T
# stage 2c (our extension): the whole chain D_N o {M_i} o E_C end to end, 4k steps, lr 2.5e-4,
# keeping the weights of the best validation PSNR (6 Kodak centre crops, validated every 500)
mlsm train map --config $CFG --vae runs/vae/vaes.safetensors --init runs/tune/last.pt --out runs/tune2 \
    --set mapping.tune_decoder=true --set mapping.tune_encoder=true --set data.crop_size=128 \
    --set train.batch_size=8 --set train.lr=2.5e-4 --set train.steps=4000 --set train.val_every=500 \
    --set train.keep_best=val_psnr --set data.validation_crop=256 --set train.seed=1 $T
# the global exposure head (mlsm/models/exposure.py): ridge fit on 25 degradations per photo
mlsm train exposure --config $CFG --init runs/tune2/best.safetensors --out runs/final $T
cp runs/final/model.safetensors mlsm/weights/mlsm_small.synth_dark_jpeg.safetensors
# the default, mlsm_small.real_exposure: the same network and head, plus the keep gate and the
# brightness floor (30 s; configs/keep_gate.yaml)
mlsm train keep-gate --config configs/keep_gate.yaml --init runs/final/model.safetensors --out runs/keep_gate $T
cp runs/keep_gate/model.safetensors mlsm/weights/mlsm_small.real_exposure.safetensors

# the no-mapping ablation (IV-F) with the same step budget and the same two-phase recipe:
# 17167 steps at 64x64 (of a 25k schedule), then 6k + 4k steps at 128x128 (best validation
# weights kept), then the same exposure head
mlsm train direct --config $CFG --out runs/direct --set train.steps=25000 --set train.stop_after=17167 \
    --set train.val_every=2500 $T
mlsm train direct --config $CFG --init runs/direct/last.pt --out runs/direct_tune \
    --set data.crop_size=128 --set train.batch_size=8 --set train.lr=5e-4 --set train.steps=6000 \
    --set train.val_every=1000 --set data.validation_crop=256 $T
mlsm train direct --config $CFG --init runs/direct_tune/last.pt --out runs/direct_tune2 \
    --set data.crop_size=128 --set train.batch_size=8 --set train.lr=2.5e-4 --set train.steps=4000 \
    --set train.val_every=500 --set train.keep_best=val_psnr --set data.validation_crop=256 --set train.seed=1 $T
mlsm train exposure --config $CFG --init runs/direct_tune2/best.safetensors --out runs/direct_final $T
mkdir -p runs/ablation
cp runs/direct_final/model.safetensors runs/ablation/direct.safetensors
cp runs/tune2/best.safetensors runs/ablation/mlsm_no_head.safetensors        # the shipped network alone
python scripts/checkpoint_to_weights.py runs/map/last.pt --vae runs/vae/vaes.safetensors \
    -o runs/ablation/stage2.safetensors                                       # the paper's stage 2 alone
