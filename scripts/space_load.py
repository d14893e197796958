"""Bounded loopback load test of a built Space: latency and throughput through gradio_client and the JSON endpoint.

    python scripts/space_load.py runs/space-lite2 --image photo.jpg            # starts the Space, then stops it
    python scripts/space_load.py --url http://127.0.0.1:7860/ --image photo.jpg  # a Space already running here

For each path and each concurrency level (default 1, 4, 16 clients) it sends a fixed number of requests
(--requests, split among the clients) and stops early at --max-seconds; then a burst of --burst clients
released at once, one request each, must all get labels or a clear "busy, retry". Every client has its own
connection, made (and warmed with one request) before the clock starts.

Paths: `json` (POST /api/predict, one keep-alive httpx connection per client), `gradio` (gradio_client as
people use it: `Client(url).predict(handle_file(path), api_name="/classify")`) and `gradio-ctx` (the same
with `ssl_verify=` one shared ssl.SSLContext: gradio_client otherwise builds a new httpx client, loading the
certificate bundle, for each of the 3 HTTP calls of a prediction, even over plain http).

Loopback only (127.0.0.1 / localhost / ::1); at most 5000 requests per level, 64 clients, 600 s per level.
Prints a Markdown table and writes the numbers as JSON with --out. A Space it starts writes its log and
gradio's uploads into a temporary folder, which is checked for leftover files at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_REQUESTS, MAX_CLIENTS, MAX_SECONDS = 5000, 64, 600.0
MODEL_TIME = re.compile(r"Model time:\*\* ([0-9.]+) ms")


@dataclass
class Level:
    """One path at one concurrency: what came back."""

    path: str
    clients: int
    sent: int = 0
    ok: int = 0
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    latency_ms: list[float] = field(default_factory=list)  # of the answered requests
    model_ms: list[float] = field(default_factory=list)  # what the server reported for them

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latency_ms)

        def pct(q: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(q / 100 * len(lat)))], 2) if lat else None

        model = round(statistics.median(self.model_ms), 2) if self.model_ms else None
        return {"path": self.path, "clients": self.clients, "sent": self.sent, "ok": self.ok, "busy": self.busy,
                "errors": len(self.errors), "first_errors": self.errors[:3], "wall_s": round(self.wall_s, 2),
                "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
                "throughput_rps": round(self.ok / self.wall_s, 1) if self.wall_s else None, "model_p50_ms": model,
                "over_model_p50_ms": round(pct(50) - model, 2) if lat and model is not None else None}


class Caller:
    """One client of one path: `call()` -> ("ok", model_ms) | ("busy", None); raises on anything else."""

    def __init__(self, path: str, url: str, image: Path, ctx: ssl.SSLContext | None, timeout_s: float) -> None:
        self.path, self.url, self.image = path, url, image
        self.data = image.read_bytes()
        self.content_type = {"jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(image.suffix.lower().strip("."),
                                                                           f"image/{image.suffix.lower().strip('.')}")
        if path == "json":
            import httpx

            self.http = httpx.Client(timeout=timeout_s)
        else:
            from gradio_client import Client

            extra = {"ssl_verify": ctx} if path == "gradio-ctx" else {}
            self.client = Client(url, verbose=False, analytics_enabled=False, download_files=False,
                                 httpx_kwargs={"timeout": timeout_s}, **extra)

    def call(self) -> tuple[str, float | None]:
        if self.path == "json":
            r = self.http.post(f"{self.url}api/predict", content=self.data, headers={"Content-Type": self.content_type})
            if r.status_code == 503 and "retry" in r.json().get("error", ""):
                return "busy", None
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
            return "ok", float(r.json()["model_ms"])
        from gradio_client import handle_file
        from gradio_client.exceptions import AppError

        try:
            _, details = self.client.predict(handle_file(str(self.image)), api_name="/classify")
        except AppError as exc:
            if "busy" in str(exc) and "retry" in str(exc):
                return "busy", None
            raise
        found = MODEL_TIME.search(details)
        return "ok", float(found.group(1)) if found else None

    def close(self) -> None:
        if self.path == "json":
            self.http.close()
        else:
            self.client.close()


def run_level(make: Callable[[], Caller], path: str, clients: int, requests: int, max_s: float) -> Level:
    """`requests` requests from `clients` clients (each warmed first), stopping at `max_s` seconds."""
    callers = [make() for _ in range(clients)]
    for c in callers:
        c.call()  # warm: connection, session and the server's first-request costs are not measured
    level, lock = Level(path, clients), threading.Lock()
    budget = iter(range(requests))
    start = threading.Barrier(clients + 1)
    deadline: list[float] = []

    def work(caller: Caller) -> None:
        start.wait()
        while time.monotonic() < deadline[0]:
            with lock:
                if next(budget, None) is None:
                    return
                level.sent += 1
            t0 = time.perf_counter()
            try:
                status, model_ms = caller.call()
            except Exception as exc:  # noqa: BLE001  (reported, never hidden)
                with lock:
                    level.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            took = (time.perf_counter() - t0) * 1e3
            with lock:
                if status == "busy":
                    level.busy += 1
                else:
                    level.ok += 1
                    level.latency_ms.append(took)
                    if model_ms is not None:
                        level.model_ms.append(model_ms)

    threads = [threading.Thread(target=work, args=(c,)) for c in callers]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    deadline.append(t0 + max_s)
    start.wait()
    for t in threads:
        t.join()
    level.wall_s = time.monotonic() - t0
    for c in callers:
        c.close()
    return level


def run_burst(make: Callable[[], Caller], path: str, clients: int) -> Level:
    """`clients` clients released at once, one request each."""
    return run_level(make, f"{path} burst", clients, clients, MAX_SECONDS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_space(space: Path, work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(work / "gradio"),
           "SEEFOOD_LOG": str(work / "predictions.sqlite"), "HF_HUB_OFFLINE": "1"}
    env.pop("SEEFOOD_MONITOR_TOKEN", None)
    out = (work / "app.log").open("wb")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=space, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the Space exited with {process.returncode}: see {work / 'app.log'}")
        try:
            if httpx.get(f"{url}api/health", timeout=2).status_code == 200:
                return url, process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the Space did not start within 180 s")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("gradio", "gradio_client", "fastapi", "uvicorn", "httpx", "onnxruntime", "pillow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _cpu() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        name = platform.processor() or "unknown"
    return f"{name} ({os.cpu_count()} logical cores)"


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| path | clients | ok | busy | errors | p50 ms | p90 ms | p99 ms | req/s | model p50 ms | p50 - model |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['path']} | {r['clients']} | {r['ok']}/{r['sent']} | {r['busy']} | {r['errors']} | "
                     f"{r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['throughput_rps']} | {r['model_p50_ms']} | "
                     f"{r['over_model_p50_ms']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("space", nargs="?", type=Path, help="a folder written by `seefood space build` (started here)")
    parser.add_argument("--url", help="a Space already running on loopback, e.g. http://127.0.0.1:7860/")
    parser.add_argument("--image", type=Path, required=True, help="the photo every request sends")
    parser.add_argument("--paths", default="json,gradio,gradio-ctx")
    parser.add_argument("--levels", default="1,4,16", help="concurrent clients, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="requests per path and level")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop a level after this long")
    parser.add_argument("--burst", type=int, default=20, help="clients released at once (0: no burst)")
    parser.add_argument("--timeout", type=float, default=120.0, help="HTTP timeout of one request, seconds")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x]
    paths = [p for p in args.paths.split(",") if p]
    if (args.space is None) == (args.url is None):
        parser.error("give a Space folder or --url, not both")
    if not 1 <= args.requests <= MAX_REQUESTS or not 0 < args.max_seconds <= MAX_SECONDS:
        parser.error(f"--requests must be 1..{MAX_REQUESTS} and --max-seconds in (0, {MAX_SECONDS:g}]")
    if any(not 1 <= c <= MAX_CLIENTS for c in levels) or not 0 <= args.burst <= MAX_CLIENTS:
        parser.error(f"--levels and --burst must be 1..{MAX_CLIENTS} clients")
    if set(paths) - {"json", "gradio", "gradio-ctx"}:
        parser.error("--paths: json, gradio, gradio-ctx")
    if not args.image.is_file():
        parser.error(f"--image {args.image} is not a file")
    work = Path(tempfile.mkdtemp(prefix="space-load-"))
    process = None
    if args.url:
        url = args.url if args.url.endswith("/") else args.url + "/"
        if urllib.parse.urlparse(url).hostname not in LOOPBACK:
            parser.error("--url must be on loopback (127.0.0.1, localhost or ::1): this script loads only this machine")
    else:
        url, process = start_space(args.space.resolve(), work)
    ctx = ssl.create_default_context()
    results: list[dict[str, Any]] = []
    try:
        for path in paths:
            def make(path: str = path) -> Caller:
                return Caller(path, url, args.image, ctx, args.timeout)

            for clients in levels:
                level = run_level(make, path, clients, args.requests, args.max_seconds)
                results.append(level.summary())
                print(table(results[-1:]).splitlines()[-1], flush=True)
            if args.burst:
                results.append(run_burst(make, path, args.burst).summary())
                print(table(results[-1:]).splitlines()[-1], flush=True)
    finally:
        leftovers = None
        if process is not None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            gradio_dir = work / "gradio"
            leftovers = [str(p.relative_to(gradio_dir)) for p in gradio_dir.rglob("*") if p.is_file()] \
                if gradio_dir.is_dir() else []
    report = {"url": url, "image": str(args.image), "image_bytes": args.image.stat().st_size, "cpu": _cpu(),
              "versions": _versions(), "requests_per_level": args.requests, "max_seconds": args.max_seconds,
              "results": results, "leftover_upload_files": leftovers,
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print()
    print(table(results))
    print(f"\nCPU: {report['cpu']}; {', '.join(f'{k} {v}' for k, v in report['versions'].items())}")
    if leftovers is not None:
        print(f"files left in gradio's upload folder after the run: {len(leftovers)}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    bad = [r for r in results if r["errors"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
