"""Eager variants of a checkpoint (seefood.runtimes.variants): bf16 and torch.compile through load_runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seefood.checkpoint import save_checkpoint
from seefood.errors import BackendMissingError, ConfigError
from seefood.formats import resolve
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.runtimes import load_runtime
from seefood.runtimes.pytorch import compile_unavailable
from seefood.runtimes.variants import EAGER_VARIANTS, get_variant, variant_unavailable

META = ModelMeta("tiny", ("a", "b", "c"), get_spec("tiny").preprocessing)
X = np.random.default_rng(0).standard_normal((4, 3, 64, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("variants") / "ckpt", create_model("tiny", 3).eval(), META)


def _fp32(ckpt: Path, device: str = "cpu") -> np.ndarray:
    return load_runtime(ckpt, device=device, threads=1).run(X)


def test_every_variant_names_code_that_exists() -> None:
    for name, spec in EAGER_VARIANTS.items():
        assert spec.name == name and get_variant(name) is spec
        assert callable(resolve(spec.apply)) and callable(resolve(spec.unavailable))
        assert spec.precision in ("fp32", "fp16", "bf16")
    assert variant_unavailable("bf16", "cpu") == ""  # bf16 runs on every CPU


def test_bf16_casts_the_weights_once_and_returns_fp32_logits(ckpt: Path) -> None:
    rt = load_runtime(ckpt, threads=1, variant="bf16")
    assert (rt.precision_ran, rt.meta.format) == ("bf16", "pytorch")
    params = list(rt._module.parameters())  # type: ignore[attr-defined]
    assert params and all(p.dtype == torch.bfloat16 for p in params)  # cast at load, not on every call (autocast)
    out = rt.run(X)
    want = _fp32(ckpt)
    assert out.dtype == np.float32 and out.shape == want.shape
    # bf16 keeps 8 bits of mantissa: close to fp32, but not equal (a variant that silently ran fp32 would be)
    assert not np.array_equal(out, want)
    np.testing.assert_allclose(out, want, atol=0.05 * float(np.abs(want).max()) + 1e-3)


def test_unknown_variant_and_a_variant_of_an_export_are_config_errors(ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown eager variant 'fp8': use one of bf16, compile"):
        load_runtime(ckpt, variant="fp8")
    (tmp_path / "seefood.json").write_text(json.dumps(META.evolve(format="onnx").to_dict()))
    with pytest.raises(ConfigError, match="checkpoint folders only"):
        load_runtime(tmp_path, variant="bf16")


def test_compile_without_a_cxx_compiler_says_how_to_get_one(ckpt: Path) -> None:
    with torch._inductor.config.patch({"cpp.cxx": ("/nonexistent/g++",)}):
        reason = compile_unavailable("cpu")
        assert "C++ compiler" in reason and "apt-get install g++" in reason
        with pytest.raises(BackendMissingError, match="eager variant 'compile'.*C\\+\\+ compiler"):
            load_runtime(ckpt, variant="compile")


@pytest.mark.slow
def test_compile_gives_the_eager_logits(ckpt: Path) -> None:
    if reason := compile_unavailable("cpu"):
        pytest.skip(f"torch.compile cannot run here: {reason}")
    rt = load_runtime(ckpt, threads=1, variant="compile")
    assert rt.precision_ran == "fp32" and type(rt._module).__name__ == "OptimizedModule"  # type: ignore[attr-defined]
    np.testing.assert_allclose(rt.run(X), _fp32(ckpt), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rt.run(X[:1]), _fp32(ckpt)[:1], rtol=1e-4, atol=1e-4)  # a second shape recompiles


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("variant", ["bf16", "compile"])
def test_variants_on_cuda(ckpt: Path, variant: str) -> None:
    if reason := variant_unavailable(variant, "cuda"):
        pytest.skip(f"{variant} cannot run on this GPU: {reason}")  # e.g. no triton in the image's torch
    rt = load_runtime(ckpt, device="cuda", threads=1, variant=variant)
    out, want = rt.run(X), _fp32(ckpt, "cuda")
    assert out.dtype == np.float32 and rt.device.startswith("cuda")
    tol = 0.05 * float(np.abs(want).max()) + 1e-3 if variant == "bf16" else 1e-3  # TF32 may be on for compile
    np.testing.assert_allclose(out, want, atol=tol)


def test_the_registry_is_read_without_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; from seefood.runtimes.variants import get_variant; get_variant('compile'); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))")
    subprocess.run([sys.executable, "-c", code], check=True)
