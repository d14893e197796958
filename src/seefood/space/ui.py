"""The Space's gradio app: a Classify tab (upload or example -> top-5 + model time) and a Monitoring tab.

A thin layer over `SpaceService`: uploads arrive as file paths (gr.File, not gr.Image, so gradio
does not decode them) and every failure becomes a gr.Error with a message, never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gradio as gr
from PIL import Image

from seefood.errors import SeefoodError
from seefood.space.monitor import report_markdown
from seefood.space.service import SpaceService
from seefood.space.uploads import UploadError

log = logging.getLogger(__name__)
PREVIEW_SIDE = 512  # the preview of the classified photo is downscaled to this


def _classify_fn(service: SpaceService) -> Callable[[str | None], tuple[dict[str, float], str, Image.Image]]:
    def classify(path: str | None) -> tuple[dict[str, float], str, Image.Image]:
        try:
            prediction = service.classify(path)
        except UploadError as exc:
            raise gr.Error(str(exc), title="Cannot classify this file", print_exception=False) from None
        except Exception:  # noqa: BLE001  (the UI boundary: the service logged the traceback; visitors get a sentence)
            raise gr.Error("Something went wrong inside the model (the details are in the Space's log): "
                           "please try another photo.", print_exception=False) from None
        details = (f"**Model time:** {prediction.model_ms:.1f} ms · total {prediction.total_ms:.0f} ms · "
                   f"{prediction.width}×{prediction.height} px")
        if prediction.note:
            details += f" · {prediction.note}"
        preview = prediction.image.copy()
        preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        return dict(prediction.labels), details, preview

    return classify


def _monitor_fn(service: SpaceService) -> Callable[[], str]:
    def monitor() -> str:
        try:
            return report_markdown(service.monitor())
        except SeefoodError as exc:
            return f"The monitoring report is not available: {exc}"

    return monitor


def _model_card(service: SpaceService) -> str:
    meta, decision = service.runtime.meta, service.settings.decision
    parts = [f"{meta.architecture} · {meta.format} {meta.precision} · {meta.num_classes} classes"]
    if decision.get("top1") is not None:
        parts.append(f"top-1 {float(decision['top1']):.1f}% on the benchmark set")  # bench reports percent
    if (decision.get("latency_ms") or {}).get("p50") is not None:
        parts.append(f"p50 {float(decision['latency_ms']['p50']):.1f} ms on {decision.get('device', 'cpu')}")
    return " · ".join(parts)


def build_app(service: SpaceService) -> gr.Blocks:
    """The gradio Blocks of the Space, wired to `service`."""
    settings = service.settings
    classify, monitor = _classify_fn(service), _monitor_fn(service)
    with gr.Blocks(title=settings.title) as demo:
        gr.Markdown(f"# {settings.title}\n{settings.description}\n\n<small>{_model_card(service)}</small>")
        with gr.Tab("Classify"):
            with gr.Row():
                with gr.Column():
                    upload = gr.File(label="Photo (JPEG, PNG, WebP, GIF or BMP)", type="filepath", elem_id="upload")
                    button = gr.Button("Classify", variant="primary", elem_id="classify")
                with gr.Column():
                    labels = gr.Label(num_top_classes=settings.top_k, label=f"Top-{settings.top_k}", elem_id="top5")
                    details = gr.Markdown(elem_id="details")
                    shown = gr.Image(label="As classified (upright, RGB)", type="pil", interactive=False, elem_id="shown")
            outputs: list[Any] = [labels, details, shown]
            button.click(classify, inputs=upload, outputs=outputs, api_name="classify",
                         concurrency_id="predict", concurrency_limit=settings.workers)
            upload.upload(classify, inputs=upload, outputs=outputs, api_visibility="private",
                          concurrency_id="predict", concurrency_limit=settings.workers)
            if service.example_paths:
                gr.Examples(examples=[[str(p)] for p in service.example_paths], inputs=upload, outputs=outputs,
                            fn=classify, run_on_click=True, cache_examples=False,
                            example_labels=[p.stem for p in service.example_paths])
        with gr.Tab("Monitoring") as monitoring:
            refresh = gr.Button("Refresh", elem_id="refresh")
            report = gr.Markdown(elem_id="monitor")
            refresh.click(monitor, outputs=report, api_name="monitor")
            monitoring.select(monitor, outputs=report, api_visibility="private")
    return demo


def launch_options(service: SpaceService) -> dict[str, Any]:
    """Keyword arguments for `demo.launch`: upload size limit, example folder, no error details."""
    examples = sorted({str(p.parent) for p in service.example_paths})
    return {"max_file_size": service.settings.limits.max_bytes, "show_error": False, "allowed_paths": examples}


def launch(demo: gr.Blocks, service: SpaceService, **launch: Any) -> None:
    """Queue (bounded, so a burst is refused instead of piling up) and launch the app; blocks."""
    demo.queue(max_size=8 * service.settings.workers, default_concurrency_limit=service.settings.workers)
    demo.launch(**{**launch_options(service), **launch})
