"""Classify labelled photos through a built Space's own service, without torch (docs/benchmarks.md, Space).

python scripts/space_accuracy.py SPACE_DIR PHOTOS_DIR: PHOTOS_DIR/<class>/* are sent one by one through
SpaceService.classify, as the Gradio app does; prints top-1 accuracy, the median model and total times,
and that neither torch nor seefood was imported. The prediction log goes to a temporary file.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path


def main(space: str, photos: str) -> None:
    sys.path.insert(0, str(Path(space).resolve()))
    from seefood_runtime.space.service import SpaceService  # the Space's bundled copy, not seefood

    with tempfile.TemporaryDirectory() as tmp:
        service = SpaceService.from_folder(space, log_path=Path(tmp) / "predictions.sqlite")
        right, total, model_ms, total_ms = 0, 0, [], []
        for folder in sorted(p for p in Path(photos).iterdir() if p.is_dir()):
            for photo in sorted(folder.iterdir()):
                prediction = service.classify(photo)
                right += prediction.labels[0][0] == folder.name
                total += 1
                model_ms.append(prediction.model_ms)
                total_ms.append(prediction.total_ms)
        service.close()
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "seefood"))
    print(f"{right}/{total} = {100 * right / total:.2f}% top-1 through the Space; model p50 "
          f"{statistics.median(model_ms):.2f} ms, request p50 {statistics.median(total_ms):.2f} ms; "
          f"imported torch/seefood: {leaked or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
