"""Parity numbers, the one-result-lists-every-miss rule, and where parity photos come from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seefood.errors import ConfigError, DataError, ParityError
from seefood.export.parity import ParitySet, ParityThresholds, compare_logits
from seefood.export.parity_data import photos_from_folder, resolve_parity_photos, sample_photos
from seefood.metadata import ModelMeta
from seefood.models import get_spec
from tests.data.helpers import write_tree


def _parity(ref: np.ndarray, labels: list[int]) -> ParitySet:
    n = len(ref)
    return ParitySet("test", tuple(f"{i}.jpg" for i in range(n)), np.asarray(labels), np.zeros((n, 3, 2, 2)), ref)


def test_numbers_of_a_perfect_copy() -> None:
    ref = np.eye(4, dtype=np.float32) * 5
    result = compare_logits(ref.copy(), _parity(ref, [0, 1, 2, 3]), ParityThresholds(0.99, 1.0, min_confident=50))
    assert result.passed and result.top1_agreement == 1.0 and result.max_abs_diff == 0.0
    assert result.accuracy == result.reference_accuracy == 1.0 and result.accuracy_drop == 0.0


def test_every_miss_is_collected_into_one_result() -> None:
    ref = np.eye(4, dtype=np.float32) * 5
    got = ref.copy()
    got[0] = [0, 9, 0, 0]  # disagrees on one photo (and gets it wrong)
    got[1, 1] = np.nan  # numpy argmax picks the NaN: still class 1
    result = compare_logits(got, _parity(ref, [0, 1, 2, 3]), ParityThresholds(0.99, 1.0, min_confident=50))
    assert not result.passed and len(result.failures) == 3  # non-finite, agreement, accuracy drop
    assert result.top1_agreement == 0.75 and result.accuracy_drop == pytest.approx(25.0)
    with pytest.raises(ParityError, match="non-finite.*agreement 75.00%.*drops 25.00 ± 25.00 points over 4 photos"):
        result.raise_for_failures("onnx-int8")
    assert result.to_dict()["passed"] is False


def test_flips_report_the_reference_margins_they_happened_at() -> None:
    """An unconfident reference (near-ties) flips under small logit noise: the result says so."""
    ref = np.asarray([[5.0, 0.0, 0.0], [1.0, 0.98, 0.0], [0.0, 4.0, 1.0], [2.0, 0.0, 1.95]], np.float32)
    got = ref + np.asarray([[0, 0, 0], [-0.03, 0.03, 0], [0, 0, 0], [-0.05, 0, 0.05]], np.float32)
    result = compare_logits(got, _parity(ref, [0, 1, 1, 2]), ParityThresholds(0.99))
    assert result.top1_agreement == 0.5
    assert result.flip_margin_max == pytest.approx(0.05, abs=1e-6)  # the larger of the two flipped margins
    assert result.reference_margin_p50 == pytest.approx(np.median([5.0, 0.02, 3.0, 0.05]), abs=1e-6)
    assert "flips at reference margins <= 0.05" in result.failures[0]
    assert 0.99 < result.cosine < 1.0
    perfect = compare_logits(ref.copy(), _parity(ref, [0, 1, 1, 2]), ParityThresholds(0.99))
    assert perfect.flip_margin_max is None and perfect.cosine == pytest.approx(1.0)


def test_shape_mismatch_and_unknown_labels() -> None:
    ref = np.eye(3, dtype=np.float32)
    result = compare_logits(np.zeros((3, 5), np.float32), _parity(ref, [0, 1, 2]), ParityThresholds(0.9))
    assert not result.passed and "shape" in result.failures[0]
    unknown = compare_logits(ref.copy(), _parity(ref, [-1, -1, -1]), ParityThresholds(0.9, 1.0))
    assert unknown.passed and unknown.accuracy is None and unknown.accuracy_drop is None


def test_photos_from_split_or_flat_folders_labelled_by_class_name(tmp_path: Path) -> None:
    names = ("apple", "pear")
    split = write_tree(tmp_path / "split", {"train/apple": 1, "test/pear": 2, "test/apple": 1, "test/kiwi": 1})
    photos = photos_from_folder(split, names)
    assert photos.source.endswith("test") and len(photos.paths) == 4
    assert sorted(photos.labels) == [-1, 0, 1, 1]  # kiwi is not a class of the model
    flat = write_tree(tmp_path / "flat", {"pear": 3})
    assert photos_from_folder(flat, names).labels == (1, 1, 1)
    with pytest.raises(DataError, match="--parity-data"):
        photos_from_folder(tmp_path / "missing", names)


def test_sampling_is_seeded_and_keeps_file_order(tmp_path: Path) -> None:
    photos = photos_from_folder(write_tree(tmp_path / "d", {"a": 10, "b": 10}), ("a", "b"))
    a, b = sample_photos(photos, 7, seed=3), sample_photos(photos, 7, seed=3)
    assert a == b and len(a.paths) == 7 and list(a.paths) == sorted(a.paths)
    assert sample_photos(photos, 100, seed=0) is photos


def test_without_parity_data_or_a_recorded_dataset_it_must_be_given(tmp_path: Path) -> None:
    meta = ModelMeta("tiny", ("a", "b"), get_spec("tiny").preprocessing)
    with pytest.raises(ConfigError, match="--parity-data"):
        resolve_parity_photos(None, meta)
    gone = meta.evolve(config={"data": str(tmp_path / "moved-away")})
    with pytest.raises(ConfigError, match="--parity-data"):
        resolve_parity_photos(None, gone)


def _competent(n: int = 200, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Reference logits of a competent model: 3/4 of the photos confident and right, 1/4 near-tied."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    ref = rng.normal(0, 0.3, (n, classes)).astype(np.float32)
    confident = np.arange(n) < 3 * n // 4
    ref[np.arange(n), labels] += np.where(confident, 6.0, 0.0)
    runner_up = (labels + 1) % classes
    tied = ~confident
    ref[tied, labels[tied]] = 1.0  # near-ties: the right class by 0.05 over the runner-up
    ref[tied, runner_up[tied]] = 0.95
    return ref, labels


def _gate(**changes: float) -> ParityThresholds:
    return ParityThresholds(**{"min_agreement": 0.97, "max_drop": 1.0, **changes})  # type: ignore[arg-type]


def test_near_tie_flips_that_change_no_accuracy_pass_the_confident_gate() -> None:
    """A competent model's int8 copy flips near-ties both ways: raw agreement 90 %, accuracy unchanged."""
    ref, labels = _competent()
    got = ref.copy()
    tied = np.flatnonzero(np.arange(200) >= 150)
    flip = tied[:20]  # 20 near-ties flip: 10 wrong -> right would need a wrong reference, so swap 10 each way
    got[flip[:10], labels[flip[:10]]], got[flip[:10], (labels[flip[:10]] + 1) % 10] = 0.95, 1.0  # right -> wrong
    ref[flip[10:], labels[flip[10:]]], ref[flip[10:], (labels[flip[10:]] + 1) % 10] = 0.95, 1.0  # reference wrong
    result = compare_logits(got, _parity(ref, list(labels)), _gate())
    assert result.top1_agreement == pytest.approx(0.9) and result.accuracy_drop == pytest.approx(0.0)
    assert result.gate == "confident" and result.confident_count == 150 and result.confident_agreement == 1.0
    assert result.passed, result.failures
    assert result.labelled == 200 and result.accuracy_drop_se is not None and result.accuracy_drop_se > 0
    strict_raw = compare_logits(got, _parity(ref, list(labels)), _gate(min_confident=500))  # too few confident
    assert strict_raw.gate == "raw-agreement" and not strict_raw.passed
    assert "only 150 photos are confident" in strict_raw.failures[0]


@pytest.mark.parametrize("broken", ["swapped classes", "wrong preprocessing", "broken quantisation"])
def test_broken_exports_fail_the_gate_loudly(broken: str) -> None:
    ref, labels = _competent()
    rng = np.random.default_rng(1)
    if broken == "swapped classes":  # the class order of the artifact's outputs is reversed
        got = ref[:, ::-1].copy()
    elif broken == "wrong preprocessing":  # different inputs: logits of other photos
        got = ref[rng.permutation(len(ref))].copy()
    else:  # saturated int8 ranges: logits dominated by noise
        got = (ref + rng.normal(0, 8.0, ref.shape)).astype(np.float32)
    result = compare_logits(got, _parity(ref, list(labels)), _gate())
    assert not result.passed and result.gate == "confident"
    assert any("confident on (p >= 0.5)" in f for f in result.failures)
    drop = next(f for f in result.failures if "accuracy drops" in f)
    assert "over 200 photos" in drop and " ± " in drop


def test_paired_standard_error_of_the_drop() -> None:
    from seefood.export.parity import paired_drop

    labels = np.asarray([0, 0, 0, 0])
    ref = np.asarray([[1.0, 0.0]] * 4, np.float32)  # right on all four
    got = np.asarray([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], np.float32)  # wrong on one
    drop, se = paired_drop(got, ref, labels)
    assert drop == pytest.approx(25.0)
    assert se == pytest.approx(100 * np.std([1, 0, 0, 0], ddof=1) / 2)
    assert paired_drop(got, ref, np.asarray([-1] * 4)) == (None, None)
