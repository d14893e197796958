"""The Space's server in-process: the JSON endpoint (validated and logged like the page, busy answered with 503),
the owner-only monitoring (absent from the public app), the upload janitor and gradio's leftovers.

The served app (subprocess, torch blocked, real browser) is in test_app.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from seefood.space.predlog import read_rows
from seefood.space.server import GradioWatch, add_json_routes
from seefood.space.service import SpaceService
from seefood.space.ui import UploadJanitor, build_ui, photo_upload, token_matches

from .helpers import CLASSES
from .test_service import SlowRuntime

TOKEN = "owner-token-0123456789"


@pytest.fixture
def service(built_space: Path, tmp_path: Path) -> Iterator[SpaceService]:
    svc = SpaceService.from_folder(built_space, log_path=tmp_path / "log.sqlite")
    yield svc
    svc.close()


def _client(service: SpaceService, token: str | None = None) -> TestClient:
    app = FastAPI()
    add_json_routes(app, service, token)
    return TestClient(app)


def test_json_predict_with_a_raw_body_or_multipart(service: SpaceService, tiny_images: dict[str, Path]) -> None:
    data = tiny_images["rgba.png"].read_bytes()
    client = _client(service)
    raw = client.post("/api/predict", content=data, headers={"Content-Type": "image/png"})
    assert raw.status_code == 200, raw.text
    answer = raw.json()
    assert answer["label"] == answer["labels"][0]["label"] and {x["label"] for x in answer["labels"]} == set(CLASSES)
    assert sum(x["probability"] for x in answer["labels"]) == pytest.approx(1.0, abs=1e-4)
    assert 0 < answer["model_ms"] <= answer["total_ms"] and answer["note"] == "RGBA -> RGB"
    assert (answer["width"], answer["height"]) == (60, 40)
    form = client.post("/api/predict", files={"file": ("photo.png", data, "image/png")})
    assert form.status_code == 200 and form.json()["labels"] == answer["labels"]
    rows = read_rows(service.log.path)
    assert [(r.status, r.source, r.sha256) for r in rows] == [("ok", "json", hashlib.sha256(data).hexdigest())] * 2


@pytest.mark.parametrize(("case", "headers", "status", "message"), [
    ("not_an_image", {"Content-Type": "image/jpeg"}, 400, "not an image we can read"),
    ("truncated", {"Content-Type": "image/jpeg"}, 400, "truncated or corrupt"),
    ("empty", {"Content-Type": "image/png"}, 400, "The file is empty"),
    ("pil_bomb_error", {"Content-Type": "image/png"}, 400, "decompression bomb"),
    ("too_large", {"Content-Type": "image/bmp"}, 413, "larger than the limit of 0.3 MB"),
    ("not_an_image", {"Content-Type": "text/plain"}, 415, "Content-Type"),
    ("not_an_image", {}, 415, "Content-Type"),
])
def test_json_refusals_say_why_and_are_logged_once(service: SpaceService, bad_files: dict[str, Path], case: str,
                                                   headers: dict[str, str], status: int, message: str) -> None:
    data = bad_files[case].read_bytes()
    response = _client(service).post("/api/predict", content=data, headers=headers)
    assert response.status_code == status and message in response.json()["error"]
    (row,) = read_rows(service.log.path)
    assert row.status == "rejected" and row.source == "json" and row.nbytes == len(data) and row.error
    assert row.sha256 == (hashlib.sha256(data).hexdigest() if status == 400 else None)


def test_json_multipart_without_a_file(service: SpaceService) -> None:
    response = _client(service).post("/api/predict", data={"note": "no photo"}, files={"x": ("", b"", "")})
    assert response.status_code == 400 and "'file' field" in response.json()["error"]
    assert [r.status for r in read_rows(service.log.path)] == ["rejected"]


def test_json_busy_is_503_with_retry_after(service: SpaceService, tiny_images: dict[str, Path],
                                           tmp_path: Path) -> None:
    held = SpaceService(service.root, replace(service.settings, workers=1, queue_size=0),
                        SlowRuntime(service.runtime.meta), tmp_path / "busy.sqlite")
    gate = held.runtime.gate = threading.Event()
    first = threading.Thread(target=held.classify, args=(tiny_images["rgb.jpg"], "ui"))
    first.start()
    deadline = time.monotonic() + 30
    while held.in_flight < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    response = _client(held).post("/api/predict", content=tiny_images["rgb.jpg"].read_bytes(),
                                  headers={"Content-Type": "image/jpeg"})
    gate.set()
    first.join(timeout=60)
    held.close()
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert "busy" in response.json()["error"] and "retry" in response.json()["error"]
    assert sorted((r.status, r.source) for r in read_rows(tmp_path / "busy.sqlite")) == [("busy", "json"), ("ok", "ui")]


def test_health_names_the_model(service: SpaceService) -> None:
    answer = _client(service).get("/api/health").json()
    assert answer["status"] == "ok" and answer["classes"] == list(CLASSES) and answer["format"] == "onnx"


def test_monitoring_is_off_without_a_token_and_owner_only_with_one(service: SpaceService,
                                                                   tiny_images: dict[str, Path]) -> None:
    assert _client(service).get("/api/monitor").status_code == 404
    owner = _client(service, TOKEN)
    owner.post("/api/predict", content=tiny_images["rgb.jpg"].read_bytes(), headers={"Content-Type": "image/jpeg"})
    assert owner.get("/api/monitor").status_code == 401
    wrong = owner.get("/api/monitor", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    report = owner.get("/api/monitor", headers={"Authorization": f"Bearer {TOKEN}"})
    assert report.status_code == 200 and report.json()["requests"] == 1 and report.json()["drift"] is None
    assert not token_matches("", None) and not token_matches(TOKEN, None) and token_matches(TOKEN, TOKEN)


def _endpoints(config: dict[str, Any]) -> dict[str, str]:
    return {str(d["api_name"]): str(d["api_visibility"]) for d in config["dependencies"]}


def test_the_public_page_has_no_monitoring(service: SpaceService, tmp_path: Path) -> None:
    public = build_ui(service, monitor_token=None, uploads=UploadJanitor(tmp_path))
    endpoints = _endpoints(public.demo.config)
    assert endpoints == {"classify_page": "private", "classify_example": "private", "classify": "public"}
    tabs = [c["props"].get("label") for c in public.demo.config["components"] if c["type"] == "tabitem"]
    assert tabs == ["Classify"]
    owner = build_ui(service, monitor_token=TOKEN, uploads=UploadJanitor(tmp_path))
    assert _endpoints(owner.demo.config)["monitor"] == "public"  # callable, but only with the token


def test_the_janitor_deletes_each_upload_once_every_sender_was_answered(tmp_path: Path) -> None:
    folder = tmp_path / "gradio"
    shared = folder / ("ab" * 32) / "photo.jpg"  # gradio's path: FOLDER/<sha256 of the bytes>/<name>
    shared.parent.mkdir(parents=True)
    shared.write_bytes(b"photo")
    outside = tmp_path / "examples" / "01.jpg"
    outside.parent.mkdir()
    outside.write_bytes(b"example")
    janitor = UploadJanitor(folder.resolve())
    janitor.uploaded([str(shared), str(shared)])  # two visitors sent the same file at once
    janitor.done(str(shared))
    assert shared.is_file() and janitor.pending == 1  # the second one still needs it
    janitor.done(str(shared))
    assert not shared.exists() and not shared.parent.exists() and janitor.pending == 0
    janitor.done(str(outside))
    janitor.done(None)
    assert outside.is_file()  # never anything outside gradio's folder
    orphan = folder / ("cd" * 32) / "never-used.png"
    orphan.parent.mkdir()
    orphan.write_bytes(b"x")
    janitor.orphan_s = 0.0
    janitor.uploaded([str(orphan)])  # registering sweeps: an upload no request used is deleted after orphan_s
    time.sleep(0.01)
    janitor.sweep()
    assert not orphan.exists() and janitor.pending == 0


def test_the_upload_field_creates_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr
    from gradio.data_classes import FileData

    stored = tmp_path / "upload.jpg"
    stored.write_bytes(b"x")
    plain, ours = gr.File(type="filepath", render=False), photo_upload(render=False)
    for component in (plain, ours):
        monkeypatch.setattr(component, "GRADIO_CACHE", str(tmp_path))
    before = sorted(tmp_path.iterdir())
    assert ours.preprocess(FileData(path=str(stored))) == str(stored)
    assert sorted(tmp_path.iterdir()) == before
    assert plain.preprocess(FileData(path=str(stored))) == str(stored)
    # gradio's own File leaves an empty tmpXXXX file per request: when a gradio release stops doing so,
    # this fails and photo_upload can go
    assert len(sorted(tmp_path.iterdir())) == len(before) + 1
    assert not list(Path(__file__).resolve().parents[2].joinpath("src/seefood/space").glob("*.pyi"))


def test_gradio_watch_registers_uploads_and_counts_queue_refusals(tmp_path: Path) -> None:
    janitor = UploadJanitor(tmp_path.resolve())
    refused: list[int] = []
    stored = str(tmp_path / ("ef" * 32) / "a.jpg")

    async def gradio(scope: dict[str, Any], receive: Any, send: Any) -> None:
        status, body = (200, json.dumps([stored]).encode()) if scope["path"].endswith("upload") else (503, b"{}")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body[:5], "more_body": True})
        assert janitor.pending == (0 if status == 200 else 1)  # registered only once the whole answer is known ...
        await send({"type": "http.response.body", "body": body[5:], "more_body": False})

    watch = GradioWatch(gradio, janitor, lambda: refused.append(1))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if message.get("more_body") is False:
            assert janitor.pending == 1  # ... and before its last bytes leave for the client
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    asyncio.run(watch({"type": "http", "method": "POST", "path": "/gradio_api/upload"}, receive, send))
    assert janitor.pending == 1 and refused == []
    asyncio.run(watch({"type": "http", "method": "POST", "path": "/gradio_api/queue/join"}, receive, send))
    assert refused == [1] and len(sent) == 6
