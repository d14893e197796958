"""load_data on folders: layouts, splitting, subsets, class filters, fingerprints, errors."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from seefood.data import DataConfig, DataSplits, load_data
from seefood.errors import ConfigError, DataError
from tests.data.helpers import write_images, write_tree


def _names(samples: tuple) -> set[str]:  # type: ignore[type-arg]
    return {s.path.name + s.path.parent.name for s in samples}


def test_split_folders_keep_their_splits(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"train/cat": 5, "train/dog": 4, "val/cat": 2, "val/dog": 2, "test/cat": 3, "test/dog": 1})
    data = load_data(str(root), check=False)
    assert data.class_names == ("cat", "dog")
    assert data.counts() == {"train": [5, 4], "val": [2, 2], "test": [3, 1]}
    assert all(s.path.parts[-3] == "train" for s in data.train)
    assert all(s.path.parts[-3] == "test" and data.class_names[s.label] == s.path.parent.name for s in data.test)
    assert data.source == str(root.resolve())


def test_val_is_carved_from_train_stratified_and_seeded(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"train/a": 20, "train/b": 10, "test/a": 2, "test/b": 2})
    data = load_data(str(root), val_fraction=0.2, check=False)
    assert data.counts()["val"] == [4, 2] and data.counts()["train"] == [16, 8]
    assert not _names(data.train) & _names(data.val)
    assert load_data(str(root), val_fraction=0.2, check=False).val == data.val
    assert load_data(str(root), val_fraction=0.2, seed=1, check=False).val != data.val
    assert load_data(str(root), val_fraction=0.0, check=False).val == ()


def test_flat_folder_is_split_deterministically_and_stratified(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"apple": 40, "pear": 20, "plum": 2})
    data = load_data(str(root), val_fraction=0.1, check=False)
    counts = data.counts()
    assert counts["test"] == [6, 3, 1]  # 15 % of each class, at least one
    assert counts["val"] == [3, 2, 0]  # 10 % of the rest; a class with one image left keeps it for training
    assert [sum(c) for c in zip(*counts.values())] == [40, 20, 2]
    assert not (_names(data.train) & _names(data.test)) and not (_names(data.val) & _names(data.test))
    again = load_data(str(root), val_fraction=0.1, check=False)
    assert (again.train, again.val, again.test) == (data.train, data.val, data.test)
    other = load_data(str(root), val_fraction=0.1, seed=3, check=False)
    assert other.test != data.test


def test_flat_folder_needs_two_images_per_class(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"apple": 4, "pear": 1})
    with pytest.raises(DataError, match="pear"):
        load_data(str(root), check=False)


def test_subset_keeps_a_stratified_fraction_of_every_split(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"train/a": 30, "train/b": 10, "test/a": 10, "test/b": 2})
    data = load_data(str(root), subset=0.2, val_fraction=0.0, check=False)
    assert data.counts() == {"train": [6, 2], "val": [0, 0], "test": [2, 1]}
    full = load_data(str(root), val_fraction=0.0, check=False)
    assert set(data.train) <= set(full.train)
    assert load_data(str(root), subset=0.2, val_fraction=0.0, check=False) == data
    assert load_data(str(root), subset=0.2, val_fraction=0.0, seed=5, check=False).train != data.train


def test_classes_filter_reindexes_labels(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {f"{s}/{c}": 3 for s in ("train", "test") for c in ("a", "b", "c")})
    data = load_data(str(root), classes=["c", "a"], val_fraction=0.0, check=False)
    assert data.class_names == ("a", "c")  # the dataset's order, not the argument's
    assert Counter(s.label for s in data.train) == {0: 3, 1: 3}
    assert all(data.class_names[s.label] == s.path.parent.name for s in data.train + data.test)
    with pytest.raises(DataError, match="valid names are a, b, c"):
        load_data(str(root), classes=["a", "zebra"], check=False)


def test_mismatched_class_folders_are_named(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"train/a": 2, "train/b": 2, "test/a": 2, "test/c": 1})
    with pytest.raises(DataError, match=r"test/ lacks \['b'\].*test/ has extra \['c'\]"):
        load_data(str(root), check=False)


def test_train_without_test_is_an_error(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"train/a": 2, "train/b": 2})
    with pytest.raises(DataError, match="no test/ folder"):
        load_data(str(root), check=False)


def test_extensions_hidden_files_and_nested_folders(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_images(root / "a", 2, ".JPG")
    write_images(root / "a", 1, ".png", start=10)
    write_images(root / "a" / "more", 1, ".webp", start=20)
    write_images(root / "b", 2, ".bmp")
    write_images(root / "b", 1, ".jpeg", start=10)
    write_images(root / ".hidden", 3)
    (root / "a" / ".DS_Store").write_bytes(b"junk")
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "b" / ".img099.jpg").write_bytes(b"hidden")
    (root / "README.md").write_text("top-level files are ignored")
    data = load_data(str(root), val_fraction=0.0, check=False)
    assert data.class_names == ("a", "b")
    every = data.train + data.test
    assert sorted(s.path.suffix for s in every) == sorted([".JPG", ".JPG", ".png", ".webp", ".bmp", ".bmp", ".jpeg"])


def test_empty_class_folder_and_empty_dataset(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "d", {"train/a": 2, "test/a": 1, "test/b": 1})
    (root / "train" / "b").mkdir()
    (root / "train" / "b" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"train/b holds no images"):
        load_data(str(root), check=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        load_data(str(tmp_path / "empty"), check=False)


def test_unknown_spec_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="sample or food101"):
        load_data(str(tmp_path / "nowhere"))
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        load_data(str(tmp_path / "file.txt"))
    with pytest.raises(ConfigError, match="subset"):
        load_data(str(tmp_path), subset=0.0)
    with pytest.raises(ConfigError, match="val_fraction"):
        load_data(str(tmp_path), val_fraction=1.0)


def test_fingerprint_tracks_files_not_location(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "one", {"train/a": 3, "train/b": 3, "test/a": 1, "test/b": 1})
    first = load_data(str(root), check=False).fingerprint
    moved = shutil.copytree(root, tmp_path / "two")
    assert load_data(str(moved), check=False).fingerprint == first
    assert load_data(str(root), seed=1, check=False).fingerprint != first  # another val carve-out
    write_images(root / "train" / "a", 1, start=50)
    assert load_data(str(root), check=False).fingerprint != first
    assert len(first) == 64


def test_data_config_defaults_match_load_data(sample_data: Path) -> None:
    import inspect

    params = inspect.signature(load_data).parameters
    for name, value in vars(DataConfig()).items():
        if name != "spec":
            assert params[name].default == value, name
    data = DataConfig(spec=str(sample_data), subset=0.5, check=False).load()
    assert isinstance(data, DataSplits) and data.num_classes == 4 and data.counts()["test"] == [4, 4, 4, 4]


def test_records_and_loading_do_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, seefood.data; assert 'torch' not in sys.modules and 'torchvision' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_files_that_are_not_images_are_skipped_with_a_word(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from PIL import Image

    root = write_tree(tmp_path, {"train/cat": 3, "train/dog": 3, "test/cat": 1, "test/dog": 1})
    Image.new("RGB", (32, 32)).save(root / "train" / "cat" / "party.gif")
    (root / "train" / "dog" / ".DS_Store").write_bytes(b"hidden files stay silent")
    with caplog.at_level(logging.WARNING, logger="seefood.data"):
        data = load_data(str(root), val_fraction=0.0)
    assert data.counts()["train"] == [3, 3]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and "party.gif" in skipped[0] and ".gif" in skipped[0] and "JPEG" in skipped[0]
    assert "no-check" not in caplog.text  # no flag of that name exists
