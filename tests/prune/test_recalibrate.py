"""BatchNorm re-calibration after pruning: new statistics from data, weights untouched."""

from __future__ import annotations

import torch
from torch import nn

from seefood.prune.recalibrate import batchnorms, recalibrate_batchnorm


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1),
                         nn.BatchNorm2d(2))


def test_statistics_become_those_of_the_data_and_weights_stay() -> None:
    torch.manual_seed(0)
    net = _net().eval()
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    batches = [torch.randn(8, 3, 6, 6) * 3 + 2 for _ in range(4)]
    assert recalibrate_batchnorm(net, batches) == 32
    assert not net.training and all(not m.training for m in batchnorms(net))
    conv_out = torch.cat([net[0](b) for b in batches])  # what the first BatchNorm saw
    mean = conv_out.mean(dim=(0, 2, 3))
    assert torch.allclose(net[1].running_mean, mean, atol=1e-4)
    var = conv_out.var(dim=(0, 2, 3), unbiased=True)
    assert torch.allclose(net[1].running_var, var, rtol=0.05)  # per-batch unbiased variances, averaged
    assert net[1].momentum == 0.1  # restored
    after = net.state_dict()
    assert all(torch.equal(after[k], v) for k, v in weights.items())


def test_a_model_without_batchnorm_is_left_alone() -> None:
    net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU())
    assert recalibrate_batchnorm(net, [torch.randn(2, 3, 4, 4)]) == 0

