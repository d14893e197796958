#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (no registry there: it runs from the source tree
# with the image's own torch/torchvision/onnx/onnxruntime). Runs the CUDA-marked tests, then
# fine-tuning throughput, then the CUDA bench. Results go to $OUT (or ./gpu-out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 - <<'PY' | tee "$OUT/env.txt"
import torch, torchvision
print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda)
print("gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
PY
echo "== CUDA-marked tests"
python3 -m pytest -q -m "gpu" -p no:cacheprovider tests 2>&1 | tee "$OUT/pytest-gpu.log" | tail -25
echo "== fine-tuning throughput (bf16 autocast, channels_last, eager vs compile)"
timeout 300 python3 scripts/gpu_throughput.py --out "$OUT/throughput.json" 2>&1 | tail -20
if [ -x scripts/gpu_bench.sh ]; then
  echo "== CUDA bench"
  timeout 200 bash scripts/gpu_bench.sh "$OUT" 2>&1 | tail -40
fi
