"""The paper ViT (seefood.models.vit_paper): torchvision's weights load by name and give the same logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models import vit_b_16
from torchvision.models.vision_transformer import VisionTransformer as TorchvisionViT

from seefood.checkpoint import save_checkpoint
from seefood.errors import ModelError
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.models.vit_paper import (
    B16,
    TI16,
    MultiHeadSelfAttention,
    VisionTransformer,
    ViTConfig,
    from_torchvision,
)

TOLERANCE = 1e-4  # max |logit difference| in fp32


def _informative_head(model: TorchvisionViT) -> TorchvisionViT:
    """torchvision zeroes the head, which would make any two models agree: give it random weights."""
    with torch.no_grad():
        for p in model.heads.parameters():
            p.normal_(std=0.05)
    return model.eval()


def _translated(torchvision_model: nn.Module, config: ViTConfig, size: int) -> VisionTransformer:
    model = VisionTransformer(config, size, num_classes=torchvision_model.heads.head.out_features).eval()
    state = torchvision_model.state_dict()
    translated = from_torchvision(state, model)
    # every tensor used once: 4 packed q/k/v tensors per block become 12, nothing else is added or dropped
    assert len(translated) == len(state) + 2 * 2 * config.depth
    model.load_state_dict(translated, strict=True)
    return model


@pytest.mark.slow
def test_b16_gives_torchvision_vit_b_16_logits_with_its_weights() -> None:
    torch.manual_seed(0)
    reference = _informative_head(vit_b_16(weights=None))
    model = _translated(reference, B16, 224)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0.1  # the comparison is not between two near-zero outputs
    assert (got - expected).abs().max().item() < TOLERANCE


def test_small_variant_gives_the_logits_of_torchvision_vit_of_its_size() -> None:
    torch.manual_seed(0)
    reference = _informative_head(TorchvisionViT(32, TI16.patch, TI16.depth, TI16.heads, TI16.dim, TI16.mlp_dim,
                                                 num_classes=5))
    model = _translated(reference, TI16, 32)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max().item() < TOLERANCE
    attention = model.blocks[0].attention
    assert isinstance(attention, MultiHeadSelfAttention) and attention.num_heads == 3 and attention.head_dim == 64


def test_the_mapping_refuses_weights_that_do_not_fit() -> None:
    reference = TorchvisionViT(32, 16, 2, 2, 32, 64, num_classes=3)
    model = VisionTransformer(TI16, 32, num_classes=3)  # 12 blocks of width 192: nothing fits
    with pytest.raises(ModelError, match=r"missing .*shape .*vit_b16 weights load into vit_b16_paper"):
        from_torchvision(reference.state_dict(), model)
    small = VisionTransformer(ViTConfig(16, 32, 2, 2, 64), 32, num_classes=3)
    state = {**reference.state_dict(), "encoder.extra.weight": torch.zeros(1)}
    del state["encoder.ln.bias"]
    with pytest.raises(ModelError, match=r"1 unmapped \(first: \['encoder.extra.weight'\]\); 1 missing "
                                         r"\(first: \['norm.bias'\]\)"):
        from_torchvision(state, small)


def test_registry_entries() -> None:
    for name in ("vit_b16_paper", "vit_ti16_paper"):
        spec = get_spec(name)
        assert spec.family == "transformer" and spec.head_prefixes == ("head.",)
        assert spec.preprocessing == get_spec("vit_b16").preprocessing
    assert get_spec("vit_b16_paper").weights_enum == get_spec("vit_b16").weights_enum
    assert not get_spec("vit_ti16_paper").has_pretrained
    with pytest.raises(ModelError, match="--image-size 40: vit_ti16_paper needs an image size divisible by 16"):
        create_model("vit_ti16_paper", 4, image_size=40)
    model = create_model("vit_ti16_paper", 4, image_size=48, freeze="backbone")
    assert model.position_embedding.shape == (1, 1 + 3 * 3, 192)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"head.weight", "head.bias"}
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 48, 48)).abs().sum() > 0  # a non-zero head init: informative logits


@pytest.mark.slow
def test_weights_imagenet_are_torchvisions_renamed_and_resized(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ViTs fed the same (stand-in) ImageNet file at 32 px, with the same head, agree."""
    from torchvision.models._api import WeightsEnum

    torch.manual_seed(0)
    imagenet = vit_b_16(weights=None).state_dict()
    monkeypatch.setattr(WeightsEnum, "get_state_dict", lambda self, *a, **k: imagenet)
    reference = create_model("vit_b16", 4, weights="imagenet", image_size=32).eval()
    model = create_model("vit_b16_paper", 4, weights="imagenet", image_size=32).eval()
    model.head.load_state_dict(reference.heads.head.state_dict())  # both heads are fresh: make them equal
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max().item() < TOLERANCE


def test_weights_imagenet_offline_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision.models._api import WeightsEnum

    def offline(self: object, *args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", offline)
    with pytest.raises(ModelError, match=r"could not fetch ViT_B_16_Weights.*--weights none.*--weights PATH"):
        create_model("vit_b16_paper", 4, weights="imagenet")
    with pytest.raises(ModelError, match="vit_ti16_paper has no pretrained weights: use --weights none"):
        create_model("vit_ti16_paper", 4, weights="imagenet")


@pytest.mark.slow
def test_a_vit_b16_checkpoint_loads_into_vit_b16_paper(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = create_model("vit_b16", 3, image_size=32).eval()
    meta = ModelMeta("vit_b16", ("a", "b", "c"), get_spec("vit_b16").preprocessing.with_size(32))
    save_checkpoint(tmp_path / "vit", source, meta)
    model = create_model("vit_b16_paper", 3, weights=str(tmp_path / "vit"), image_size=32).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (model(x) - source(x)).abs().max().item() < TOLERANCE  # the head came along (same class count)
