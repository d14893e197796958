"""The generated sample dataset: layout, determinism, validation, the cached default."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from seefood.data import load_data, sample
from seefood.data.sample import DEFAULT_CLASSES, SampleConfig, make_sample_dataset, sample_dataset_path
from seefood.errors import ConfigError, OutputExistsError
from seefood.io import sha256_file


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*.jpg"))}


def test_layout_matches_the_request(sample_data: Path) -> None:
    names = (sample_data / "classes.txt").read_text().split()
    assert names == sorted(names) and len(names) == 4
    for split, count in (("train", 24), ("test", 8)):
        assert sorted(p.name for p in (sample_data / split).iterdir()) == names
        for name in names:
            images = list((sample_data / split / name).glob("*.jpg"))
            assert len(images) == count
    with Image.open(next((sample_data / "train" / names[0]).glob("*.jpg"))) as im:
        assert im.size == (64, 64) and im.mode == "RGB"


def test_same_seed_same_bytes_other_seed_other_images(tmp_path: Path, sample_data: Path) -> None:
    kwargs = {"per_class_train": 3, "per_class_test": 1, "size": 48, "classes": ("pizza", "soup")}
    a = _files(make_sample_dataset(tmp_path / "a", seed=7, **kwargs))  # type: ignore[arg-type]
    b = _files(make_sample_dataset(tmp_path / "b", seed=7, **kwargs))  # type: ignore[arg-type]
    c = _files(make_sample_dataset(tmp_path / "c", seed=8, **kwargs))  # type: ignore[arg-type]
    assert a == b
    assert a.keys() == c.keys() and all(a[k] != c[k] for k in a)


def test_images_do_not_depend_on_which_classes_or_counts_are_asked(tmp_path: Path) -> None:
    small = _files(make_sample_dataset(tmp_path / "s", per_class_train=2, per_class_test=1, size=48,
                                       classes=("donut", "sushi")))
    big = _files(make_sample_dataset(tmp_path / "b", per_class_train=4, per_class_test=1, size=48,
                                     classes=("donut", "salad", "sushi")))
    assert all(big[k] == v for k, v in small.items())


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    out = make_sample_dataset(tmp_path / "s", per_class_train=1, per_class_test=1, size=32, classes=("pizza", "soup"))
    with pytest.raises(OutputExistsError, match="--force"):
        make_sample_dataset(out, per_class_train=1, per_class_test=1, size=32, classes=("pizza", "soup"))
    make_sample_dataset(out, per_class_train=2, per_class_test=1, size=32, classes=("pizza", "soup"), overwrite=True)
    assert len(list((out / "train" / "pizza").glob("*.jpg"))) == 2


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"classes": ("pizza", "burger")}, "burger"),
    ({"classes": ("pizza",)}, "at least 2"),
    ({"per_class_train": 0}, "per-class"),
    ({"size": 8}, "--size"),
])
def test_bad_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SampleConfig(**kwargs)  # type: ignore[arg-type]


def test_default_location_is_generated_once_and_loadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sample.DEFAULT_SAMPLE == SampleConfig(per_class_train=60, per_class_test=20, size=96, seed=0)
    monkeypatch.setattr(sample, "DEFAULT_SAMPLE", SampleConfig(per_class_train=3, per_class_test=2, size=32))
    monkeypatch.setenv("SEEFOOD_HOME", str(tmp_path / "home"))
    path = sample_dataset_path()
    assert path == tmp_path / "home" / "sample"
    stamp = (path / "classes.txt").stat().st_mtime_ns
    assert sample_dataset_path() == path and (path / "classes.txt").stat().st_mtime_ns == stamp  # cached
    data = load_data("sample", check=False)
    assert data.class_names == DEFAULT_CLASSES and data.source == f"sample:{path}"
    assert data.counts()["test"] == [2] * len(DEFAULT_CLASSES)
    assert len(data.train) + len(data.val) == 3 * len(DEFAULT_CLASSES)


def test_stale_cached_sample_is_regenerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "DEFAULT_SAMPLE", SampleConfig(per_class_train=2, per_class_test=1, size=32))
    old = make_sample_dataset(tmp_path / "sample", per_class_train=1, per_class_test=1, size=32,
                              classes=("pizza", "soup"))
    assert sample_dataset_path(tmp_path) == old
    assert (old / "classes.txt").read_text().split() == list(DEFAULT_CLASSES)
    assert len(list((old / "train" / "donut").glob("*.jpg"))) == 2
