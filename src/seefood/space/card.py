"""The Space's requirements.txt (only what the picked runtime needs) and README.md (front matter + model card)."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from typing import Any

from seefood.errors import BackendMissingError, ConfigError
from seefood.formats import FORMATS, SpaceRequirement
from seefood.metadata import ModelMeta

SpaceFormat = SpaceRequirement  # what a Space installs for one package (the format registry's record)

# formats a Space can serve without torch: a view of the format registry's `space` records (seefood.formats);
# torchscript / tensorrt / pytorch need torch and are refused, and so is executorch: its Python runtime imports
# torch (the .pte itself runs torch-free in ExecuTorch's C++ runtime)
SPACE_FORMATS: dict[str, SpaceFormat] = {name: spec.space for name, spec in FORMATS.items() if spec.space is not None}
# every Space: the web app (gradio, and the FastAPI + uvicorn it runs on, which the JSON endpoint uses
# directly), image decoding, arrays (gradio 6 needs pillow < 13: the pin keeps it there)
BASE_REQUIREMENTS: tuple[SpaceFormat, ...] = (
    SpaceFormat("gradio", ("gradio",), "pip install 'seefood[space]'"),
    SpaceFormat("fastapi", ("fastapi",), "pip install 'seefood[space]'"),
    SpaceFormat("uvicorn", ("uvicorn",), "pip install 'seefood[space]'"),
    SpaceFormat("pillow", ("PIL",), "pip install 'pillow<13'"),
    SpaceFormat("numpy", ("numpy",), "pip install numpy"),
)


def space_format(fmt: str) -> SpaceFormat:
    """The Space recipe of an artifact format; ConfigError for formats that need torch."""
    try:
        return SPACE_FORMATS[fmt]
    except KeyError:
        raise ConfigError(
            f"the picked artifact is {fmt!r}, which needs torch; a Space serves only "
            f"{' or '.join(SPACE_FORMATS)}: re-run `seefood pick REPORT --formats {','.join(SPACE_FORMATS)}`"
        ) from None


def installed_version(package: SpaceFormat) -> str:
    """Installed version of a requirement; BackendMissingError when it is absent."""
    try:
        return importlib.metadata.version(package.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise BackendMissingError(package.distribution, package.install, "needed to build the Space") from None


def requirements(fmt: str) -> list[str]:
    """Pinned requirement lines for a Space serving `fmt` (no torch, no seefood)."""
    packages = (*BASE_REQUIREMENTS, space_format(fmt))
    return [f"{p.distribution}=={installed_version(p)}" for p in packages]


def allowed_imports(fmt: str) -> set[str]:
    """Top-level third-party modules the bundled code may import in a Space serving `fmt`."""
    return {name for p in (*BASE_REQUIREMENTS, space_format(fmt)) for name in p.imports}


def _num(value: Any, fmt: str, missing: str = "–") -> str:
    try:
        return format(float(value), fmt)
    except (TypeError, ValueError):
        return missing


def _cell(value: Any) -> str:
    """Table-cell text: a literal | would split the Markdown cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _pct(value: Any) -> str:
    """Accuracy as bench reports it: already in percent."""
    return "–" if value is None else _num(value, ".2f") + "%"


def public_decision(decision: Any) -> Any:
    """The decision without its "artifact" paths: local folders of the build machine stay private."""
    if isinstance(decision, dict):
        return {k: public_decision(v) for k, v in decision.items() if k != "artifact"}
    if isinstance(decision, list):
        return [public_decision(v) for v in decision]
    return decision


def _front_matter(title: str, license_id: str, meta: ModelMeta) -> str:
    fields = {
        "title": title, "emoji": "🍽️", "colorFrom": "yellow", "colorTo": "red", "sdk": "gradio",
        "sdk_version": installed_version(BASE_REQUIREMENTS[0]),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "app_file": "app.py", "pinned": False, "license": license_id,
        "short_description": f"Food classifier: {meta.architecture}, {meta.format} {meta.precision}"[:60],
    }
    # JSON scalars are valid YAML, so titles with colons or quotes need no YAML escaping rules
    lines = [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items()]
    lines.append("tags: [image-classification, food, seefood, " + json.dumps(meta.format) + "]")
    return "---\n" + "\n".join(lines) + "\n---\n"


def readme(
    title: str, license_id: str, meta: ModelMeta, decision: dict[str, Any], examples_note: str, log_images: bool,
    evaluated_on: str = "", workers: int = 2, queue_size: int = 16,
) -> str:
    """README.md: Space front matter + a model card with the measured accuracy (and what it was measured on),
    latency and size, what happens to a visitor's photo, the JSON endpoint and the owner's monitoring."""
    lat = decision.get("latency_ms") or {}
    rules = decision.get("rules") or {}
    reference = decision.get("reference") or {}
    size_mb = _num(decision["size_bytes"] / 1e6 if decision.get("size_bytes") else None, ".2f")
    pruned = f", {meta.sparsity:.0%} channels pruned" if meta.sparsity else ""
    pre = meta.preprocessing
    reference_top1 = f" (top-1 {_pct(reference.get('top1'))})" if reference.get("top1") is not None else ""
    budget = f", p90 latency within {_num(rules.get('budget_ms'), 'g')} ms" if rules.get("budget_ms") else ""
    why = f" `seefood pick`: {decision['why']}." if decision.get("why") else ""
    measured_on = evaluated_on or "the benchmark set of `seefood bench` (not recorded with this build)"
    out = [
        _front_matter(title, license_id, meta),
        f"# {title}\n",
        (f"Upload a food photo (or pick an example) to get the top-5 of {meta.num_classes} classes with their "
        f"probabilities and the model time. Built by `seefood space build` from the artifact `seefood pick` "
        f"chose; it runs on {space_format(meta.format).distribution} without PyTorch.\n"),
        "## Model\n",
        "| | |\n|---|---|",
        f"| architecture | `{meta.architecture}` |",
        f"| artifact | `{decision.get('name', '–')}`: {meta.format}, {meta.precision}{pruned} |",
        f"| input | {pre.crop}×{pre.crop} px (resize {pre.resize}, {pre.interpolation}) |",
        f"| size | {size_mb} MB |",
        f"| classes | {_cell(', '.join(meta.class_names))} |",
        "",
        "## Measured by `seefood bench` (through this artifact's runtime)\n",
        "| top-1 | top-5 | latency p50 | p90 | p99 | device | batch | threads |",
        "|---|---|---|---|---|---|---|---|",
        (f"| {_pct(decision.get('top1'))} | {_pct(decision.get('top5'))} | {_num(lat.get('p50'), '.2f')} ms | "
        f"{_num(lat.get('p90'), '.2f')} ms | {_num(lat.get('p99'), '.2f')} ms | {decision.get('device', '–')} | "
        f"{decision.get('batch_size', '–')} | {decision.get('threads', '–')} |"),
        "",
        (f"Accuracy measured on: {measured_on}. Latency is per batch on the benchmark machine; a shared Space "
         "CPU is usually slower (the app shows the model time of every request).\n"),
        "## Why this artifact\n",
        (f"Rules: top-1 at most {_num(rules.get('max_drop'), 'g')} points below the fp32 reference{reference_top1}"
        f"{budget}; the smallest artifact that qualifies wins.{why}\n"),
    ]
    rejected = decision.get("rejected") or []
    if rejected:
        out += ["| rejected | rule | detail |", "|---|---|---|"]
        out += [f"| {_cell(r.get('name', '–'))} | {_cell(r.get('rule', '–'))} | {_cell(r.get('detail', ''))} |"
                for r in rejected]
        out.append("")
    kept = (" and the uploaded image itself: this Space was built with `--log-images`, so the owner keeps "
            "every photo" if log_images else "; never the image")
    out += [
        "## Your photo\n",
        ("An upload is deleted from the server as soon as it is classified (or refused); the preview comes back "
         "inline and nothing is kept in Gradio's cache. The prediction log (`logs/predictions.sqlite`, or "
         "`$SEEFOOD_LOG`) records each request once: time, top-5, confidence, latency, image size, file size "
         f"and the sha256 of the upload (refused uploads too){kept}.\n"),
        "## JSON endpoint\n",
        ("`POST /api/predict` with the photo as the request body (or multipart/form-data, field `file`) answers "
         "the top-5 labels with probabilities and the model time:\n"),
        ("```bash\ncurl -s -H 'Content-Type: image/jpeg' --data-binary @photo.jpg "
         "https://USER-SPACE.hf.space/api/predict\n```\n"),
        (f"At most {workers} photos are classified at once and {queue_size} wait; beyond that the Space answers "
         "\"busy, please retry\" at once (HTTP 503 with Retry-After on the JSON endpoint) and logs the refusal. "
         "`GET /api/health` names the model and its classes.\n"),
        "## Run it locally\n",
        "```bash\npip install -r requirements.txt\npython app.py   # or: seefood space serve .\n```\n",
        "## Monitoring (the owner's)\n",
        ("Off in the public app. Set the Space secret `SEEFOOD_MONITOR_TOKEN` (16+ random characters) to get an "
         "owner's Monitoring tab and `GET /api/monitor` (header `Authorization: Bearer <token>`): traffic, "
         "refusals, latency, low confidence and class drift (a drift verdict only from "
         "max(100, 10 x classes) predictions on), from running totals (it never re-reads the log). "
         "`seefood monitor logs/predictions.sqlite --reference .` writes the full report (table, PNG, JSON).\n"),
        f"## Examples\n\n{examples_note}\n",
    ]
    return "\n".join(out)
