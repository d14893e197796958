"""CLI defaults come from the config dataclasses (STYLE rule 4): each typer signature against its dataclass.

An option whose default differs from its field's default (a literal typed again in the CLI that drifted) fails;
options the CLI leaves None to mean "not given" (train: --resume keeps saved settings) must show the field's
default in --help.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import pytest
import typer


def _field_defaults(cls: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _options(command: Callable[..., Any]) -> dict[str, tuple[Any, Any]]:
    """parameter name -> (its default, its typer OptionInfo / ArgumentInfo or None)."""
    out = {}
    for name, param in inspect.signature(command, eval_str=True).parameters.items():
        metadata = getattr(param.annotation, "__metadata__", ())
        out[name] = (param.default, metadata[0] if metadata else None)
    return out


def _drift(command: Callable[..., Any], cls: Any, renames: dict[str, str],
           spelled: dict[str, Callable[[Any], Any]]) -> tuple[int, list[str]]:
    """(options compared, the options whose default is not the field's)."""
    defaults = _field_defaults(cls)
    checked = 0
    problems = []
    for name, (default, info) in _options(command).items():
        field = renames.get(name, name)
        if field not in defaults or default is inspect.Parameter.empty or getattr(info, "hidden", False):
            continue  # not a config field, a required argument, or a hidden alias of another option
        want = spelled.get(field, lambda v: v)(defaults[field])
        checked += 1
        if default == want or (default is None and (field == "threads" or defaults[field] is False)):
            continue  # threads None: the thread policy; a flag left None is off
        shown = getattr(info, "show_default", None)
        if default is None and isinstance(shown, str) and shown in (str(defaults[field]), "off", "none"):
            continue  # "not given" (train: --resume keeps the saved value); --help shows the field's default
        problems.append(f"--{name.replace('_', '-')}: CLI default {default!r}, {cls.__name__}.{field} = {want!r}")
    return checked, problems


def _typer_commands() -> list[tuple[str, Callable[..., Any], Any, dict[str, str], dict[str, Callable[[Any], Any]]]]:
    """(label, command, config class, option -> field renames, field -> how the CLI spells its default)."""
    from seefood.bench.config import BenchConfig
    from seefood.cli.bench import bench
    from seefood.cli.export import export
    from seefood.cli.prune import prune
    from seefood.cli.train import train_command
    from seefood.export.config import ExportConfig, PruneOptions
    from seefood.prune.config import PruneConfig
    from seefood.train.config import TrainConfig

    return [
        ("export", export, ExportConfig, {"int8_recipe": "int8_recipes"}, {}),
        ("export-prune", export, PruneOptions, {}, {}),  # --data, --finetune-epochs, --drop-blocks of --prune
        ("bench", bench, BenchConfig, {"device": "devices", "batch_size": "batch_sizes", "min_time": "min_time_s"},
         {"devices": ",".join, "batch_sizes": lambda v: ",".join(map(str, v)), "eager_variants": ",".join}),
        ("prune", prune, PruneConfig, {}, {}),
        ("train", train_command, TrainConfig, {}, {}),
    ]


@pytest.mark.parametrize("label", ["export", "export-prune", "bench", "prune", "train"])
def test_every_cli_default_is_its_config_field_default(label: str) -> None:
    _, command, cls, renames, spelled = next(c for c in _typer_commands() if c[0] == label)
    checked, problems = _drift(command, cls, renames, spelled)
    assert checked >= (3 if label == "export-prune" else 5), f"{label}: only {checked} options matched {cls.__name__}'s fields"
    assert not problems, f"seefood {label} states defaults of its own: " + "; ".join(problems)


def test_latency_defaults_are_interleaved_latencys() -> None:
    from seefood.bench.interleave import interleaved_latency
    from seefood.cli.bench import latency_command as latency

    library = {n: p.default for n, p in inspect.signature(interleaved_latency).parameters.items()}
    options = _options(latency)
    shared = [n for n in options if n in library and library[n] is not inspect.Parameter.empty]
    assert {"batch_size", "rounds", "block", "warmup", "threads", "device"} <= set(shared)
    assert {n: options[n][0] for n in shared} == {n: library[n] for n in shared}


def test_the_checker_catches_a_drifted_literal() -> None:
    @dataclasses.dataclass(frozen=True)
    class Config:
        size: int = 300
        name: str = "x"

    def command(size: Annotated[int, typer.Option()] = 200, name: Annotated[str, typer.Option()] = "x") -> None:
        """A CLI whose --size literal drifted from its config."""

    assert _drift(command, Config, {}, {}) == (2, ["--size: CLI default 200, Config.size = 300"])
