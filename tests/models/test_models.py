"""The model registry: names, preprocessing against torchvision's weights, heads, freezing, weights files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from seefood.checkpoint import save_checkpoint
from seefood.errors import ModelError
from seefood.metadata import ModelMeta
from seefood.models import ModelSpec, create_model, get_spec, load_weights_file, model_names, register
from seefood.preprocessing import IMAGENET_MEAN, IMAGENET_STD


class NotAStateDict:
    """An arbitrary object: pickling it into a .pth is what weights_only loading must refuse."""

    def __init__(self) -> None:
        self.payload = "would run code on unpickling"


def _head_params(model: nn.Module, spec: ModelSpec) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if k.startswith(spec.head_prefixes)}


def test_registry_lists_the_supported_models_and_explains_unknown_names() -> None:
    assert {"effnet_b2", "vit_b16", "tiny"} <= set(model_names())
    assert model_names() == sorted(model_names())
    with pytest.raises(ModelError, match="unknown model 'resnet50': use one of effnet_b2, effnet_lite2, tiny, vit_b16, vit_b16_paper, vit_ti16_paper, timm/NAME"):
        get_spec("resnet50")
    with pytest.raises(ValueError, match="registered twice"):
        register(get_spec("tiny"))


@pytest.mark.parametrize(("name", "resize", "crop", "interpolation"), [
    ("effnet_b2", 288, 288, "bicubic"),
    ("vit_b16", 256, 224, "bilinear"),
    ("tiny", 72, 64, "bilinear"),
])
def test_preprocessing_per_model(name: str, resize: int, crop: int, interpolation: str) -> None:
    pre = get_spec(name).preprocessing
    assert (pre.resize, pre.crop, pre.interpolation) == (resize, crop, interpolation)
    assert pre.mean == IMAGENET_MEAN and pre.std == IMAGENET_STD and pre.layout == "NCHW"


@pytest.mark.parametrize("name", ["effnet_b2", "vit_b16"])
def test_preprocessing_matches_the_torchvision_weights_it_claims(name: str) -> None:
    import torchvision

    spec = get_spec(name)
    assert spec.weights_enum is not None
    enum_name, member = spec.weights_enum.split(".")
    transforms = getattr(getattr(torchvision.models, enum_name), member).transforms()  # metadata only, no download
    assert transforms.crop_size == [spec.preprocessing.crop]
    assert transforms.resize_size == [spec.preprocessing.resize]
    assert transforms.interpolation.value == spec.preprocessing.interpolation
    assert tuple(transforms.mean) == spec.preprocessing.mean and tuple(transforms.std) == spec.preprocessing.std


def test_tiny_head_replacement_and_freezing() -> None:
    spec = get_spec("tiny")
    model = create_model("tiny", 7, freeze="backbone", image_size=32)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 7)
    assert {k: tuple(v.shape) for k, v in _head_params(model, spec).items()} == {
        "classifier.weight": (7, 128), "classifier.bias": (7,)}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.weight", "classifier.bias"}
    assert all(p.requires_grad for p in create_model("tiny", 3).parameters())


def test_create_model_rejects_bad_arguments() -> None:
    with pytest.raises(ModelError, match="at least 2 classes"):
        create_model("tiny", 1)
    with pytest.raises(ModelError, match="unknown --freeze 'head'"):
        create_model("tiny", 3, freeze="head")
    with pytest.raises(ModelError, match="tiny has no pretrained weights: use --weights none"):
        create_model("tiny", 3, weights="imagenet")


@pytest.mark.slow
def test_effnet_head_has_the_requested_classes() -> None:
    spec = get_spec("effnet_b2")
    model = create_model("effnet_b2", 5, freeze="backbone").eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 5)  # any input size works
    assert model.classifier[-1].out_features == 5
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(spec.head_prefixes) for n in trainable)


@pytest.mark.slow
def test_vit_head_image_size_and_position_embedding_adaptation(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="--image-size 30: vit_b16 needs an image size divisible by 16"):
        create_model("vit_b16", 4, image_size=30)
    pretrained = create_model("vit_b16", 10)  # stands in for ImageNet weights: 224 px, another head size
    weights = tmp_path / "vit.safetensors"
    save_file({k: v.contiguous() for k, v in pretrained.state_dict().items()}, str(weights))
    del pretrained
    model = create_model("vit_b16", 4, weights=str(weights), image_size=32).eval()
    assert model.encoder.pos_embedding.shape == (1, 1 + (32 // 16) ** 2, 768)
    assert model.heads.head.out_features == 4
    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 32, 32))
    assert logits.shape == (1, 4) and logits.abs().sum() > 0  # non-zero head init keeps untrained logits informative


def test_weights_from_pth_safetensors_and_checkpoint_folder(tmp_path: Path) -> None:
    source = create_model("tiny", 3)
    state = source.state_dict()
    pth, wrapped, st = tmp_path / "w.pth", tmp_path / "wrapped.pth", tmp_path / "w.safetensors"
    torch.save(state, pth)
    torch.save({"state_dict": state, "epoch": 3}, wrapped)
    save_file({k: v.contiguous() for k, v in state.items()}, str(st))
    save_checkpoint(tmp_path / "ckpt", source, ModelMeta("tiny", ("a", "b", "c"), get_spec("tiny").preprocessing))
    backbone = [k for k in state if not k.startswith("classifier.")]
    for path in (pth, wrapped, st, tmp_path / "ckpt"):
        loaded = load_weights_file(path)
        assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
        same = create_model("tiny", 3, weights=str(path))  # same head size: the head loads too
        assert all(torch.equal(same.state_dict()[k], state[k]) for k in state)
        other = create_model("tiny", 5, weights=str(path))  # new head size: backbone loads, head stays fresh
        assert all(torch.equal(other.state_dict()[k], state[k]) for k in backbone)
        assert other.classifier.out_features == 5


def test_weights_files_that_are_refused(tmp_path: Path) -> None:
    pickled = tmp_path / "evil.pth"
    torch.save(NotAStateDict(), pickled)
    with pytest.raises(ModelError, match="seefood never unpickles code"):
        load_weights_file(pickled)
    not_tensors = tmp_path / "numbers.pth"
    torch.save({"lr": 0.1}, not_tensors)
    with pytest.raises(ModelError, match="does not hold a state dict of tensors"):
        load_weights_file(not_tensors)
    with pytest.raises(ModelError, match="not found: pass --weights none, imagenet or an existing file"):
        create_model("tiny", 3, weights=str(tmp_path / "missing.pth"))
    foreign = tmp_path / "linear.safetensors"
    save_file({"weight": torch.zeros(3, 4), "bias": torch.zeros(3)}, str(foreign))
    with pytest.raises(ModelError, match="do not fit this architecture.*Check --model"):
        create_model("tiny", 3, weights=str(foreign))


def test_imagenet_download_failure_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision.models._api import WeightsEnum

    def offline(self: object, *args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", offline)
    with pytest.raises(ModelError, match=r"could not fetch EfficientNet_B2_Weights.*--weights none.*--weights PATH"):
        get_spec("effnet_b2").load_imagenet_weights()
