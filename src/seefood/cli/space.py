"""`seefood space build | serve | push`: ship the picked artifact as a PyTorch-free Gradio Space."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from seefood.cli.common import cli_errors, console, setup_logging
from seefood.errors import SeefoodError
from seefood.space import PushConfig, ServeConfig, SpaceConfig, build_space, push_space, serve_space


def _defaults(cls: Any) -> dict[str, Any]:
    """Field defaults of a config dataclass: the one place CLI defaults come from."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


_B, _S = _defaults(SpaceConfig), _defaults(ServeConfig)
space_app = typer.Typer(help="Build, serve and push the Gradio Space of the picked artifact.", no_args_is_help=True)


@space_app.command("build")
@cli_errors
def build(
    decision: Annotated[Path, typer.Argument(help="REPORT/decision.json from `seefood pick` (or the REPORT folder).")],
    out: Annotated[Path, typer.Option(help="The Space folder to write.")],
    examples: Annotated[Path | None, typer.Option(help="Folder of example images.", show_default="drawn by code")] = None,
    log_images: Annotated[bool, typer.Option(
        help="Keep every visitor's photo in the prediction log (off: only its size and sha256 are kept).")] = (
        _B["log_images"]),
    title: Annotated[str | None, typer.Option(help="Space title.", show_default="from the artifact")] = None,
    license: Annotated[str, typer.Option(help="Hugging Face license id for the front matter.")] = _B["license"],
    num_examples: Annotated[int, typer.Option(help="How many example images.")] = _B["num_examples"],
    threads: Annotated[int | None, typer.Option(help="Runtime threads in the Space.", show_default="all cores")] = None,
    workers: Annotated[int, typer.Option(help="Photos classified at once.")] = _B["workers"],
    queue_size: Annotated[int, typer.Option(
        help="Requests waiting for a worker; the next one is answered 'busy, retry'.")] = _B["queue_size"],
    force: Annotated[bool, typer.Option(help="Replace what an earlier build wrote in --out (logs/ stays).")] = _B["force"],
    verify: Annotated[bool, typer.Option(help="Classify the examples in a torch-free interpreter first.")] = (
        _B["verify"]),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Write a complete Gradio Space (app, model, examples, README, requirements) without torch.

    [bold]Examples[/]

    seefood space build runs/report/decision.json --out runs/space
    seefood space build runs/report --out runs/space --examples my_photos/pizza --force
    """
    setup_logging(verbose)
    result = build_space(SpaceConfig(
        decision=decision, out=out, examples=examples, log_images=log_images, title=title, license=license,
        num_examples=num_examples, threads=threads, workers=workers, queue_size=queue_size, force=force,
        verify=verify,
    ))
    console.print(f"[green]space:[/] {result.path} ({result.format} {result.precision}, "
                  f"{result.size_bytes / 1e6:.1f} MB): {', '.join(result.requirements)}")
    for name, label, prob in result.verification.results if result.verification else ():
        console.print(f"  checked without torch: {name} -> {label} ({prob:.1%})")


@space_app.command("serve")
@cli_errors
def serve(
    space: Annotated[Path, typer.Argument(help="A folder written by `seefood space build`.")],
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: the whole network).")] = _S["host"],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = _S["port"],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run the Space locally (python app.py) until Ctrl-C.

    [bold]Examples[/]

    seefood space serve runs/space --port 7860
    """
    setup_logging(verbose)
    code = serve_space(ServeConfig(space=space, host=host, port=port))
    if code not in (0, -2, 130):  # -2 / 130: stopped with Ctrl-C
        raise SeefoodError(f"the Space's app exited with code {code}: see its log above")


@space_app.command("push")
@cli_errors
def push(
    space: Annotated[Path, typer.Argument(help="A folder written by `seefood space build`.")],
    repo: Annotated[str, typer.Option(help="Space repo id on the Hub, user/name.")],
    private: Annotated[bool, typer.Option(help="Create the Space as private.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Upload the Space to the Hugging Face Hub (token: HF_TOKEN or `hf auth login`).

    [bold]Examples[/]

    seefood space push runs/space --repo you/seefood-demo --private
    """
    setup_logging(verbose)
    url = push_space(PushConfig(space=space, repo=repo, private=private))
    console.print(f"[green]pushed:[/] {url}")


def register(app: typer.Typer) -> None:
    """Add the space command group to the main app."""
    app.add_typer(space_app, name="space")
