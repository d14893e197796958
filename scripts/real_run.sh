#!/usr/bin/env bash
# The real run recorded in docs/benchmarks.md: effnet_b2 and vit_b16 trained from scratch (no internet
# for ImageNet weights here) on the Food-101 sample, exported with int8, pruned, benched on this CPU,
# picked, and shipped as a Space. Stages can be run one by one: bash scripts/real_run.sh STAGE...
# The competent model: train-lite2 export-lite2 prune-lite2 bench-lite2 pick-lite2 space-lite2 latency-lite2.
# (train-effnet train-vit export-effnet export-vit prune bench pick space). Outputs go under runs/.
# The 288-px effnet_b2 stages (export-288 prune-288 prune-288-d7 latency-288) start from runs/gpu/train/best and
# runs/gpu/prune/baseline/best, which scripts/gpu_check.sh trains on a lent GPU (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/food101-sample}
SF=.venv/bin/seefood
# Do not set OMP_WAIT_POLICY=PASSIVE here: it keeps background jobs polite but slows eager PyTorch by ~45 %,
# which would inflate every speed-up against eager.

stage() {
  case "$1" in
    train-effnet)
      # two legs: 8 epochs at batch 32 with TrivialAugment, then 8 more from its last weights at batch 16
      $SF train --model effnet_b2 --weights none --data "$DATA" --image-size 160 --epochs 8 --batch-size 32 \
        --lr 2e-3 --threads 2 --workers 1 --patience 0 --out runs/effnet_b2 --force
      $SF train --model effnet_b2 --weights runs/effnet_b2/last --data "$DATA" --image-size 160 --epochs 8 \
        --batch-size 16 --lr 1.5e-3 --augment none --threads 2 --workers 1 --patience 0 --out runs/effnet_b2_ft --force ;;
    train-vit)
      $SF train --model vit_b16 --weights none --data "$DATA" --subset 0.5 --epochs 1 --batch-size 16 --lr 3e-4 \
        --warmup-epochs 0.3 --augment none --threads 2 --workers 1 --patience 0 --out runs/vit_b16 --force ;;
    export-effnet)
      .venv/bin/seefood-export runs/effnet_b2_ft/best --out runs/effnet_b2-export --int8 --parity-data "$DATA" \
        --threads 2 --force || true ;;
    export-vit)
      .venv/bin/seefood-export runs/vit_b16/best --out runs/vit_b16-export --int8 --parity-data "$DATA" --parity-size 200 --calib-size 128 \
        --calib-data "$DATA" --threads 2 --force || true ;;
    prune)
      $SF prune runs/effnet_b2_ft/best --ratio 0.3 --data "$DATA" --out runs/effnet_b2-pruned --finetune-epochs 3 --workers 1 \
        --threads 2 --force || true
      .venv/bin/seefood-export runs/effnet_b2-pruned/checkpoint --out runs/effnet_b2-pruned-export --int8 \
        --parity-data "$DATA" --calib-data "$DATA" --threads 2 --force || true ;;
    bench)
      $SF bench runs/effnet_b2-export runs/effnet_b2-pruned-export --data "$DATA" --out runs/report-effnet \
        --batch-sizes 1,8 --threads 2 --force
      $SF bench runs/vit_b16-export --data "$DATA" --out runs/report-vit --batch-sizes 1,8 --threads 2 \
        --min-runs 10 --min-time 1 --limit 200 --force ;;
    pick)
      $SF pick runs/report-effnet --device cpu --max-drop 1.0 --batch-size 1
      $SF pick runs/report-vit --device cpu --max-drop 1.0 --batch-size 1 || true ;;
    space)
      $SF space build runs/report-effnet/decision.json --out runs/space-effnet --force ;;
    export-288)
      $SF export runs/gpu/prune/baseline/best --out runs/effnet288-export --int8 --parity-data "$DATA" \
        --calib-data "$DATA" --threads 2 --force || true
      $SF export runs/gpu/prune/baseline/best --out runs/effnet288-ptq-export --formats onnx,openvino --int8 \
        --int8-recipe nncf-ptq,ort-static --parity-data "$DATA" --calib-data "$DATA" --threads 2 --force || true
      $SF bench runs/effnet288-export runs/effnet288-ptq-export/failed/openvino-int8 \
        runs/effnet288-ptq-export/failed/onnx-int8 --data "$DATA" --out runs/report-effnet288-b1 --batch-sizes 1 \
        --threads 2 --force ;;
    prune-288)
      $SF prune runs/gpu/train/best --ratio 0.5 --data "$DATA" --out runs/effnet288-prune-0.5 --finetune-epochs 5 \
        --baseline --batch-size 16 --lr 1e-3 --workers 1 --threads 2 --device cpu --latency-runs 30 --force || true
      for c in checkpoint baseline/best; do
        $SF export "runs/effnet288-prune-0.5/$c" --out "runs/effnet288-prune-0.5-export-${c//\//-}" \
          --formats onnx,openvino --int8 --int8-recipe nncf-ptq,ort-static --parity-data "$DATA" --calib-data "$DATA" \
          --threads 2 --force || true
      done ;;
    prune-288-d7)
      # depth + width: 7 whole residual blocks (B0's depth), then 30 % of the rest as channels; 10 epochs each
      $SF prune runs/gpu/train/best --ratio 0.3 --drop-blocks 7 --data "$DATA" --out runs/effnet288-prune-0.3-d7 \
        --finetune-epochs 10 --baseline --batch-size 16 --lr 1e-3 --workers 1 --threads 2 --device cpu --force || true
      for c in checkpoint baseline/best; do
        $SF export "runs/effnet288-prune-0.3-d7/$c" --out "runs/effnet288-prune-0.3-d7-export-${c//\//-}" \
          --formats onnx,openvino --int8 --int8-recipe nncf-ptq,ort-static --parity-data "$DATA" --calib-data "$DATA" \
          --threads 2 --force || true
      done ;;
    latency-288)
      mkdir -p runs/latency
      $SF latency runs/gpu/prune/baseline/best runs/effnet288-ptq-export/failed/openvino-int8 --rounds 80 --block 5 \
        --threads 2 --json runs/latency/eager-vs-ov-int8.json --force
      $SF latency runs/effnet288-prune-0.5-export-baseline-best/failed/openvino-int8 \
        runs/effnet288-prune-0.5-export-checkpoint/failed/openvino-int8 --rounds 80 --block 5 --threads 2 \
        --json runs/latency/prune05-ov-int8.json --force
      $SF latency runs/effnet288-prune-0.3-d7-export-baseline-best/failed/openvino-int8 \
        runs/effnet288-prune-0.3-d7-export-checkpoint/failed/openvino-int8 --rounds 80 --block 5 --threads 2 \
        --json runs/latency/prune03d7-ov-int8.json --force ;;
    # --- EfficientNet-Lite2 from its packaged ImageNet weights: the competent model through the whole path ---
    train-lite2)
      $SF train --model effnet_lite2 --weights imagenet --data "$DATA" --train-size 224 --crop-scale 0.2 \
        --head-epochs 2 --epochs 20 --lr 2e-3 --backbone-lr-scale 0.2 --freeze-bn --warmup-epochs 0.5 --batch-size 32 \
        --workers 2 --threads 2 --patience 0 --out runs/lite2 --force
      $SF evaluate runs/lite2/best --data "$DATA" --out runs/lite2-eval --threads 2 --force ;;
    export-lite2)
      .venv/bin/seefood-export runs/lite2/best --out runs/lite2-export --int8 --parity-data "$DATA" \
        --calib-data "$DATA" --threads 2 --force || true ;;
    prune-lite2)
      # depth (+ width with LITE2_RATIO > 0), recovery fine-tuning distilled from the unpruned model;
      # LITE2_BASELINE=--baseline adds the same-budget unpruned baseline (doubles the time)
      $SF prune runs/lite2/best --ratio "${LITE2_RATIO:-0}" --drop-blocks "${LITE2_BLOCKS:-2}" --data "$DATA" \
        --out runs/lite2-prune --finetune-epochs "${LITE2_FT:-4}" ${LITE2_BASELINE:-} --lr "${LITE2_LR:-1e-4}" \
        --batch-size 32 --workers 2 --threads 2 --device cpu --force || true
      for c in checkpoint baseline/best; do
        .venv/bin/seefood-export "runs/lite2-prune/$c" --out "runs/lite2-prune-export-${c//\//-}" \
          --formats onnx,openvino --int8 --parity-data "$DATA" --calib-data "$DATA" --threads 2 --force || true
      done ;;
    bench-lite2)
      $SF bench runs/lite2-export runs/lite2-prune-export-checkpoint --data "$DATA" --out runs/report-lite2 \
        --batch-sizes 1,8 --threads 2 --force ;;
    pick-lite2)
      $SF pick runs/report-lite2 --device cpu --max-drop 1.0 --batch-size 1 ;;
    space-lite2)
      $SF space build runs/report-lite2/decision.json --out runs/space-lite2 --force ;;
    latency-lite2)
      mkdir -p runs/latency
      $SF latency runs/lite2/best runs/lite2-export/onnx-fp32 runs/lite2-export/openvino-int8 runs/lite2-export/onnx-int8 \
        runs/lite2-prune-export-checkpoint/onnx-int8 runs/lite2-prune-export-checkpoint/openvino-int8 --rounds 40 --block 5 --threads 2 \
        --json runs/latency/lite2.json --force ;;
    *) echo "unknown stage $1" >&2; exit 2 ;;
  esac
}

for s in "${@:-train-effnet train-vit export-effnet export-vit prune bench pick space}"; do
  for t in $s; do stage "$t"; done
done
