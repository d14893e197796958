"""The PyTorch reference runtime (checkpoint folders) and the TorchScript runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seefood.checkpoint import save_checkpoint
from seefood.errors import ModelError
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.runtimes import load_runtime

META = ModelMeta("tiny", ("a", "b", "c"), get_spec("tiny").preprocessing)


def test_pytorch_runtime_runs_the_checkpoint_in_fp32(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("tiny", 3).eval()
    save_checkpoint(tmp_path / "ckpt", model, META)
    runtime = load_runtime(tmp_path / "ckpt", threads=1)
    assert (runtime.meta.format, runtime.precision_ran, runtime.threads) == ("pytorch", "fp32", 1)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(runtime.run(x), want, rtol=1e-5, atol=1e-5)
    assert torch.get_num_threads() == 1  # the runtime uses the thread count it records
    assert runtime.channels_last  # a CNN runs in its fastest eager layout: the reference is not handicapped


def test_torchscript_runtime_without_its_file_says_export_again(tmp_path: Path) -> None:
    (tmp_path / "seefood.json").write_text(json.dumps(META.evolve(format="torchscript").to_dict()))
    with pytest.raises(ModelError, match="export it again"):
        load_runtime(tmp_path)
    with pytest.raises(Exception, match="CUDA|cpu or cuda"):
        load_runtime(tmp_path, device="cuda" if not torch.cuda.is_available() else "tpu")
