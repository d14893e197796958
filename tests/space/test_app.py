"""The built Space served for real (torch blocked): predictions through gradio_client, the JSON endpoint and
headless Chromium, bad uploads answered with messages, every request logged once, a 20-client burst answered
or told to retry, the owner's monitoring behind its token, no visitor's photo left in gradio's folder, and no
torch imported at any point.

One app process serves the whole module (as its owner: $SEEFOOD_MONITOR_TOKEN is set; the public default,
without it, is checked in test_server.py); the last test stops it and reads what it imported.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
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

from .helpers import CLASSES, TEST_LIMITS, TEST_OUTPUT

TOKEN = "served-owner-token-0123456789"
HTTP_TIMEOUT_S = 180.0

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
    gradio_dir: Path  # $GRADIO_TEMP_DIR: where gradio stores uploads

    def client(self) -> Client:
        """A gradio_client of its own (connecting fetches the app's config). Its HTTP timeout is raised from
        httpx's 5 s: on a shared 2-core machine a burst can take longer than that to be answered."""
        return Client(self.url, verbose=False, download_files=str(self.downloads), analytics_enabled=False,
                      httpx_kwargs={"timeout": HTTP_TIMEOUT_S})

    def post_json(self, data: bytes, content_type: str = "image/jpeg") -> httpx.Response:
        return httpx.post(f"{self.url}api/predict", content=data, headers={"Content-Type": content_type},
                          timeout=HTTP_TIMEOUT_S)

    @functools.cached_property
    def api(self) -> Client:
        """One gradio_client for the module."""
        return self.client()

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
           "SEEFOOD_TEST_IMPORTS": str(work / "imports.json"), "SEEFOOD_MONITOR_TOKEN": TOKEN}
    out = (work / "app.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", LAUNCHER], cwd=built_space, env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    app = ServedApp(f"http://127.0.0.1:{port}/", work / "predictions.sqlite", work / "imports.json", process,
                    work / "downloads", work / "gradio")
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
    label, details = served.api.predict(handle_file(str(example)), api_name="/classify")
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == set(CLASSES) and sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)
    assert label["label"] == max(confidences, key=confidences.__getitem__)
    assert "Model time:" in details and "256×256 px" in details


@pytest.mark.parametrize(("name", "expect"), [
    ("cmyk.jpg", "CMYK -> RGB"), ("gray16.png", "-> RGB"), ("rgba.png", "RGBA -> RGB"),
    ("exif_rotated.jpg", "40×60 px"), ("palette.png", "P -> RGB"),
])
def test_odd_images_are_classified(served: ServedApp, tiny_images: dict[str, Path], name: str, expect: str) -> None:
    label, details = served.api.predict(handle_file(str(tiny_images[name])), api_name="/classify")
    assert label["label"] in CLASSES and expect in details


def test_animated_gif_uses_the_first_frame(served: ServedApp, animated_gif: Path) -> None:
    _, details = served.api.predict(handle_file(str(animated_gif)), api_name="/classify")
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
    big = served.post_json(bad_files["too_large"].read_bytes(), "image/bmp")
    assert big.status_code == 413 and "limit" in big.json()["error"]


def test_json_endpoint_answers_like_the_page(served: ServedApp, tiny_images: dict[str, Path],
                                             bad_files: dict[str, Path]) -> None:
    data = tiny_images["exif_rotated.jpg"].read_bytes()
    answer = served.post_json(data).json()
    label, _ = served.api.predict(handle_file(str(tiny_images["exif_rotated.jpg"])), api_name="/classify")
    assert answer["label"] == label["label"] and (answer["width"], answer["height"]) == (40, 60)
    assert {x["label"]: x["probability"] for x in answer["labels"]} == pytest.approx(
        {c["label"]: c["confidence"] for c in label["confidences"]}, abs=1e-5)
    form = httpx.post(f"{served.url}api/predict", files={"file": ("p.jpg", data, "image/jpeg")},
                      timeout=HTTP_TIMEOUT_S)
    assert form.status_code == 200 and form.json()["label"] == answer["label"]
    bad = served.post_json(bad_files["truncated"].read_bytes())
    assert bad.status_code == 400 and "truncated or corrupt" in bad.json()["error"]
    health = httpx.get(f"{served.url}api/health", timeout=30).json()
    assert health["classes"] == list(CLASSES)


def test_each_request_is_logged_exactly_once(served: ServedApp, tiny_images: dict[str, Path],
                                             bad_files: dict[str, Path]) -> None:
    before = len(read_rows(served.log))
    served.api.predict(handle_file(str(tiny_images["rgb.jpg"])), api_name="/classify")
    served.post_json(tiny_images["rgb.jpg"].read_bytes())
    with pytest.raises(AppError):
        served.api.predict(handle_file(str(bad_files["empty"])), api_name="/classify")
    served.post_json(bad_files["not_an_image"].read_bytes())
    rows = read_rows(served.log)[before:]
    assert [(r.status, r.source) for r in rows] == [("ok", "api"), ("ok", "json"), ("rejected", "api"),
                                                    ("rejected", "json")]
    assert rows[0].sha256 == rows[1].sha256 == hashlib.sha256(tiny_images["rgb.jpg"].read_bytes()).hexdigest()
    assert rows[2].nbytes == 0 and rows[3].nbytes == bad_files["not_an_image"].stat().st_size


def test_a_burst_of_20_clients_is_answered_or_told_to_retry(served: ServedApp, tiny_images: dict[str, Path]) -> None:
    """10 gradio_client + 10 JSON requests released at once: each gets its labels or "busy, please retry",
    and each is logged once (busy ones as 'busy')."""
    clients = [served.client() for _ in range(10)]
    data = tiny_images["rgb.jpg"].read_bytes()
    start = threading.Barrier(20)
    answers: list[str] = []

    def through_gradio(client: Client) -> None:
        start.wait()
        try:
            label, _ = client.predict(handle_file(str(tiny_images["rgb.jpg"])), api_name="/classify")
            answers.append("ok" if label["label"] in CLASSES else f"odd {label}")
        except AppError as exc:
            answers.append("busy" if "busy" in str(exc) and "retry" in str(exc) else f"error {exc}")

    def through_json() -> None:
        start.wait()
        response = served.post_json(data)
        if response.status_code == 200:
            answers.append("ok")
        else:
            ok = response.status_code == 503 and "retry" in response.json()["error"] and "Retry-After" in response.headers
            answers.append("busy" if ok else f"error {response.status_code} {response.text}")

    before = len(read_rows(served.log))
    threads = [threading.Thread(target=through_gradio, args=(c,)) for c in clients]
    threads += [threading.Thread(target=through_json) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=2 * HTTP_TIMEOUT_S)
    for c in clients:
        c.close()
    assert len(answers) == 20 and set(answers) <= {"ok", "busy"}, answers
    rows = read_rows(served.log)[before:]
    assert len(rows) == 20 and sum(r.status == "busy" for r in rows) == answers.count("busy")


def test_monitoring_is_the_owners_and_counts_every_request(served: ServedApp) -> None:
    with pytest.raises(AppError, match="Wrong owner token"):
        served.api.predict("a guess", api_name="/monitor")
    text = served.api.predict(TOKEN, api_name="/monitor")
    rows = read_rows(served.log)
    ok, busy = sum(r.status == "ok" for r in rows), sum(r.status == "busy" for r in rows)
    assert f"**Requests:** {ok} predicted, {len(rows) - ok - busy} rejected, {busy} refused as busy" in text
    assert "metrics.class_counts" in text  # the training distribution came from the artifact metadata
    assert "no verdict below 100 predictions" in text  # a few dozen predictions: no drift verdict
    assert all(r.sha256 and len(r.sha256) == 64 for r in rows if r.status == "ok")
    assert httpx.get(f"{served.url}api/monitor", timeout=30).status_code == 401
    report = httpx.get(f"{served.url}api/monitor", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).json()
    assert (report["requests"], report["busy"]) == (ok, busy)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser-deps)")
def test_browser_upload_examples_and_no_console_errors(served: ServedApp, built_space: Path,
                                                       bad_files: dict[str, Path]) -> None:
    """A visitor's visit: upload -> result and preview; the example thumbnails load and classify on a click;
    the classes are listed; a bad file gets its message; no console errors. The screenshot is kept in
    TEST_OUTPUT for people to look at."""
    from playwright.sync_api import expect, sync_playwright

    examples = sorted((built_space / "examples").iterdir())
    expected, _ = served.api.predict(handle_file(str(examples[1])), api_name="/classify")
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(served.url)
            page.locator("#upload input[type=file]").set_input_files(str(examples[1]))
            expect(page.locator("#details")).to_contain_text("Model time:", timeout=60_000)
            shown = page.locator("#top5").inner_text().split("\n")
            assert expected["label"] in shown[:3]  # heading "Top-5", then the top label
            expect(page.locator("#shown img")).to_be_visible()  # the inline preview
            thumbs = page.locator("#examples img")
            expect(thumbs).to_have_count(len(examples))
            widths = [thumbs.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0") for i in range(len(examples))]
            assert all(w > 0 for w in widths), widths  # every thumbnail loaded
            expect(page.locator("#classes")).to_contain_text(", ".join(CLASSES))
            logged = len(read_rows(served.log))
            thumbs.nth(0).click()  # the drawn examples may give the very same text: wait for the click's log row
            deadline = time.monotonic() + 60
            while len(read_rows(served.log)) == logged and time.monotonic() < deadline:
                time.sleep(0.2)
            clicked = read_rows(served.log)[logged:]
            assert [(r.status, r.source) for r in clicked] == [("ok", "ui")]
            expect(page.locator("#top5")).to_contain_text(str(clicked[0].label), timeout=60_000)
            page.wait_for_timeout(500)  # let the result settle before the picture is taken
            TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(TEST_OUTPUT / "space-page.png"), full_page=True)
            page.locator("#upload input[type=file]").set_input_files(str(bad_files["not_an_image"]))
            expect(page.get_by_text("not an image we can read").first).to_be_visible(timeout=60_000)
        finally:
            browser.close()
    assert problems == []
    assert (TEST_OUTPUT / "space-page.png").stat().st_size > 10_000


def test_zy_no_visitor_photo_remains_on_the_server(served: ServedApp, tiny_images: dict[str, Path],
                                                   bad_files: dict[str, Path]) -> None:
    """After every request above (and one more of each kind), gradio's upload folder holds no file."""
    served.api.predict(handle_file(str(tiny_images["rgb.jpg"])), api_name="/classify")
    with pytest.raises(AppError):
        served.api.predict(handle_file(str(bad_files["truncated"])), api_name="/classify")
    assert served.gradio_dir.is_dir()  # gradio did store the uploads there
    left = sorted(str(p.relative_to(served.gradio_dir)) for p in served.gradio_dir.rglob("*") if not p.is_dir())
    assert left == []


def test_zz_app_never_imported_torch(served: ServedApp) -> None:
    """Last in the module: stop the app and read what it imported over all the requests above."""
    code = served.stop()
    if not served.imports.is_file():
        log = (served.log.parent / "app.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"the Space exited with {code} before its atexit report (killed after the 120 s grace?):\n{log}")
    seen = json.loads(served.imports.read_text())
    assert seen == {"blocked": [], "loaded": []}
