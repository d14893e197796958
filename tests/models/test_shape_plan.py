"""Shape plans: a hand-shrunk model is described as JSON, rebuilt from a fresh one, and loads strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from seefood.checkpoint import load_checkpoint, save_checkpoint
from seefood.errors import ModelError
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.models.shape_plan import (
    HeadAttention,
    apply_shape_plan,
    checkpoint_shape_plan,
    describe_layer,
    plan_from_model,
)

CLASSES = ("a", "b", "c")


def _shrunk_tiny() -> nn.Module:
    """A tiny model with its first block cut from 16 to 8 channels by hand (what pruning does)."""
    torch.manual_seed(0)
    model = create_model("tiny", len(CLASSES)).eval()
    conv0, bn0, conv1 = model.features[0], model.features[1], model.features[3]
    keep = torch.arange(0, 16, 2)
    small0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    small_bn = nn.BatchNorm2d(8)
    small1 = nn.Conv2d(8, conv1.out_channels, 3, stride=2, padding=1, bias=False)
    with torch.no_grad():
        small0.weight.copy_(conv0.weight[keep])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(small_bn, name).copy_(getattr(bn0, name)[keep])
        small1.weight.copy_(conv1.weight[:, keep])
    model.features[0], model.features[1], model.features[3] = small0, small_bn, small1
    return model.eval()


def test_plan_lists_only_changed_layers_and_is_json() -> None:
    plan = plan_from_model(_shrunk_tiny(), create_model("tiny", len(CLASSES)))
    assert list(plan["layers"]) == ["features.0", "features.1", "features.3"]
    assert plan["layers"]["features.0"] == {"type": "Conv2d", "args": {
        "in_channels": 3, "out_channels": 8, "kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1],
        "dilation": [1, 1], "groups": 1, "bias": False, "padding_mode": "zeros"}}
    assert plan["layers"]["features.1"]["args"]["num_features"] == 8
    assert json.loads(json.dumps(plan)) == plan


def test_apply_rebuilds_a_fresh_model_that_loads_strictly_and_predicts_the_same() -> None:
    shrunk = _shrunk_tiny()
    plan = json.loads(json.dumps(plan_from_model(shrunk, create_model("tiny", len(CLASSES)))))
    rebuilt = apply_shape_plan(create_model("tiny", len(CLASSES)), plan).eval()
    rebuilt.load_state_dict(shrunk.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(rebuilt(x), shrunk(x))


def test_checkpoint_with_a_plan_round_trips_through_disk(tmp_path: Path) -> None:
    shrunk = _shrunk_tiny()
    plan = plan_from_model(shrunk, create_model("tiny", len(CLASSES)))
    meta = ModelMeta("tiny", CLASSES, get_spec("tiny").preprocessing, sparsity=0.1, shape_plan=plan)
    save_checkpoint(tmp_path / "ckpt", shrunk, meta)
    loaded = load_checkpoint(tmp_path / "ckpt")
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(loaded.model(x), shrunk(x))
    assert loaded.meta.shape_plan == json.loads(json.dumps(plan))
    assert checkpoint_shape_plan(tmp_path / "ckpt") == (loaded.meta.shape_plan, 0.1)


@pytest.mark.parametrize("value", [None, "none", "imagenet", "missing/folder"])
def test_checkpoint_shape_plan_is_empty_for_anything_but_a_pruned_checkpoint(value: str | None) -> None:
    assert checkpoint_shape_plan(value) == (None, 0.0)


def test_a_frozen_layer_stays_frozen_when_replaced() -> None:
    model = create_model("tiny", len(CLASSES), freeze="backbone")
    plan = plan_from_model(_shrunk_tiny(), create_model("tiny", len(CLASSES)))
    apply_shape_plan(model, plan)
    assert not any(p.requires_grad for p in model.features.parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())


@pytest.mark.parametrize(("plan", "message"), [
    ({"layers": {"features.0": {"type": "Conv9d", "args": {}}}}, "upgrade seefood"),
    ({"layers": {"nope.0": {"type": "Linear", "args": {"in_features": 1, "out_features": 1}}}}, "does not have"),
    ({"layers": {"features.0": {"type": "Linear", "args": {"in_features": -3, "out_features": 1}}}}, "cannot build"),
    ({"layers": {"features.0": "Conv2d"}}, "malformed"),
    ({"version": 99, "layers": {}}, "version 99"),
    ({"shapes": {}}, "malformed"),
])
def test_bad_plans_fail_with_a_model_error_that_says_what_to_do(plan: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        apply_shape_plan(create_model("tiny", len(CLASSES)), plan)


def test_a_change_the_plan_cannot_describe_is_refused_when_the_plan_is_made() -> None:
    odd = create_model("tiny", len(CLASSES))
    odd.features[0] = nn.Conv2d(3, 16, 5, padding=2, bias=False)  # same type, other kernel: described
    assert plan_from_model(odd, create_model("tiny", len(CLASSES)))["layers"]["features.0"]["args"]["kernel_size"] == [5, 5]
    odd.features[1] = nn.GroupNorm(4, 16)  # a type the plan cannot build
    with pytest.raises(ModelError, match="cannot describe"):
        plan_from_model(odd, create_model("tiny", len(CLASSES)))


def test_head_attention_matches_multihead_attention_call_and_describes_itself() -> None:
    attention = HeadAttention(embed_dim=16, num_heads=2, head_dim=4).eval()
    x = torch.randn(3, 5, 16)
    out, weights = attention(x, x, x, need_weights=False)
    assert out.shape == (3, 5, 16) and weights is None
    assert describe_layer(attention) == {"type": "HeadAttention", "args": {
        "embed_dim": 16, "num_heads": 2, "head_dim": 4, "bias": True, "dropout": 0.0}}
    with pytest.raises(ModelError, match="no masks"):
        attention(x, x, x, need_weights=True)
