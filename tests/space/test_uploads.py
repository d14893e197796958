"""Upload checks: odd but valid images decode to RGB, bad files get a message saying what to do."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from seefood.space.uploads import UploadError, UploadLimits, load_upload, load_upload_bytes

from .helpers import TEST_LIMITS


@pytest.mark.parametrize("name", ["rgb.jpg", "gray.png", "rgba.png", "palette.png", "cmyk.jpg", "gray16.png"])
def test_odd_modes_become_rgb(tiny_images: dict[str, Path], name: str) -> None:
    loaded = load_upload(tiny_images[name], TEST_LIMITS)
    with Image.open(tiny_images[name]) as original:
        assert loaded.image.mode == "RGB"
        assert loaded.image.size == original.size == (loaded.width, loaded.height)
        assert ("-> RGB" in loaded.note) == (original.mode != "RGB")
    assert loaded.sha256 == hashlib.sha256(tiny_images[name].read_bytes()).hexdigest()
    assert loaded.nbytes == tiny_images[name].stat().st_size


def test_exif_rotation_is_applied(tiny_images: dict[str, Path]) -> None:
    loaded = load_upload(tiny_images["exif_rotated.jpg"], TEST_LIMITS)
    with Image.open(tiny_images["exif_rotated.jpg"]) as stored:
        assert stored.size == (60, 40)
    assert (loaded.width, loaded.height) == (40, 60)  # orientation 6: shown rotated by 90 degrees
    assert "EXIF rotation applied" in loaded.note


def test_animated_gif_uses_first_frame(animated_gif: Path) -> None:
    loaded = load_upload(animated_gif, TEST_LIMITS)
    assert "first of 3 frames" in loaded.note
    r, g, b = loaded.image.getpixel((24, 24))
    assert r > 150 and g < 100 and b < 100  # the red first frame, not the green or blue ones


@pytest.mark.parametrize(("case", "message"), [
    ("not_an_image", "not an image we can read"),
    ("empty", "empty"),
    ("truncated", "truncated or corrupt"),
    ("too_many_pixels", "the limit is 4 MP"),
    ("pil_bomb_warning", "decompression bomb"),
    ("pil_bomb_error", "decompression bomb"),
    ("too_small", "at least 16 pixels"),
    ("too_large", "the limit is 300 kB"),
])
def test_bad_uploads_get_a_message(bad_files: dict[str, Path], case: str, message: str) -> None:
    with pytest.raises(UploadError, match=message) as info:
        load_upload(bad_files[case], TEST_LIMITS)
    assert "please" in str(info.value)  # every message says what to do next


def test_missing_and_absent_uploads(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="upload a photo or pick an example"):
        load_upload(None)
    with pytest.raises(UploadError, match="did not arrive"):
        load_upload(tmp_path / "gone.jpg")
    with pytest.raises(UploadError, match="not a file"):
        load_upload(tmp_path)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        UploadLimits(max_bytes=0)


def test_bytes_are_checked_like_files(tiny_images: dict[str, Path], bad_files: dict[str, Path]) -> None:
    data = tiny_images["exif_rotated.jpg"].read_bytes()
    assert load_upload_bytes(data, TEST_LIMITS) == load_upload(tiny_images["exif_rotated.jpg"], TEST_LIMITS)
    for case, path in bad_files.items():
        with pytest.raises(UploadError) as from_file:
            load_upload(path, TEST_LIMITS)
        with pytest.raises(UploadError) as from_bytes:
            load_upload_bytes(path.read_bytes(), TEST_LIMITS)
        assert str(from_bytes.value) == str(from_file.value), case
        # the log gets the refused upload's size and sha256, never its bytes
        assert from_bytes.value.nbytes == len(path.read_bytes()), case
        expected_sha = None if case == "too_large" else hashlib.sha256(path.read_bytes()).hexdigest()
        assert from_bytes.value.sha256 == expected_sha, case
        assert from_bytes.value.status == (413 if case == "too_large" else 400), case
