"""Eager variants: other ways to run a checkpoint folder than eager fp32, one registry record each (torch-free).

`seefood bench --eager-variants bf16,compile` benches each as a row of its own beside the fp32 reference
(`pytorch-bf16`, `pytorch-compile`); `load_runtime(ckpt, variant="bf16")` runs one. The code behind a variant is
named by lazy "module:attr" references (as in seefood.formats), so reading this table never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from seefood.errors import ConfigError
from seefood.formats import resolve


@dataclass(frozen=True)
class EagerVariant:
    """One way to run a checkpoint: what executes, how the module is changed, and where it cannot run."""

    name: str  # registry key, CLI value, and the bench row's suffix (pytorch-<name>)
    precision: str  # what executes: the bench row's precision and the runtime's precision_ran
    # "module:attr" of (module, device) -> module, applied after the model is on its device (channels_last for CNNs)
    apply: str
    # "module:attr" of (device key) -> why it cannot run there ("" when it can): the bench skips with that reason
    unavailable: str
    description: str = ""


_PYTORCH = "seefood.runtimes.pytorch"

# variant key -> record; the order is the order of the CLI help and of the bench rows
EAGER_VARIANTS: dict[str, EagerVariant] = {v.name: v for v in (
    EagerVariant("bf16", "bf16", f"{_PYTORCH}:as_bf16", f"{_PYTORCH}:bf16_unavailable",
                 description="weights and input cast to bfloat16 once (as the fp16 TorchScript export casts), "
                             "logits back to fp32; not autocast"),
    EagerVariant("compile", "fp32", f"{_PYTORCH}:compiled", f"{_PYTORCH}:compile_unavailable",
                 description="torch.compile (inductor, default mode, static shapes: one graph per batch size); "
                             "the first run of each batch size compiles"),
)}


def get_variant(name: str) -> EagerVariant:
    """Look an eager variant up by name; the error lists the valid names."""
    try:
        return EAGER_VARIANTS[name]
    except KeyError:
        raise ConfigError(f"unknown eager variant {name!r}: use one of {', '.join(EAGER_VARIANTS)}") from None


def variant_unavailable(name: str, device: str) -> str:
    """Why variant `name` cannot run on `device` ("" when it can); imports torch (through the variant's check)."""
    check = resolve(get_variant(name).unavailable)
    return str(check(device))
