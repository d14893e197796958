"""prune_model on the tiny model and on the real EfficientNet-B2 / ViT-B/16 architectures (random weights).

The pruned model must run, really shrink as asked, reload exactly from its checkpoint's shape plan,
and export to ONNX and OpenVINO with parity against the pruned PyTorch model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from seefood.checkpoint import load_checkpoint, save_checkpoint
from seefood.errors import ConfigError, ModelError
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.models.shape_plan import HeadAttention
from seefood.prune.recipes import get_recipe, to_head_attention
from seefood.prune.structured import PruneOutcome, count_parameters, prune_model, too_narrow

from .conftest import export_and_compare

CLASSES = ("a", "b", "c", "d")
RATIO = 0.3


def _prune(arch: str, size: int, importance: str = "l2", batches: list | None = None) -> tuple[nn.Module, PruneOutcome]:
    torch.manual_seed(0)
    model = create_model(arch, len(CLASSES), image_size=size).eval()
    outcome = prune_model(model, arch, RATIO, torch.zeros(1, 3, size, size), importance, round_to=8,
                          gradient_batches=batches or [], fresh=create_model(arch, len(CLASSES), image_size=size))
    return model, outcome


def _meta(arch: str, size: int, outcome: PruneOutcome) -> ModelMeta:
    return ModelMeta(arch, CLASSES, get_spec(arch).preprocessing.with_size(size), sparsity=outcome.sparsity,
                     shape_plan=outcome.shape_plan)


def _changed_convs_are_multiples_of_8(original: nn.Module, pruned: nn.Module) -> None:
    before = dict(original.named_modules())
    changed = [(name, m) for name, m in pruned.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)) and name in before
               and getattr(m, "out_channels", getattr(m, "out_features", 0))
               != getattr(before[name], "out_channels", getattr(before[name], "out_features", 0))]
    assert changed, "nothing was pruned"
    for name, m in changed:
        width = getattr(m, "out_channels", getattr(m, "out_features", 0))
        assert width % 8 == 0, f"{name} keeps {width} channels, not a multiple of 8"


def _reloads_exactly(outcome: PruneOutcome, meta: ModelMeta, folder: Path, x: torch.Tensor) -> None:
    save_checkpoint(folder, outcome.model, meta)
    loaded = load_checkpoint(folder)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), outcome.model(x))


def test_tiny_loses_about_the_ratio_of_its_parameters_and_keeps_its_head(tmp_path: Path) -> None:
    batches = [(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])) for _ in range(2)]
    original, outcome = _prune("tiny", 32, importance="taylor", batches=batches)
    assert count_parameters(original) == outcome.params_before  # the input model is left as it was
    # tiny's 16-128-channel layers move in steps of 8 channels (round_to), and the narrowest are kept whole
    # (structured.too_narrow): 30 % is reachable only to within a step
    assert abs(outcome.sparsity - RATIO) < 0.1, outcome.trials
    assert outcome.params_after == count_parameters(outcome.model) < outcome.params_before
    assert outcome.macs_after < outcome.macs_before
    assert outcome.model.classifier.out_features == len(CLASSES)
    assert all(p.grad is None for p in outcome.model.parameters())
    _changed_convs_are_multiples_of_8(original, outcome.model)
    x = torch.randn(2, 3, 32, 32)
    assert outcome.model(x).shape == (2, len(CLASSES))
    _reloads_exactly(outcome, _meta("tiny", 32, outcome), tmp_path / "ckpt", x)


def test_taylor_without_training_images_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--importance l2"):
        _prune("tiny", 32, importance="taylor", batches=[])


def test_unknown_architecture_and_importance_are_refused() -> None:
    with pytest.raises(ModelError, match="unknown model 'resnet50'"):
        get_recipe("resnet50")
    with pytest.raises(ModelError, match="no pruning recipe for 'timm/vit_tiny_patch16_224' .family transformer.: "
                                         "prune one of .*or a timm CNN"):
        get_recipe("timm/vit_tiny_patch16_224")
    with pytest.raises(ConfigError, match="taylor, l2"):
        prune_model(create_model("tiny", 4), "tiny", RATIO, torch.zeros(1, 3, 32, 32), importance="random")


def test_timm_cnns_take_the_family_recipe_with_their_residual_blocks() -> None:
    lite = create_model("effnet_lite2", 4)
    blocks = get_recipe("effnet_lite2").blocks(lite)
    # tf_efficientnet_lite2: 21 blocks in 7 stages; the first block of every stage changes width or stride
    assert len(blocks) == 14 and blocks[0].path == "blocks.1.1" and blocks[0].stage == "blocks.1"
    mobile = create_model("timm/mobilenetv3_small_050", 4)
    recipe = get_recipe("timm/mobilenetv3_small_050")
    assert recipe.blocks(mobile) and recipe.keep(mobile) == [mobile.classifier]


def test_head_attention_copy_of_torchvision_attention_is_exact() -> None:
    mha = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    x = torch.randn(2, 5, 32)
    with torch.no_grad():
        expected, _ = mha(x, x, x, need_weights=False)
        got, _ = to_head_attention(mha)(x, x, x, need_weights=False)
    torch.testing.assert_close(got, expected)
    with pytest.raises(ModelError, match="batch-first"):
        to_head_attention(nn.MultiheadAttention(32, 4))


@pytest.fixture(scope="module")
def effnet() -> tuple[nn.Module, PruneOutcome]:
    """EfficientNet-B2 (random weights) pruned at 32 px."""
    return _prune("effnet_b2", 32)


@pytest.mark.slow
def test_effnet_b2_shrinks_reloads_and_exports(effnet: tuple[nn.Module, PruneOutcome], tmp_path: Path) -> None:
    original, outcome = effnet
    assert abs(outcome.sparsity - RATIO) <= 0.03, outcome.trials
    assert outcome.macs_after < 0.85 * outcome.macs_before
    assert outcome.model.classifier[-1].out_features == len(CLASSES)
    assert outcome.model.classifier[-1].in_features < original.classifier[-1].in_features
    _changed_convs_are_multiples_of_8(original, outcome.model)
    x = torch.randn(3, 3, 32, 32)
    meta = _meta("effnet_b2", 32, outcome)
    _reloads_exactly(outcome, meta, tmp_path / "ckpt", x)
    for fmt in ("onnx", "openvino"):
        result = export_and_compare(outcome.model, meta, fmt, tmp_path / fmt, x)
        assert result.passed and result.max_abs_diff < 1e-3, (fmt, result)


@pytest.fixture(scope="module")
def vit() -> tuple[nn.Module, PruneOutcome]:
    """ViT-B/16 (random weights) pruned at 32 px (2 x 2 patches)."""
    return _prune("vit_b16", 32)


@pytest.mark.slow
def test_vit_b16_loses_heads_and_mlp_width_but_keeps_its_embedding(
    vit: tuple[nn.Module, PruneOutcome], tmp_path: Path
) -> None:
    original, outcome = vit
    model = outcome.model
    assert abs(outcome.sparsity - RATIO) <= 0.03, outcome.trials
    blocks = list(model.encoder.layers)
    for block in blocks:
        attention = block.self_attention
        assert isinstance(attention, HeadAttention)
        assert attention.num_heads < 12 and attention.head_dim == 64 and attention.embed_dim == 768
        assert attention.q_proj.out_features == attention.num_heads * attention.head_dim
        assert block.mlp[0].out_features < 3072 and block.mlp[0].out_features % 8 == 0
    assert model.conv_proj.out_channels == 768 and model.class_token.shape[-1] == 768
    assert model.heads.head.in_features == 768 and model.heads.head.out_features == len(CLASSES)
    assert count_parameters(original) == outcome.params_before
    x = torch.randn(3, 3, 32, 32)
    meta = _meta("vit_b16", 32, outcome)
    _reloads_exactly(outcome, meta, tmp_path / "ckpt", x)
    for fmt in ("onnx", "openvino"):
        result = export_and_compare(model, meta, fmt, tmp_path / fmt, x)
        assert result.passed and result.max_abs_diff < 1e-3, (fmt, result)


def test_narrow_layers_are_kept_whole_when_rounding_would_cut_far_more_than_asked() -> None:
    net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 16, 3, groups=16), nn.Conv2d(16, 256, 1),
                        nn.Linear(256, 24))
    narrow = too_narrow(net, channel_ratio=0.05, round_to=8)  # a cut of 8 channels is > 10 % below 80 channels
    assert narrow == [net[0], net[3]]  # not the depthwise conv (follows its input) nor the wide 256-channel one
    assert too_narrow(net, channel_ratio=0.5, round_to=8) == []  # 8 of 16 is what a 50 % ratio asks anyway
    assert too_narrow(net, channel_ratio=0.05, round_to=1) == []
