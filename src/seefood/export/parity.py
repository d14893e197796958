"""Parity: does an artifact predict what the fp32 PyTorch model predicts, on real labelled photos?

The photos are preprocessed and run through the reference model once (`ParitySet`); every artifact is
then compared with those logits, and every miss is collected into one `ParityResult`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from seefood.errors import ParityError
from seefood.preprocessing import Preprocessing
from seefood.runtimes.base import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH = 32  # images per runtime call; static-batch runtimes split it themselves


@dataclass(frozen=True)
class ParityThresholds:
    """What an artifact must reach to pass.

    The gate judges what users care about: (a) the top-1 accuracy drop on the labelled photos, and (b)
    top-1 agreement on the photos where the fp32 reference is confident (softmax top-1 probability >=
    `confident_prob`). A competent model's int8 copy flips some near-tied photos without losing accuracy;
    a broken export (wrong preprocessing, a broken quantisation, a swapped class order) loses accuracy and
    flips confident photos. Where fewer than `min_confident` photos are confident (a near-chance model),
    confident agreement cannot be judged, and raw agreement >= `min_agreement` is required instead.
    """

    min_agreement: float  # raw top-1 agreement, a fraction: required only when too few photos are confident
    max_drop: float | None = None  # largest top-1 accuracy drop in percentage points; None: not checked
    min_confident_agreement: float = 0.99  # top-1 agreement required on the confident photos
    confident_prob: float = 0.5  # reference softmax top-1 probability from which a photo counts as confident
    min_confident: int = 50  # fewer confident photos than this: judge raw agreement instead


@dataclass(frozen=True, eq=False)
class ParitySet:
    """Preprocessed parity photos, their labels, and the fp32 reference logits (computed once)."""

    source: str  # where the photos came from (folder or dataset spec)
    paths: tuple[str, ...]
    labels: np.ndarray  # int (N,), index into the model's class names; -1: class the model does not know
    inputs: np.ndarray  # float32 (N, 3, H, W)
    reference_logits: np.ndarray  # float32 (N, num_classes)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def reference_accuracy(self) -> float | None:
        """Top-1 accuracy of the reference model on the labelled photos."""
        return accuracy(self.reference_logits, self.labels)


@dataclass(frozen=True)
class ParityResult:
    """How an artifact compares with the reference; `failures` lists every threshold it misses."""

    n_images: int
    top1_agreement: float  # fraction of photos where both predict the same class
    max_abs_diff: float  # largest |logit difference|
    mean_abs_diff: float
    accuracy: float | None  # top-1 accuracy of the artifact (None: no photo has a known label)
    reference_accuracy: float | None  # top-1 accuracy of the fp32 PyTorch model on the same photos
    accuracy_drop: float | None  # reference - artifact, in percentage points
    min_agreement: float
    max_drop: float | None
    failures: tuple[str, ...] = ()
    cosine: float | None = None  # mean cosine similarity of the artifact's and the reference's logit vectors
    # diagnostics of disagreement: the reference's top-1 minus top-2 logit (its confidence margin), median
    # over all photos and largest over the photos whose top-1 flipped. Flips only at margins near the
    # logit error mean an unconfident reference model (near-ties), not a broken artifact.
    reference_margin_p50: float | None = None
    flip_margin_max: float | None = None
    accuracy_drop_se: float | None = None  # paired standard error of accuracy_drop, in points
    labelled: int = 0  # photos with a known label (what accuracy and its drop are measured on)
    confident_prob: float | None = None  # the reference probability that made a photo confident
    confident_count: int = 0  # photos where the reference was that confident
    confident_agreement: float | None = None  # top-1 agreement on them (None: no such photo)
    min_confident_agreement: float | None = None
    gate: str = "confident"  # "confident": (a) + (b) were judged; "raw-agreement": too few confident photos

    @property
    def passed(self) -> bool:
        """True when no threshold was missed."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with `passed`."""
        return {**asdict(self), "failures": list(self.failures), "passed": self.passed}

    def raise_for_failures(self, name: str) -> None:
        """Raise one ParityError listing every miss (no-op when passed)."""
        if self.failures:
            raise ParityError(f"{name} fails parity: " + "; ".join(self.failures))


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float | None:
    """Top-1 accuracy over the photos whose label is known (None when none is)."""
    known = labels >= 0
    if not known.any():
        return None
    return float((logits[known].argmax(axis=1) == labels[known]).mean())


def progress(items: Iterable[T], total: int, description: str) -> Iterator[T]:
    """A transient progress bar on an interactive stderr; plain iteration otherwise."""
    from rich.progress import track

    yield from track(items, total=total, description=description, transient=True,
                     disable=not sys.stderr.isatty())


def load_images(paths: Sequence[Path]) -> tuple[list[Image.Image], list[int]]:
    """Decode photos fully; unreadable ones are skipped with a warning. Returns images and kept indices."""
    images, kept = [], []
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                im.load()
                images.append(im.copy())
            kept.append(i)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("skipping unreadable parity image %s (%s)", path, exc)
    return images, kept


def build_parity_set(
    source: str, paths: Sequence[Path], labels: Sequence[int], pre: Preprocessing, reference: Runtime
) -> ParitySet:
    """Preprocess the photos and compute the reference logits in one pass."""
    images, kept = load_images(paths)
    inputs = pre.batch(images) if images else np.zeros((0, 3, pre.crop, pre.crop), np.float32)
    del images
    chunks = range(0, len(inputs), BATCH)
    logits = [reference.run(inputs[i : i + BATCH]) for i in progress(chunks, len(chunks), "reference logits")]
    return ParitySet(
        source=source,
        paths=tuple(str(paths[i]) for i in kept),
        labels=np.asarray([labels[i] for i in kept], dtype=np.int64),
        inputs=inputs,
        reference_logits=np.concatenate(logits) if logits else np.zeros((0, 0), np.float32),
    )


def check_parity(runtime: Runtime, parity: ParitySet, thresholds: ParityThresholds) -> ParityResult:
    """Run `runtime` on the parity photos and compare with the reference; collects every miss."""
    chunks = range(0, len(parity), BATCH)
    out = [runtime.run(parity.inputs[i : i + BATCH]) for i in progress(chunks, len(chunks), "parity")]
    logits = np.concatenate(out).astype(np.float32, copy=False)
    return compare_logits(logits, parity, thresholds)


def compare_logits(logits: np.ndarray, parity: ParitySet, thresholds: ParityThresholds) -> ParityResult:
    """The parity numbers of `logits` against the reference, and every threshold they miss."""
    ref = parity.reference_logits
    failures: list[str] = []
    if logits.shape != ref.shape:
        failures.append(f"output shape {logits.shape} differs from the reference {ref.shape}")
        return ParityResult(len(parity), 0.0, float("inf"), float("inf"), None, parity.reference_accuracy, None,
                            thresholds.min_agreement, thresholds.max_drop, tuple(failures))
    if not np.isfinite(logits).all():
        failures.append(f"{int((~np.isfinite(logits)).sum())} non-finite logits (NaN/inf)")
    diff = np.abs(logits.astype(np.float64) - ref)
    same = logits.argmax(axis=1) == ref.argmax(axis=1)
    agreement = float(same.mean()) if same.size else 1.0
    margins = reference_margins(ref)
    margin_p50 = float(np.median(margins)) if margins.size else None
    flip_max = float(margins[~same].max()) if (~same).any() else None
    confident = reference_confidence(ref) >= thresholds.confident_prob
    n_confident = int(confident.sum())
    confident_agreement = float(same[confident].mean()) if n_confident else None
    acc, ref_acc = accuracy(logits, parity.labels), parity.reference_accuracy
    drop, drop_se = paired_drop(logits, ref, parity.labels)
    labelled = int((parity.labels >= 0).sum())
    flips = (f" (flips at reference margins <= {flip_max:.3g} logits; median margin {margin_p50:.3g})"
             if flip_max is not None else "")
    gate = "confident" if n_confident >= thresholds.min_confident else "raw-agreement"
    if gate == "confident":
        assert confident_agreement is not None  # n_confident >= min_confident >= 1
        if confident_agreement < thresholds.min_confident_agreement:
            failures.append(
                f"top-1 agreement {confident_agreement:.2%} on the {n_confident} photos the reference is confident "
                f"on (p >= {thresholds.confident_prob:g}) < required {thresholds.min_confident_agreement:.2%}{flips}")
    elif agreement < thresholds.min_agreement:
        failures.append(f"top-1 agreement {agreement:.2%} < required {thresholds.min_agreement:.2%} (only "
                        f"{n_confident} photos are confident, too few to judge confident agreement){flips}")
    if thresholds.max_drop is not None and drop is not None and drop > thresholds.max_drop:
        failures.append(f"top-1 accuracy drops {drop:.2f} ± {drop_se or 0:.2f} points over {labelled} photos "
                        f"({ref_acc:.2%} -> {acc:.2%}) > allowed {thresholds.max_drop:.2f}")
    return ParityResult(
        n_images=len(parity),
        top1_agreement=agreement,
        max_abs_diff=float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else 0.0,
        mean_abs_diff=float(np.nan_to_num(diff, nan=np.inf).mean()) if diff.size else 0.0,
        accuracy=acc,
        reference_accuracy=ref_acc,
        accuracy_drop=drop,
        min_agreement=thresholds.min_agreement,
        max_drop=thresholds.max_drop,
        failures=tuple(failures),
        cosine=mean_cosine(logits, ref),
        reference_margin_p50=margin_p50,
        flip_margin_max=flip_max,
        accuracy_drop_se=drop_se,
        labelled=labelled,
        confident_prob=thresholds.confident_prob,
        confident_count=n_confident,
        confident_agreement=confident_agreement,
        min_confident_agreement=thresholds.min_confident_agreement,
        gate=gate,
    )


def paired_drop(logits: np.ndarray, ref: np.ndarray, labels: np.ndarray) -> tuple[float | None, float | None]:
    """Reference minus artifact top-1 accuracy in points, and its paired standard error (same photos)."""
    known = labels >= 0
    n = int(known.sum())
    if not n:
        return None, None
    d = ((ref[known].argmax(axis=1) == labels[known]).astype(np.float64)
         - (logits[known].argmax(axis=1) == labels[known]).astype(np.float64))
    se = float(100.0 * d.std(ddof=1) / np.sqrt(n)) if n > 1 else None
    return float(100.0 * d.mean()), se


def reference_confidence(logits: np.ndarray) -> np.ndarray:
    """Softmax top-1 probability per row (float64, numerically stable)."""
    if logits.ndim != 2 or not len(logits) or not logits.shape[1]:
        return np.zeros(len(logits), np.float64)
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    return np.asarray(p.max(axis=1) / p.sum(axis=1))


def reference_margins(logits: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 logit per row (0 for a single-class output)."""
    if logits.ndim != 2 or logits.shape[1] < 2 or not len(logits):
        return np.zeros(len(logits), np.float64)
    top2 = np.partition(logits.astype(np.float64), -2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    """Mean cosine similarity of matching rows (None when there are no rows or a zero vector)."""
    if not len(a):
        return None
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    if not np.isfinite(norms).all() or (norms == 0).any():
        return None
    return float(np.mean(np.sum(a64 * b64, axis=1) / norms))
