"""MAC counting: known totals, hand counts for our handles, a cross-check against torch's own counter."""
from __future__ import annotations

import math

import pytest
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmark.cost import ALLOWLIST, HANDLES, count_macs
from benchmark.models import build_model
from benchmark.ops.sampling import resample

# fvcore's published count for ResNet-50 at 224x224 (torchvision's; timm's differs by 2,048 in
# the classifier) and fvcore's default count for timm's resnet50, which conv + linear +
# 2 x batch_norm + adaptive_avg_pool2d of our count must reproduce exactly.
RESNET50_FVCORE_PUBLISHED = 4_111_514_624
RESNET50_TIMM_FVCORE_DEFAULT = 4_111_512_576


def test_resnet50_counts_fvcore_known_number():
    model = timm.create_model("resnet50", pretrained=False).eval()
    count = count_macs(model, torch.randn(1, 3, 224, 224))
    assert abs(count.total - RESNET50_FVCORE_PUBLISHED) <= 0.01e9
    assert abs(count.total - 4.11e9) <= 0.01e9
    assert count.unsupported == {}
    by_op = count.by_op
    # Our batch_norm is 1 MAC per element (folded scale and shift), fvcore's default 2.
    fvcore_default = by_op["conv"] + by_op["linear"] + 2 * by_op["batch_norm"] + by_op["adaptive_avg_pool2d"]
    assert fvcore_default == RESNET50_TIMM_FVCORE_DEFAULT
    # The ops fvcore ignores by default are counted: 16 residual adds, ReLUs, the stem max-pool.
    assert by_op["add_"] > 0 and by_op["relu_"] > 0
    assert by_op["max_pool2d"] == 64 * 56 * 56 * 9
    assert count.total == sum(by_op.values())


@pytest.mark.parametrize("key", ["fcn32", "unet", "deeplabv3plus"])
def test_conv_macs_match_torch_flop_counter(key):
    # FlopCounterMode counts FLOPs = 2 x MACs for convolutions and matmuls only. Both count
    # k_h * k_w * C_in / groups MACs per output element and leave the bias out, so the conv
    # totals must agree exactly (tolerance 0); any difference means a miscounted layer.
    model = build_model(key, 3, encoder="resnet18").eval()
    image = torch.randn(1, 3, 32, 64)
    count = count_macs(model, image)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(image)
    torch_flops = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    assert set(torch_flops) == {"aten.convolution"}
    assert 2 * count.by_op["conv"] == torch_flops["aten.convolution"]


def test_linear_macs_match_torch_flop_counter():
    layer = nn.Linear(7, 5)
    x = torch.randn(3, 7)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        layer(x)
    torch_total = sum(counter.get_flop_counts()["Global"].values())
    assert 2 * count_macs(layer, x).total == torch_total == 2 * 3 * 7 * 5


SHAPE = (2, 3, 4, 5)
N = math.prod(SHAPE)


@pytest.mark.parametrize("fn,expected", [
    (lambda a, b: a + b, N),
    (lambda a, b: a - b, N),
    (lambda a, b: a * b, N),
    (lambda a, b: a / b, N),
    (lambda a, b: torch.relu(a) + torch.sigmoid(b), 3 * N),
    (lambda a, b: torch.where(a > b, a, b), 2 * N),
    (lambda a, b: a.sum(dim=1), N),                        # reductions: 1 per input element
    (lambda a, b: torch.softmax(a, dim=1), 3 * N),         # exp, accumulate, normalise
    (lambda a, b: torch.log_softmax(a, dim=1), 3 * N),
    (lambda a, b: torch.cat([a, b]).permute(0, 2, 3, 1).reshape(-1), 0),  # allowlisted layout ops
])
def test_elementwise_and_reduction_handles_match_hand_counts(fn, expected):
    a, b = torch.randn(SHAPE), torch.rand(SHAPE) + 1
    count = count_macs(fn, (a, b))
    assert count.unsupported == {}
    assert count.total == expected


@pytest.mark.parametrize("mode,per_element", [("bilinear", 4), ("nearest", 1), ("bicubic", 16)])
def test_grid_sampler_counts_by_mode(mode, per_element):
    image = torch.randn(1, 3, 8, 8)
    grid = torch.rand(1, 4, 5, 2) * 2 - 1  # 4 x 5 samples, 3 channels -> 60 output elements
    count = count_macs(lambda im, g: resample(im, g, mode=mode), (image, grid))
    assert count.total == per_element * 3 * 4 * 5


@pytest.mark.parametrize("mode,per_element", [("nearest", 1), ("bilinear", 4), ("bicubic", 16)])
def test_resize_counts_per_output_element(mode, per_element):
    x = torch.randn(1, 2, 3, 4)
    kwargs = {} if mode == "nearest" else {"align_corners": True}
    count = count_macs(lambda t: F.interpolate(t, size=(6, 8), mode=mode, **kwargs), x)
    assert count.unsupported == {}
    assert count.total == per_element * 2 * 6 * 8


def test_antialiased_resize_is_counted_as_two_separable_passes():
    x = torch.randn(1, 1, 8, 8)
    count = count_macs(lambda t: F.interpolate(t, size=(4, 4), mode="bilinear", antialias=True), x)
    # Downscale x2: bilinear support 1 -> 2 per side, ceil(2 * 2) = 4 taps per axis.
    horizontal = 8 * 4 * 4  # H_in x W_out outputs x 4 taps
    vertical = 4 * 4 * 4    # H_out x W_out outputs x 4 taps
    assert count.unsupported == {}
    assert count.total == horizontal + vertical


def test_max_pool_counts_kernel_area_per_output():
    x = torch.randn(1, 2, 8, 8)
    count = count_macs(nn.MaxPool2d(3, stride=2, padding=1), x)
    assert count.total == 9 * 2 * 4 * 4


@pytest.mark.parametrize("in_size,out_size", [((5, 7), (3, 4)), ((2, 4), (6, 6)), ((4, 4), (1, 1))])
def test_adaptive_pool_counts_exact_reads_against_brute_force(in_size, out_size):
    x = torch.randn(1, 2, *in_size, requires_grad=True)
    out = F.adaptive_avg_pool2d(x, out_size)
    # Brute force: the input pixels each output reads are those with a nonzero gradient.
    reads = 0
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            (grad,) = torch.autograd.grad(out[0, 0, i, j], x, retain_graph=True)
            reads += int((grad[0, 0] != 0).sum())
    with torch.no_grad():
        count = count_macs(nn.AdaptiveAvgPool2d(out_size), x.detach())
    assert count.total == 2 * reads


def test_batch_norm_is_one_mac_per_element_at_inference():
    bn = nn.BatchNorm2d(3).eval()
    assert count_macs(bn, torch.randn(2, 3, 4, 5)).total == 2 * 3 * 4 * 5


def test_gather_and_scatter_add_count_one_per_element():
    src = torch.randn(4, 6)
    index = torch.randint(0, 6, (4, 3))
    assert count_macs(lambda s, i: torch.gather(s, 1, i), (src, index)).total == 12
    assert count_macs(lambda s, i: torch.zeros(4, 6).scatter_add(1, i, s[:, :3]), (src, index)).total == 12


def test_unknown_op_is_reported_not_hidden():
    count = count_macs(lambda x: torch.cumprod(x, dim=0) + 1, torch.randn(3, 4))
    assert count.unsupported == {"aten::cumprod": 1}
    assert count.total == 12  # the add is still counted


def test_allowlist_and_handles_are_disjoint_and_explicit():
    assert not ALLOWLIST & set(HANDLES)
    assert "aten::add" in HANDLES and "aten::grid_sampler" in HANDLES
    assert {"aten::view", "aten::reshape", "aten::permute", "aten::size"} <= ALLOWLIST
