"""The Space's gradio page: upload a photo (or click an example thumbnail) -> top-5 + model time; the
owner's monitoring tab only when $SEEFOOD_MONITOR_TOKEN is set.

A thin layer over `SpaceService`: uploads arrive as file paths (a gr.File, not gr.Image, so gradio does
not decode them) and every failure becomes a gr.Error with a message, never a stack trace.

Privacy: no visitor's photo stays on the server. Gradio stores each upload in its upload folder
($GRADIO_TEMP_DIR); `UploadJanitor` deletes it as soon as the request that uploaded it was classified
(or refused), the preview travels inline (a data: URI, never a file in gradio's cache), the examples are
served from the Space's folder (static, never copied), and uploads no request ever used are swept after
`ORPHAN_S`. Keeping images is the owner's explicit choice (`--log-images`: in the prediction log).

One log row per request: the upload runs the page's classification once (there is no second button),
the API endpoint /classify is its own event, and example clicks are their own event.
"""

from __future__ import annotations

import base64
import hmac
import io
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import NamedString, get_upload_folder
from PIL import Image

from seefood.space.monitor import report_markdown
from seefood.space.service import BusyError, Prediction, SpaceService
from seefood.space.uploads import UploadError

log = logging.getLogger(__name__)
PREVIEW_SIDE = 256  # the inline preview of the classified photo is downscaled to this
ORPHAN_S = 120.0  # uploads that no request classified are deleted after this many seconds
MONITOR_TOKEN_ENV = "SEEFOOD_MONITOR_TOKEN"  # set it (a Space secret) to turn the owner's monitoring on
MIN_TOKEN_CHARS = 16


def monitor_token_from_env() -> str | None:
    """The owner's monitoring token, or None: monitoring stays off in the public app."""
    token = os.environ.get(MONITOR_TOKEN_ENV, "").strip()
    if token and len(token) < MIN_TOKEN_CHARS:
        log.warning("$%s is only %d characters: use at least %d random ones", MONITOR_TOKEN_ENV, len(token),
                    MIN_TOKEN_CHARS)
    return token or None


def token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; always False while monitoring is off."""
    return bool(expected) and hmac.compare_digest(str(given or "").encode(), str(expected).encode())


def photo_upload(**kwargs: Any) -> gr.File:
    """A gr.File(type="filepath") whose preprocessing passes the stored path on and creates nothing.

    gradio 6.31's File.preprocess opens an empty NamedTemporaryFile in its upload folder for every request
    and never removes it. The fix is set on the instance: a subclass of a gradio component makes gradio
    write a .pyi stub beside the module defining it, at import time (in the source tree, or the Space).
    """
    component = gr.File(type="filepath", **kwargs)

    def process_single_file(f: Any) -> NamedString:
        return NamedString(f.path)

    setattr(component, "_process_single_file", process_single_file)  # noqa: B010  (a method, on purpose)
    return component


@dataclass
class UploadJanitor:
    """Deletes each upload from gradio's upload folder once the request that uploaded it was answered.

    Gradio stores an upload at FOLDER/<sha256 of the bytes>/<file name>, so two visitors sending the same
    file at once share one path: the server's middleware counts each successful upload (`uploaded`) and
    the file goes when the last of them was classified (`done`). Paths outside the folder are never touched.
    """

    folder: Path
    orphan_s: float = ORPHAN_S
    _pending: dict[Path, tuple[int, float]] = field(default_factory=dict)  # path -> (uploads not yet done, last)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_gradio(cls) -> UploadJanitor:
        """The janitor of gradio's upload folder ($GRADIO_TEMP_DIR, else the system temp dir's gradio/)."""
        return cls(Path(get_upload_folder()).resolve())

    def _inside(self, path: str | os.PathLike[str]) -> Path | None:
        try:
            resolved = Path(path).resolve()
        except (OSError, ValueError):
            return None
        return resolved if self.folder in resolved.parents else None

    def uploaded(self, paths: Iterable[str]) -> None:
        """Gradio stored these uploads (one count per upload request)."""
        now = time.monotonic()
        with self._lock:
            for raw in paths:
                path = self._inside(raw)
                if path is not None:
                    self._pending[path] = (self._pending.get(path, (0, now))[0] + 1, now)
        self.sweep()

    def done(self, raw: str | os.PathLike[str] | None) -> None:
        """A request that uploaded `raw` was answered: delete it unless another upload of it is pending."""
        path = self._inside(raw) if raw else None
        if path is None:
            return
        with self._lock:
            count, _ = self._pending.pop(path, (1, 0.0))
            if count > 1:
                self._pending[path] = (count - 1, time.monotonic())
                return
            _delete(path, self.folder)

    def sweep(self) -> None:
        """Delete uploads that no request classified within `orphan_s` (uploaded, then never used)."""
        limit = time.monotonic() - self.orphan_s
        with self._lock:
            for path in [p for p, (_, last) in self._pending.items() if last < limit]:
                del self._pending[path]
                _delete(path, self.folder)

    @property
    def pending(self) -> int:
        """Uploads stored and not yet classified."""
        with self._lock:
            return sum(count for count, _ in self._pending.values())


def _delete(path: Path, folder: Path) -> None:
    try:
        path.unlink(missing_ok=True)
        if path.parent != folder:
            path.parent.rmdir()  # gradio's per-upload folder; fails (kept) when something else is in it
    except OSError:
        pass


def preview_html(image: Image.Image) -> str:
    """The photo as classified (upright, RGB), downscaled and inline: nothing is written to disk."""
    thumb = image.copy()
    thumb.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=80)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure style="margin:0"><img alt="the photo as classified" src="data:image/jpeg;base64,{data}" '
            f'style="max-width:100%;border-radius:6px"/><figcaption><small>as classified: upright, RGB'
            f'</small></figcaption></figure>')


def _details(prediction: Prediction) -> str:
    text = (f"**Model time:** {prediction.model_ms:.1f} ms · total {prediction.total_ms:.0f} ms · "
            f"{prediction.width}×{prediction.height} px")
    return f"{text} · {prediction.note}" if prediction.note else text


def _answer(service: SpaceService, path: str | Path | None, source: str) -> Prediction:
    """service.classify with the UI's error contract: gr.Error with a sentence, never a traceback."""
    try:
        return service.classify(path, source=source)
    except BusyError as exc:
        raise gr.Error(str(exc), title="Busy: please retry", print_exception=False) from None
    except UploadError as exc:
        raise gr.Error(str(exc), title="Cannot classify this file", print_exception=False) from None
    except Exception:  # noqa: BLE001  (the UI boundary: the service logged the traceback; visitors get a sentence)
        raise gr.Error("Something went wrong inside the model (the details are in the Space's log): "
                       "please try another photo.", print_exception=False) from None


def _model_card(service: SpaceService) -> str:
    meta, settings = service.runtime.meta, service.settings
    decision = settings.decision
    parts = [f"{meta.architecture} · {meta.format} {meta.precision} · {meta.num_classes} classes"]
    if decision.get("top1") is not None:
        on = settings.evaluated_on or "the benchmark set of `seefood bench` (not recorded with this build)"
        parts.append(f"top-1 {float(decision['top1']):.1f}% on {on}")  # bench reports percent
    if (decision.get("latency_ms") or {}).get("p50") is not None:
        parts.append(f"model p50 {float(decision['latency_ms']['p50']):.1f} ms on the benchmark's "
                     f"{decision.get('device', 'cpu')}")
    return " · ".join(parts)


@dataclass
class SpaceUI:
    """The page and what the server around it needs."""

    demo: gr.Blocks
    uploads: UploadJanitor
    monitor_token: str | None  # None: no monitoring anywhere in the app

    def launch_options(self, service: SpaceService) -> dict[str, Any]:
        """Keyword arguments for `demo.launch` / `gr.mount_gradio_app`: upload size limit, the examples'
        folder, no error details."""
        examples = sorted({str(p.parent) for p in service.example_paths})
        return {"max_file_size": service.settings.limits.max_bytes, "show_error": False, "allowed_paths": examples}


def build_ui(service: SpaceService, monitor_token: str | None = None, uploads: UploadJanitor | None = None) -> SpaceUI:
    """The gradio Blocks of the Space, wired to `service`; `monitor_token` turns the owner's tab on."""
    settings = service.settings
    uploads = uploads or UploadJanitor.for_gradio()
    examples = service.example_paths
    if examples:
        gr.set_static_paths([str(p) for p in examples])  # served from the Space's folder, never copied

    def classify_page(path: str | None) -> tuple[dict[str, float], str, str, None]:
        try:
            prediction = _answer(service, path, "ui")
        finally:
            uploads.done(path)
        # the upload field is emptied: its link would point at the file just deleted
        return dict(prediction.labels), _details(prediction), preview_html(prediction.image), None

    def classify_api(path: str | None) -> tuple[dict[str, float], str]:
        try:
            prediction = _answer(service, path, "api")
        finally:
            uploads.done(path)
        return dict(prediction.labels), _details(prediction)

    def classify_example(evt: gr.SelectData) -> tuple[dict[str, float], str, str]:
        index = evt.index if isinstance(evt.index, int) else -1
        if not 0 <= index < len(examples):
            raise gr.Error("That example does not exist: pick one of the pictures.", print_exception=False)
        prediction = _answer(service, examples[index], "ui")
        return dict(prediction.labels), _details(prediction), preview_html(prediction.image)

    def monitor(token: str | None) -> str:
        if not token_matches(token, monitor_token):
            raise gr.Error("Wrong owner token.", title="Not allowed", print_exception=False)
        return report_markdown(service.monitor())

    names = service.runtime.meta.class_names
    with gr.Blocks(title=settings.title, delete_cache=(60, int(ORPHAN_S))) as demo:
        gr.Markdown(f"# {settings.title}\n{settings.description}\n\n<small>{_model_card(service)}</small>")
        with gr.Tab("Classify"):
            with gr.Row():
                with gr.Column():
                    upload = photo_upload(label="Photo (JPEG, PNG, WebP, GIF or BMP): it is classified at once "
                                                "and deleted from the server right after", elem_id="upload")
                    gallery = gr.Gallery(
                        value=[(str(p), p.stem) for p in examples], label="Examples: click one", columns=4,
                        height="auto", allow_preview=False, object_fit="cover", buttons=[], interactive=False,
                        elem_id="examples", visible=bool(examples))
                with gr.Column():
                    labels = gr.Label(num_top_classes=settings.top_k, label=f"Top-{settings.top_k}", elem_id="top5")
                    details = gr.Markdown(elem_id="details")
                    shown = gr.HTML(elem_id="shown")
            gr.Markdown(f"**The {len(names)} classes this model knows:** {', '.join(names)}. "
                        "Any other photo still gets one of these labels.", elem_id="classes")
            upload.upload(classify_page, inputs=upload, outputs=[labels, details, shown, upload],
                          api_visibility="private")
            gallery.select(classify_example, outputs=[labels, details, shown], api_visibility="private")
            # the API endpoint (gradio_client): its own event, no preview; hidden, so the page cannot run it twice
            api_button = gr.Button("classify", visible=False)
            api_button.click(classify_api, inputs=upload, outputs=[labels, details], api_name="classify")
        if monitor_token:
            with gr.Tab("Monitoring (owner)"):
                token = gr.Textbox(label="Owner token ($SEEFOOD_MONITOR_TOKEN)", type="password", elem_id="token")
                refresh = gr.Button("Show the report", elem_id="refresh")
                report = gr.Markdown(elem_id="monitor")
                refresh.click(monitor, inputs=token, outputs=report, api_name="monitor", concurrency_limit=1)
    return SpaceUI(demo, uploads, monitor_token)


def build_app(service: SpaceService, monitor_token: str | None = None) -> gr.Blocks:
    """The gradio Blocks alone (what `gradio app.py` reloads); the server adds the JSON endpoint around it."""
    return build_ui(service, monitor_token).demo

