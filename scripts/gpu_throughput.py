"""Fine-tuning throughput (images/s) on CUDA: bf16 autocast + channels_last, eager vs torch.compile.

Run by scripts/gpu_check.sh on a machine with an NVIDIA GPU. Synthetic batches isolate the GPU
step from data loading; the numbers are training-step throughput, not end-to-end epochs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from torch import nn

from seefood.models import create_model, get_spec


def measure(name: str, batch: int, compile_: bool, steps: int, warmup: int) -> dict[str, object]:
    """Images/s of forward+backward+AdamW steps for one model."""
    spec = get_spec(name)
    size = spec.preprocessing.crop
    model = create_model(name, 101).cuda().to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step_model = torch.compile(model) if compile_ else model
    x = torch.randn(batch, 3, size, size, device="cuda").to(memory_format=torch.channels_last)
    y = torch.randint(0, 101, (batch,), device="cuda")
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(step_model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {
        "model": name, "image_size": size, "batch": batch, "compile": compile_, "amp": "bf16",
        "channels_last": True, "steps": steps, "images_per_s": round(batch * steps / dt, 1),
        "warmup_s": round(warm_s, 1), "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }


def main() -> int:
    """Print one JSON line per (model, compile) and a small table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="effnet_b2,vit_b16")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    rows = []
    for name in args.models.split(","):
        for compile_ in (False, True):
            try:
                row = measure(name, args.batch, compile_, args.steps, args.warmup)
            except Exception as exc:  # record, keep measuring the others
                row = {"model": name, "compile": compile_, "error": f"{type(exc).__name__}: {exc}"[:300]}
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            print(json.dumps(row), flush=True)
            rows.append(row)
    env = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda}
    print(json.dumps({"env": env}))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"env": env, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
