"""Fixtures of the Space tests: a tiny ONNX artifact + decision.json, a built Space, odd upload files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seefood.space import SpaceConfig, build_space

from .helpers import TEST_LIMITS, export_tiny_onnx, png_header_only, write_decision


@pytest.fixture(scope="session")
def onnx_artifact(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Path:
    """Read-only: the ONNX artifact folder of the tiny model, written by seefood's exporter."""
    return export_tiny_onnx(tmp_path_factory.mktemp("export"), sample_data)


@pytest.fixture(scope="session")
def decision(onnx_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only: REPORT/decision.json picking `onnx_artifact`."""
    return write_decision(tmp_path_factory.mktemp("report"), onnx_artifact)


@pytest.fixture(scope="session")
def built_space(decision: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only: a Space built (and verified without torch) from `decision`, with the test limits."""
    out = tmp_path_factory.mktemp("spaces") / "space"
    build_space(SpaceConfig(decision=decision, out=out, limits=TEST_LIMITS, timeout_s=20.0, threads=1))
    return out


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """Uploads the Space must refuse with a message, keyed by what is wrong."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "bad"
    folder.mkdir()
    photo = Image.fromarray(rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8))
    photo.save(folder / "full.jpg", quality=90)
    data = (folder / "full.jpg").read_bytes()
    files = {
        "not_an_image": folder / "notes.jpg",
        "empty": folder / "empty.png",
        "truncated": folder / "truncated.jpg",
        "too_many_pixels": png_header_only(folder / "big.png", 3000, 3000),  # 9 MP > TEST_LIMITS' 4 MP
        "pil_bomb_warning": png_header_only(folder / "bomb-warn.png", 10_000, 10_000),  # > PIL's warning limit
        "pil_bomb_error": png_header_only(folder / "bomb.png", 20_000, 20_000),  # > twice PIL's limit
        "too_small": folder / "dot.png",
        "too_large": folder / "noise.bmp",
    }
    files["not_an_image"].write_text("these are my notes, not a photo\n", encoding="utf-8")
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(data[: len(data) // 2])
    Image.new("RGB", (4, 4), (9, 9, 9)).save(files["too_small"])
    Image.fromarray(rng.integers(0, 256, size=(400, 400, 3), dtype=np.uint8)).save(files["too_large"])  # 480 KB
    return files


@pytest.fixture
def animated_gif(tmp_path: Path) -> Path:
    """A 3-frame animated GIF (the Space classifies its first frame)."""
    frames = [Image.new("RGB", (48, 48), colour) for colour in ((200, 40, 40), (40, 200, 40), (40, 40, 200))]
    path = tmp_path / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path
