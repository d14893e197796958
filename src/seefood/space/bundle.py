"""Copy the torch-free seefood modules a Space needs into a standalone package, `seefood_runtime`.

The Space cannot install seefood (it depends on torch), so the builder copies the modules the app
reaches through `seefood.*` imports, starting from the app's own modules and the runtime of the
picked format, and rewrites those imports to `seefood_runtime.*`. Every other import must be the
standard library or a package the Space's requirements.txt installs; anything else (torch!) stops
the build with the module and line that needs it.
"""

from __future__ import annotations

import ast
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import seefood
from seefood.errors import ExportError
from seefood.io import atomic_write_text

log = logging.getLogger(__name__)

PACKAGE = "seefood_runtime"  # the bundled package's name inside the Space
APP_MODULES = ("seefood.space.service", "seefood.space.ui", "seefood.space.server", "seefood.space.monitor")
_SOURCE_ROOT = Path(seefood.__file__).resolve().parent


class BundleError(ExportError):
    """A module the Space needs cannot be bundled without torch (or without seefood itself)."""


@dataclass(frozen=True)
class Bundle:
    """What was copied into the Space's package."""

    modules: tuple[str, ...]  # seefood module names, e.g. "seefood.space.monitor"
    third_party: tuple[str, ...]  # top-level names of the non-stdlib packages they import


def module_file(name: str) -> Path:
    """Source file of a seefood module or package (its __init__.py)."""
    parts = name.split(".")[1:]
    base = _SOURCE_ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise BundleError(f"cannot find the source of {name} under {_SOURCE_ROOT}: is seefood installed from source?")


def _is_package(name: str) -> bool:
    return module_file(name).name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str | None:
    """Absolute module name of a `from ... import` (relative imports resolved against `module`)."""
    if node.level == 0:
        return node.module
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Lines inside `if TYPE_CHECKING:` blocks: those imports never run."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _scan(name: str, source: str, allowed: set[str]) -> tuple[set[str], set[str]]:
    """(seefood modules it imports, third-party top-level names); BundleError on a forbidden import."""
    path = module_file(name)
    tree = ast.parse(source, filename=str(path))
    skip = _type_checking_lines(tree)
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "seefood":
                    raise BundleError(f"{path}:{node.lineno} uses `import {alias.name}`: write `from ... import` "
                                      f"so the Space builder can bundle it")
                targets.append(alias.name)
        else:
            target = _resolve(name, node)
            if target and target.split(".")[0] == "seefood":
                internal.add(target)
                for alias in node.names:  # `from seefood.pkg import submodule`
                    sub = _SOURCE_ROOT.joinpath(*target.split(".")[1:], alias.name).with_suffix(".py")
                    if _is_package(target) and sub.is_file():
                        internal.add(f"{target}.{alias.name}")
                continue
            targets.append(target or "")
        for target in targets:
            top = target.split(".")[0]
            if top in sys.stdlib_module_names or top == "seefood":
                continue
            if top not in allowed:
                raise BundleError(
                    f"{path}:{node.lineno} imports {top}, which the Space does not install (it may only use "
                    f"{', '.join(sorted(allowed))} and the standard library): keep the Space's modules free of it"
                )
            external.add(top)
    return internal, external


def _with_parents(names: set[str]) -> set[str]:
    out = set(names)
    for name in names:
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return out


_FROM_SEEFOOD = re.compile(r"^(\s*from\s+)seefood(?=[.\s])")


def rewrite_imports(source: str) -> str:
    """`from seefood.x import y` -> `from seefood_runtime.x import y` (only real import statements)."""
    lines = source.splitlines(keepends=True)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "seefood":
            i = node.lineno - 1
            lines[i] = lines[i][: node.col_offset] + _FROM_SEEFOOD.sub(rf"\1{PACKAGE}", lines[i][node.col_offset:], 1)
    return "".join(lines)


def _narrow_registry(source: str, registry: dict[str, str]) -> str:
    """Replace the module-level RUNTIMES table by one that lists only the bundled runtime(s)."""
    tree = ast.parse(source)
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "RUNTIMES":
            lines = source.splitlines(keepends=True)
            table = "".join(f"    {k!r}: {v.replace('seefood.', PACKAGE + '.', 1)!r},\n" for k, v in registry.items())
            new = f"RUNTIMES: dict[str, str] = {{  # only the runtime bundled into this Space\n{table}}}\n"
            return "".join(lines[: node.lineno - 1]) + new + "".join(lines[node.end_lineno or node.lineno:])
    raise BundleError("seefood.runtimes has no RUNTIMES table to narrow: the runtime registry changed shape")


def bundle_modules(out: Path, runtime_registry: dict[str, str], allowed: set[str]) -> Bundle:
    """Copy the app modules + the runtimes in `runtime_registry` (format -> "module:Class") into out/PACKAGE."""
    roots = set(APP_MODULES) | {target.split(":")[0] for target in runtime_registry.values()}
    todo, done, external = sorted(roots), set(), set()
    sources: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        source = module_file(name).read_text(encoding="utf-8")
        if name == "seefood.runtimes":
            source = _narrow_registry(source, runtime_registry)
        internal, ext = _scan(name, source, allowed)
        external |= ext
        sources[name] = source
        todo += sorted(internal - done)
    for package in sorted(_with_parents(set(sources)) - set(sources)):
        if _is_package(package):  # packages reached only through submodules get an empty __init__
            sources[package] = f'"""Bundled by `seefood space build` from {package} (torch-free modules only)."""\n'
    sources["seefood"] = (f'"""seefood modules bundled into this Space by `seefood space build` (torch-free)."""\n\n'
                          f'__version__ = {seefood.__version__!r}\n')
    for name, source in sources.items():
        relative = module_file(name).relative_to(_SOURCE_ROOT)
        atomic_write_text(out / PACKAGE / relative, rewrite_imports(source))
    log.info("bundled %d modules into %s", len(sources), PACKAGE)
    return Bundle(tuple(sorted(sources)), tuple(sorted(external)))
