"""Depth pruning: which residual blocks go, how they are ranked, and that the result reloads and exports."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from seefood.checkpoint import load_checkpoint, save_checkpoint
from seefood.errors import ConfigError
from seefood.export.config import ExportConfig, PruneOptions
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.models.shape_plan import apply_shape_plan
from seefood.prune.config import PruneConfig
from seefood.prune.depth import block_influence, choose_blocks, drop_blocks
from seefood.prune.export import prune_config_for
from seefood.prune.recipes import Block, get_recipe
from seefood.prune.structured import PruneOutcome, count_parameters, prune_model

from .conftest import export_and_compare

CLASSES = ("a", "b", "c", "d")


class _Scale(nn.Module):
    """output = factor * input: influence 1 - cos is 0 for any positive factor, 2 for a negative one."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


class _Shuffle(nn.Module):
    """Reverses the features: the same norm, a different direction."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1)


def test_influence_is_one_minus_cosine_of_input_and_output() -> None:
    model = nn.Sequential(_Scale(3.0), _Shuffle(), _Scale(-1.0))
    blocks = [Block("0", "s"), Block("1", "s"), Block("2", "s")]
    x = torch.randn(6, 10)
    got = block_influence(model, blocks, [x[:4], x[4:]])
    flipped = x.flip(-1)  # what block 1 sees is 3x; cosine ignores the scale
    expected = float((1 - torch.nn.functional.cosine_similarity(x, flipped, dim=1)).mean())
    assert got["0"] == pytest.approx(0.0, abs=1e-6)
    assert got["1"] == pytest.approx(expected, abs=1e-5)
    assert got["2"] == pytest.approx(2.0, abs=1e-6)
    assert model.training  # hooks gone and the mode restored
    assert not model[0]._forward_hooks


def test_influence_without_images_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="training images"):
        block_influence(nn.Sequential(nn.Identity()), [Block("0", "s")], [])


def test_blocks_are_taken_one_per_stage_in_turn_least_influential_first() -> None:
    blocks = [Block("a1", "a"), Block("a2", "a"), Block("b1", "b"), Block("b2", "b"), Block("b3", "b"), Block("c1", "c")]
    influence = {"a1": 0.5, "a2": 0.1, "b1": 0.3, "b2": 0.2, "b3": 0.9, "c1": 0.0}
    assert choose_blocks(blocks, influence, 2) == ["a2", "b2"]
    assert choose_blocks(blocks, influence, 3) == ["a2", "b2", "c1"]
    assert choose_blocks(blocks, influence, 5) == ["a2", "b2", "c1", "a1", "b1"]
    assert choose_blocks(blocks, influence, 6)[-1] == "b3"


def test_effnet_b2_residual_blocks_are_the_stride_1_same_width_mbconvs() -> None:
    model = create_model("effnet_b2", 4, image_size=32)
    blocks = get_recipe("effnet_b2").blocks(model)
    # EfficientNet-B2 stages hold 2, 3, 3, 4, 4, 5, 2 blocks; the first of each changes shape
    assert len(blocks) == 16
    assert [b.path for b in blocks if b.stage == "features.6"] == [f"features.6.{i}" for i in range(1, 5)]
    assert not any(b.path.endswith(".0") for b in blocks)
    assert get_recipe("tiny").blocks(create_model("tiny", 4)) == []


def test_dropped_blocks_become_identities() -> None:
    model = create_model("effnet_b2", 4, image_size=32).eval()
    x = torch.randn(1, 3, 32, 32)
    drop_blocks(model, ["features.6.4", "features.1.1"])
    assert isinstance(model.features[6][4], nn.Identity) and isinstance(model.features[1][1], nn.Identity)
    assert model(x).shape == (1, 4)


def _batches(size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(1)
    return [(torch.randn(4, 3, size, size), torch.tensor([0, 1, 2, 3])) for _ in range(2)]


@pytest.fixture(scope="module")
def effnet_depth() -> tuple[nn.Module, PruneOutcome]:
    """EfficientNet-B2 (random weights) at 32 px: 7 blocks (one per stage), then 30 % of the rest as channels."""
    torch.manual_seed(0)
    model = create_model("effnet_b2", len(CLASSES), image_size=32).eval()
    outcome = prune_model(model, "effnet_b2", 0.3, torch.zeros(1, 3, 32, 32), "taylor", round_to=8,
                          gradient_batches=_batches(32), fresh=create_model("effnet_b2", len(CLASSES), image_size=32),
                          drop_blocks=7)
    return model, outcome


@pytest.mark.slow
def test_effnet_b2_loses_one_block_per_stage_then_channels_and_reloads_and_exports(
    effnet_depth: tuple[nn.Module, PruneOutcome], tmp_path: Path
) -> None:
    original, outcome = effnet_depth
    assert outcome.depth is not None
    removed = outcome.depth.removed
    assert sorted(p.rsplit(".", 1)[0] for p in removed) == [f"features.{i}" for i in range(1, 8)]
    assert set(outcome.depth.influence) == {b.path for b in get_recipe("effnet_b2").blocks(original)}
    for path in removed:  # each stage's least influential block went
        stage = path.rsplit(".", 1)[0]
        same_stage = {p: v for p, v in outcome.depth.influence.items() if p.rsplit(".", 1)[0] == stage}
        assert outcome.depth.influence[path] == min(same_stage.values())
    assert outcome.params_after_depth is not None
    assert outcome.params_after < outcome.params_after_depth < outcome.params_before == count_parameters(original)
    channel_share = 1 - outcome.params_after / outcome.params_after_depth
    assert abs(channel_share - 0.3) <= 0.03, outcome.trials
    assert outcome.sparsity > 0.3 and outcome.macs_after < outcome.macs_before
    identities = sorted(p for p, e in outcome.shape_plan["layers"].items() if e["type"] == "Identity")
    assert identities == sorted(removed)

    meta = ModelMeta("effnet_b2", CLASSES, get_spec("effnet_b2").preprocessing.with_size(32),
                     sparsity=outcome.sparsity, shape_plan=outcome.shape_plan)
    x = torch.randn(3, 3, 32, 32)
    save_checkpoint(tmp_path / "ckpt", outcome.model, meta)
    loaded = load_checkpoint(tmp_path / "ckpt").model
    assert sum(isinstance(m, nn.Identity) for m in loaded.modules()) >= 7
    with torch.no_grad():
        assert torch.equal(loaded(x), outcome.model(x))
    for fmt in ("onnx", "openvino"):
        result = export_and_compare(outcome.model, meta, fmt, tmp_path / fmt, x)
        assert result.passed and result.max_abs_diff < 1e-3, (fmt, result)


@pytest.mark.slow
def test_vit_b16_blocks_only_removes_encoder_layers_reloads_and_exports(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("vit_b16", len(CLASSES), image_size=32).eval()
    outcome = prune_model(model, "vit_b16", 0.0, torch.zeros(1, 3, 32, 32), "l2", gradient_batches=_batches(32),
                          drop_blocks=3)
    assert outcome.depth is not None and len(outcome.depth.removed) == 3 and outcome.trials == ()
    layers = list(outcome.model.encoder.layers)
    assert len(layers) == 12 and sum(isinstance(m, nn.Identity) for m in layers) == 3
    per_layer = count_parameters(model.encoder.layers[0])
    assert outcome.params_before - outcome.params_after == 3 * per_layer
    fresh = apply_shape_plan(create_model("vit_b16", len(CLASSES), image_size=32), outcome.shape_plan)
    fresh.load_state_dict(outcome.model.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), outcome.model(x))
    meta = ModelMeta("vit_b16", CLASSES, get_spec("vit_b16").preprocessing.with_size(32),
                     sparsity=outcome.sparsity, shape_plan=outcome.shape_plan)
    for fmt in ("onnx", "openvino"):
        result = export_and_compare(outcome.model, meta, fmt, tmp_path / fmt, x)
        assert result.passed and result.max_abs_diff < 1e-3, (fmt, result)


def test_more_blocks_than_the_model_has_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at most 16"):
        prune_model(create_model("effnet_b2", 4, image_size=32), "effnet_b2", 0.3, torch.zeros(1, 3, 32, 32), "l2",
                    gradient_batches=_batches(32), drop_blocks=17)
    with pytest.raises(ConfigError, match="no residual blocks"):
        prune_model(create_model("tiny", 4), "tiny", 0.3, torch.zeros(1, 3, 32, 32), "l2",
                    gradient_batches=_batches(32), drop_blocks=1)


@pytest.mark.parametrize(("changes", "message"), [
    ({"ratio": 0.0}, "0 only with --drop-blocks"),
    ({"ratio": 0.3, "drop_blocks": -1}, "--drop-blocks must be >= 0"),
])
def test_prune_config_checks_ratio_and_blocks(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PruneConfig(checkpoint=tmp_path, out=tmp_path / "out", **changes)
    assert PruneConfig(checkpoint=tmp_path, ratio=0.0, drop_blocks=2, out=tmp_path / "out").drop_blocks == 2


def test_export_drop_blocks_belongs_to_prune(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="0 only with --drop-blocks"):
        ExportConfig(checkpoint=tmp_path, out=tmp_path / "out", prune=PruneOptions(ratio=0.0))
    config = ExportConfig(checkpoint=tmp_path, out=tmp_path / "out", prune=PruneOptions(ratio=0.0, drop_blocks=3))
    assert prune_config_for(config).drop_blocks == 3 and prune_config_for(config).ratio == 0.0


@pytest.mark.slow
def test_effnet_lite2_loses_blocks_and_channels_and_its_timm_layers_reload_and_export(tmp_path: Path) -> None:
    """timm's Conv2dSame and BatchNormAct2d (with its ReLU6) are resized by pruning and rebuilt from the plan."""
    torch.manual_seed(0)
    model = create_model("effnet_lite2", len(CLASSES), image_size=64).eval()
    outcome = prune_model(model, "effnet_lite2", 0.3, torch.zeros(1, 3, 64, 64), "taylor",
                          gradient_batches=_batches(64), fresh=create_model("effnet_lite2", len(CLASSES), image_size=64),
                          drop_blocks=5)
    assert outcome.depth is not None and len(outcome.depth.removed) == 5
    types = {e["type"] for e in outcome.shape_plan["layers"].values()}
    assert {"Identity", "timm.Conv2dSame", "timm.BatchNormAct2d"} <= types
    assert outcome.params_after < 0.75 * outcome.params_before
    meta = ModelMeta("effnet_lite2", CLASSES, get_spec("effnet_lite2").preprocessing.with_size(64),
                     sparsity=outcome.sparsity, shape_plan=outcome.shape_plan)
    save_checkpoint(tmp_path / "ckpt", outcome.model, meta)
    loaded = load_checkpoint(tmp_path / "ckpt").model
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), outcome.model(x))
    result = export_and_compare(outcome.model, meta, "onnx", tmp_path / "onnx", x)
    assert result.passed and result.max_abs_diff < 1e-3, result
