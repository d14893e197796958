"""Show the parity gate failing three broken exports of a real, competent model (docs/benchmarks.md).

python scripts/gate_failures.py CHECKPOINT INT8_ARTIFACT DATA: the fp32 reference is CHECKPOINT, the photos
DATA's test split; the artifact is then fed (1) photos preprocessed with ImageNet's mean/std instead of the
weights' own, (2) its outputs with the class order reversed, (3) a quantisation broken on purpose (the int8
logits plus noise at half their spread). Prints one line per case: passed or the gate's failures.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from seefood.checkpoint import read_meta
from seefood.export.parity import BATCH, ParityThresholds, build_parity_set, compare_logits
from seefood.export.parity_data import photos_from_folder
from seefood.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from seefood.runtimes import load_runtime


def main(checkpoint: str, artifact: str, data: str) -> None:
    meta = read_meta(Path(checkpoint))
    photos = photos_from_folder(Path(data), meta.class_names)
    reference = load_runtime(checkpoint, threads=2)
    parity = build_parity_set(data, list(photos.paths), list(photos.labels), meta.preprocessing, reference)
    runtime = load_runtime(artifact, threads=2, exact=True)
    gate = ParityThresholds(min_agreement=0.97, max_drop=1.0)

    def run(inputs: np.ndarray) -> np.ndarray:
        return np.concatenate([runtime.run(inputs[i:i + BATCH]) for i in range(0, len(inputs), BATCH)])

    good = run(parity.inputs)
    wrong_pre = replace(meta.preprocessing, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    wrong_inputs = wrong_pre.batch([Image.open(p) for p in parity.paths])
    spread = float(good.std())
    cases = {
        "as exported": good,
        "ImageNet mean/std instead of the weights' 0.5/0.5": run(wrong_inputs),
        "class order reversed": good[:, ::-1],
        "broken quantisation (noise at half the logit spread)":
            good + np.random.default_rng(0).normal(0, spread / 2, good.shape).astype(np.float32),
    }
    for name, logits in cases.items():
        r = compare_logits(np.ascontiguousarray(logits, np.float32), parity, gate)
        status = "passed" if r.passed else "FAILED: " + "; ".join(r.failures)
        print(f"{name}: raw agreement {r.top1_agreement:.2%}, confident agreement {r.confident_agreement or 0:.2%} "
              f"of {r.confident_count}, top-1 {100 * (r.accuracy or 0):.2f}% -> {status}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
