"""The Space's web server: the gradio page mounted in a FastAPI app beside plain JSON endpoints (torch-free).

    POST /api/predict   the photo as the request body (Content-Type: image/jpeg, image/png, ...), or
                        multipart/form-data with a `file` field. 200: {"label", "labels": [{"label",
                        "probability"}, ...], "model_ms", "total_ms", "width", "height", "note"}; otherwise
                        {"error": sentence} with 400 (bad photo), 413 (too large), 415 (not an image body),
                        503 + Retry-After (busy: retry), 504 (took too long) or 500.
    GET  /api/health    {"status": "ok", "model", "format", "precision", "classes", "top_k"}
    GET  /api/monitor   the owner's monitoring report as JSON (Authorization: Bearer $SEEFOOD_MONITOR_TOKEN);
                        absent (404) while monitoring is off.

The JSON endpoint is validated, admitted and logged by the same `SpaceService` as the page (source
'json'); its photo only ever lives in memory. `GradioWatch` (ASGI middleware) tells the upload janitor
which uploads gradio stored, and logs requests gradio's own queue refused (HTTP 503) as 'busy'.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from seefood.space.service import SpaceService
from seefood.space.ui import SpaceUI, UploadJanitor, token_matches
from seefood.space.uploads import UploadError

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

QUEUE_BACKSTOP = 4  # gradio's own queue holds this many times the service's capacity: it should never fill
MULTIPART_SLACK = 64 * 1024  # bytes a multipart body may hold beyond the photo (boundaries, headers)
RETRY_AFTER_S = 2
IMAGE_TYPES = "image/jpeg, image/png, image/webp, image/gif or image/bmp"
WRONG_TYPE = (f"Send the photo itself as the request body with its Content-Type ({IMAGE_TYPES}), "
              f"or as multipart/form-data with a 'file' field.")


class GradioWatch:
    """ASGI middleware over gradio's routes: registers stored uploads with the janitor (before the client
    can use them) and counts refusals of gradio's queue."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], uploads: UploadJanitor,
                 on_queue_full: Callable[[], None]) -> None:
        self.app = app
        self.uploads = uploads
        self.on_queue_full = on_queue_full

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")) if scope.get("type") == "http" else ""
        upload, join = path.endswith("/gradio_api/upload"), path.endswith("/gradio_api/queue/join")
        if scope.get("method") != "POST" or not (upload or join):
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if join and status == 503:
                    self.on_queue_full()
            elif upload and message["type"] == "http.response.body" and status == 200:
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    self._register(bytes(body))
            await send(message)

        await self.app(scope, receive, watch)

    def _register(self, body: bytes) -> None:
        try:
            paths = json.loads(body)
        except ValueError:
            return
        if isinstance(paths, list):
            self.uploads.uploaded(str(p) for p in paths if isinstance(p, str))


def _error(message: str, status: int) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _read_capped(request: Request, cap: int) -> bytes | None:
    """The request body, or None once it exceeds `cap` bytes (the rest is never read)."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > cap:
            return None
    return bytes(body)


async def _multipart_file(scope: Scope, body: bytes) -> bytes | None:
    """The `file` field (else the first file) of a multipart body already read; None when there is none."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(scope, replay).form(max_files=1, max_fields=8)
    try:
        item = form.get("file")
        if item is None or isinstance(item, str):
            item = next((v for v in form.values() if not isinstance(v, str)), None)
        return None if item is None else bytes(await item.read())
    finally:
        await form.close()


def _prediction_json(prediction: Any) -> dict[str, Any]:
    return {
        "label": prediction.labels[0][0],
        "labels": [{"label": name, "probability": round(p, 6)} for name, p in prediction.labels],
        "model_ms": round(prediction.model_ms, 3), "total_ms": round(prediction.total_ms, 3),
        "width": prediction.width, "height": prediction.height, "note": prediction.note,
    }


def add_json_routes(app: FastAPI, service: SpaceService, monitor_token: str | None) -> None:
    """POST /api/predict, GET /api/health and (with a token) GET /api/monitor."""
    limits = service.settings.limits
    meta = service.runtime.meta

    @app.post("/api/predict")
    async def predict(request: Request) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        multipart = media == "multipart/form-data"
        declared = request.headers.get("content-length", "")
        nbytes = int(declared) if declared.isdigit() else None
        if not (media.startswith("image/") or multipart):
            service.record_rejection(WRONG_TYPE, "json", nbytes)
            return _error(WRONG_TYPE, 415)
        cap = limits.max_bytes + (MULTIPART_SLACK if multipart else 0)
        body = None if nbytes is not None and nbytes > cap else await _read_capped(request, cap)
        if body is None:
            message = (f"The photo is larger than the limit of {limits.max_bytes / 1e6:.1f} MB: "
                       f"please send a smaller or more compressed photo.")
            service.record_rejection(message, "json", nbytes)
            return _error(message, 413)
        if multipart:
            try:
                data = await _multipart_file(request.scope, body)
            except Exception:  # noqa: BLE001  (any malformed multipart body is the client's)
                data = None
            if data is None:
                message = "The multipart body holds no file: send the photo in a 'file' field."
                service.record_rejection(message, "json", len(body))
                return _error(message, 400)
        else:
            data = body
        try:
            prediction = await run_in_threadpool(service.classify_bytes, data, "json")
        except UploadError as exc:  # BusyError included (503); logged by the service
            return _error(str(exc), exc.status)
        except Exception:  # noqa: BLE001  (logged with its traceback by the service)
            return _error("Something went wrong inside the model (the details are in the Space's log): "
                          "please try another photo.", 500)
        return JSONResponse(_prediction_json(prediction))

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": meta.architecture, "format": meta.format, "precision": meta.precision,
                "classes": list(meta.class_names), "top_k": service.settings.top_k}

    if monitor_token:
        @app.get("/api/monitor")
        async def monitor(request: Request) -> JSONResponse:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token_matches(given.strip(), monitor_token):
                return JSONResponse({"error": "send the owner token: Authorization: Bearer $SEEFOOD_MONITOR_TOKEN"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
            report = await run_in_threadpool(service.monitor)
            return JSONResponse(report.to_dict())


def create_server(ui: SpaceUI, service: SpaceService) -> FastAPI:
    """The FastAPI app: the JSON routes first, the gradio page mounted at / behind GradioWatch."""
    app = FastAPI(title=service.settings.title, docs_url=None, redoc_url=None, openapi_url=None)
    add_json_routes(app, service, ui.monitor_token)
    # no per-event concurrency limit in gradio: the service admits `workers + queue_size` requests and answers
    # the next one at once with "busy, retry"; gradio's own queue is only a backstop that should never fill
    ui.demo.queue(max_size=QUEUE_BACKSTOP * service.settings.capacity, default_concurrency_limit=None)
    app = gr.mount_gradio_app(app, ui.demo, path="/", footer_links=["api", "gradio"], run_history=False,
                              **ui.launch_options(service))
    app.add_middleware(GradioWatch, uploads=ui.uploads,
                       on_queue_full=lambda: service.record_busy("gradio's queue is full", "queue"))
    return app


def server_address() -> tuple[str, int]:
    """$GRADIO_SERVER_NAME / $GRADIO_SERVER_PORT as gradio reads them (a Hugging Face Space sets both);
    127.0.0.1:7860 when unset, 0.0.0.0 inside a Space."""
    default = "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"  # a Space must listen on every interface
    return os.environ.get("GRADIO_SERVER_NAME") or default, int(os.environ.get("GRADIO_SERVER_PORT") or 7860)


def launch(ui: SpaceUI, service: SpaceService, host: str | None = None, port: int | None = None) -> None:
    """Serve the Space until Ctrl-C (blocks)."""
    default_host, default_port = server_address()
    app = create_server(ui, service)
    host, port = host or default_host, port or default_port
    print(f"* Running on http://{host}:{port} (the page at /, JSON at /api/predict)", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)
    finally:
        service.close()
