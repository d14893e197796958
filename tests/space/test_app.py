"""The built Space served for real (torch blocked): predictions through gradio_client and headless Chromium,
bad uploads answered with messages, the Monitoring endpoint, and no torch imported at any point.

One app process serves the whole module; the last test stops it and reads what it imported.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from seefood.space.predlog import read_rows
from seefood.space.verify import BLOCKER

from .helpers import CLASSES, TEST_LIMITS

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# app.py run as `python app.py` would, behind the torch blocker; at exit it reports what was imported
LAUNCHER = BLOCKER + """
import atexit, json, os, runpy, sys
def _report():
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "seefood"))
    with open(os.environ["SEEFOOD_TEST_IMPORTS"], "w") as fh:
        json.dump({"blocked": BLOCKED_ATTEMPTS, "loaded": loaded}, fh)
atexit.register(_report)
runpy.run_path("app.py", run_name="__main__")
"""


@dataclass
class ServedApp:
    """A running Space: its URL, log and process."""

    url: str
    log: Path
    imports: Path
    process: subprocess.Popen[bytes]
    downloads: Path

    @functools.cached_property
    def api(self) -> Client:
        """One gradio_client for the module (connecting fetches the app's config)."""
        return Client(self.url, verbose=False, download_files=str(self.downloads), analytics_enabled=False)

    def stop(self) -> int:
        """Ctrl-C, as a person would: gradio closes the server and atexit hooks run."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:  # gradio's shutdown can take a while on a loaded 2-core machine; atexit must get to run
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(built_space: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    work = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(work / "gradio"), "HF_HUB_OFFLINE": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "SEEFOOD_LOG": str(work / "predictions.sqlite"),
           "SEEFOOD_TEST_IMPORTS": str(work / "imports.json")}
    out = (work / "app.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", LAUNCHER], cwd=built_space, env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    app = ServedApp(f"http://127.0.0.1:{port}/", work / "predictions.sqlite", work / "imports.json", process,
                    work / "downloads")
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            pytest.fail(f"the Space exited with {process.returncode}:\n{(work / 'app.log').read_text()[-3000:]}")
        try:
            urllib.request.urlopen(app.url, timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                app.stop()
                pytest.fail(f"the Space did not start in 120 s:\n{(work / 'app.log').read_text()[-3000:]}")
            time.sleep(0.3)
    yield app
    app.stop()
    out.close()


def test_predicts_an_example_through_the_api(served: ServedApp, built_space: Path) -> None:
    example = min((built_space / "examples").iterdir())
    label, details, preview = served.api.predict(handle_file(str(example)), api_name="/classify")
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == set(CLASSES) and sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)
    assert label["label"] == max(confidences, key=confidences.__getitem__)
    assert "Model time:" in details and "256×256 px" in details
    assert Path(preview).is_file()


@pytest.mark.parametrize(("name", "expect"), [
    ("cmyk.jpg", "CMYK -> RGB"), ("gray16.png", "-> RGB"), ("rgba.png", "RGBA -> RGB"),
    ("exif_rotated.jpg", "40×60 px"), ("palette.png", "P -> RGB"),
])
def test_odd_images_are_classified(served: ServedApp, tiny_images: dict[str, Path], name: str, expect: str) -> None:
    label, details, _ = served.api.predict(handle_file(str(tiny_images[name])), api_name="/classify")
    assert label["label"] in CLASSES and expect in details


def test_animated_gif_uses_the_first_frame(served: ServedApp, animated_gif: Path) -> None:
    _, details, _ = served.api.predict(handle_file(str(animated_gif)), api_name="/classify")
    assert "first of 3 frames" in details


@pytest.mark.parametrize(("case", "message"), [
    ("not_an_image", "not an image we can read"), ("empty", "The file is empty"),
    ("truncated", "truncated or corrupt"), ("too_many_pixels", "the limit is 4 MP"),
    ("pil_bomb_warning", "decompression bomb"), ("pil_bomb_error", "decompression bomb"),
    ("too_small", "at least 16 pixels"),
])
def test_bad_uploads_get_a_message_not_a_traceback(served: ServedApp, bad_files: dict[str, Path], case: str,
                                                    message: str) -> None:
    with pytest.raises(AppError) as info:
        served.api.predict(handle_file(str(bad_files[case])), api_name="/classify")
    assert message in str(info.value) and "Traceback" not in str(info.value)


def test_oversized_uploads_are_refused_by_the_server(served: ServedApp, bad_files: dict[str, Path]) -> None:
    with bad_files["too_large"].open("rb") as fh:  # straight to the upload route, past any client-side check
        response = httpx.post(f"{served.url}gradio_api/upload", files={"files": ("noise.bmp", fh)}, timeout=30)
    assert response.status_code == 413 and str(TEST_LIMITS.max_bytes) in response.text
    with pytest.raises(ValueError, match="maximum file size"):
        served.api.predict(handle_file(str(bad_files["too_large"])), api_name="/classify")


def test_monitoring_endpoint_reports_the_log(served: ServedApp) -> None:
    text = served.api.predict(api_name="/monitor")
    rows = read_rows(served.log)
    ok = sum(r.status == "ok" for r in rows)
    assert ok > 0 and f"**Requests:** {ok} predicted, {len(rows) - ok} rejected" in text
    assert "metrics.class_counts" in text  # the training distribution came from the artifact metadata
    assert all(r.sha256 and len(r.sha256) == 64 for r in rows if r.status == "ok")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser-deps)")
def test_browser_upload_shows_the_label(served: ServedApp, built_space: Path, bad_files: dict[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    example = sorted((built_space / "examples").iterdir())[1]
    expected, _, _ = served.api.predict(handle_file(str(example)), api_name="/classify")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(served.url)
            page.locator("#upload input[type=file]").set_input_files(str(example))
            expect(page.locator("#details")).to_contain_text("Model time:", timeout=60_000)
            shown = page.locator("#top5").inner_text().split("\n")
            assert expected["label"] in shown[:3]  # heading "Top-5", then the top label
            page.goto(served.url)  # a fresh page: the file input is back
            page.locator("#upload input[type=file]").set_input_files(str(bad_files["not_an_image"]))
            expect(page.get_by_text("not an image we can read").first).to_be_visible(timeout=60_000)
        finally:
            browser.close()


def test_zz_app_never_imported_torch(served: ServedApp) -> None:
    """Last in the module: stop the app and read what it imported over all the requests above."""
    code = served.stop()
    if not served.imports.is_file():
        log = (served.log.parent / "app.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"the Space exited with {code} before its atexit report (killed after the 120 s grace?):\n{log}")
    seen = json.loads(served.imports.read_text())
    assert seen == {"blocked": [], "loaded": []}
