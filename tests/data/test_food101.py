"""Food-101: the torchvision download path and its offline failure, without any network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest

from seefood.data import load_data
from seefood.errors import DataError
from tests.data.helpers import write_images


class _Offline:
    def __init__(self, root: str, split: str = "train", download: bool = False) -> None:
        raise OSError("[Errno -3] Temporary failure in name resolution")


class _Present:
    calls: ClassVar[list[tuple[str, str, bool]]] = []

    def __init__(self, root: str, split: str = "train", download: bool = False) -> None:
        self.calls.append((root, split, download))


def test_offline_download_failure_says_to_use_a_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("torchvision.datasets.Food101", _Offline)
    with pytest.raises(DataError, match=r"needs internet access.*--data PATH"):
        load_data("food101", root=tmp_path)


def test_missing_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(root: str, split: str = "train", download: bool = False) -> None:
        raise RuntimeError("Dataset not found. You can use download=True to download it")

    monkeypatch.setattr("torchvision.datasets.Food101", not_found)
    with pytest.raises(DataError, match="downloading is off.*--data PATH"):
        load_data("food101", root=tmp_path, download=False)


def test_reads_the_official_meta_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("torchvision.datasets.Food101", _Present)
    base = tmp_path / "food-101"
    lists = {"train": {}, "test": {}}  # type: dict[str, dict[str, list[str]]]
    for name in ("ramen", "apple_pie"):
        paths = write_images(base / "images" / name, 6)
        lists["train"][name] = [f"{name}/{p.stem}" for p in paths[:4]]
        lists["test"][name] = [f"{name}/{p.stem}" for p in paths[4:]]
    (base / "meta").mkdir()
    for split, entries in lists.items():
        (base / "meta" / f"{split}.json").write_text(json.dumps(entries))
    data = load_data("food101", root=tmp_path, val_fraction=0.25, check=False)
    assert [(c[1], c[2]) for c in _Present.calls] == [("train", True), ("test", True)]
    assert data.class_names == ("apple_pie", "ramen")
    assert data.counts() == {"train": [3, 3], "val": [1, 1], "test": [2, 2]}
    assert all(s.path.is_file() and data.class_names[s.label] == s.path.parent.name for s in data.test)
    assert data.source == f"food101:{tmp_path}"
