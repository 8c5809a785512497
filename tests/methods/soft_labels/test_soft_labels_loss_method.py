"""KL loss (eq. 4), the MC switch, the registered method and the resize-and-crop augmentation."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import methods  # noqa: F401  (registers every method)
from benchmark.errors import DsbenchError
from benchmark.registry import METHODS
from benchmark.ops.sampling import IGNORE_INDEX, uniform_grid
from benchmark.ops.soft_labels import soft_downsample
from methods.soft_labels.loss import kl_soft_loss, resize_and_crop, single_class_mask

K = 4


def soft_targets(seed=0, shape=(2, 20, 24), size=(5, 6)) -> torch.Tensor:
    # Blocks of 6 pixels sampled in cells of 4: some cells single-class, some multi-class.
    g = torch.Generator().manual_seed(seed)
    B, H, W = shape
    blocks = torch.randint(0, K, (B, H // 6 + 1, W // 6 + 1), generator=g)
    labels = blocks.repeat_interleave(6, 1).repeat_interleave(6, 2)[:, :H, :W].contiguous()
    labels[:, :3, :3] = IGNORE_INDEX
    return soft_downsample(labels, size, "soft-area", num_classes=K, valid_threshold=0.0)


def test_kl_is_zero_when_prediction_equals_label():
    y = soft_targets()
    mass = y.sum(1, keepdim=True)
    logits = torch.log((y / mass.clamp_min(1e-12)).clamp_min(1e-30))
    assert float(kl_soft_loss(logits, y)) == pytest.approx(0.0, abs=1e-5)


def test_kl_equals_cross_entropy_minus_entropy_numpy():
    y = soft_targets(seed=1).double().numpy()
    logits = torch.randn(2, K, 5, 6, generator=torch.Generator().manual_seed(2))
    loss = float(kl_soft_loss(logits, torch.from_numpy(y).float()))
    z = logits.double().numpy()
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    mass = y.sum(1)
    q = np.divide(y, mass[:, None], out=np.zeros_like(y), where=mass[:, None] > 0)
    ce = -(q * log_p).sum(1)
    entropy = -(q * np.log(np.where(q > 0, q, 1.0))).sum(1)
    expected = (mass * (ce - entropy)).sum() / mass.sum()
    assert loss == pytest.approx(expected, rel=1e-5)


def test_kl_gradient_is_softmax_minus_target():
    y = soft_targets(seed=3)
    logits = torch.randn(2, K, 5, 6, requires_grad=True)
    kl_soft_loss(logits, y).backward()
    mass = y.sum(1, keepdim=True)
    q = y / mass.clamp_min(1e-12)
    expected = (logits.detach().softmax(1) - q) * mass / mass.sum()
    torch.testing.assert_close(logits.grad, expected, atol=1e-6, rtol=1e-4)


def test_mc_off_uses_only_single_class_pixels():
    y = soft_targets(seed=4)
    single = single_class_mask(y)
    assert 0 < int(single.sum()) < int((y.sum(1) > 0).sum())  # both kinds present
    logits = torch.randn(2, K, 5, 6, generator=torch.Generator().manual_seed(5))
    masked = y * single.unsqueeze(1)
    torch.testing.assert_close(kl_soft_loss(logits, y, mc=False), kl_soft_loss(logits, masked, mc=True))
    assert float(kl_soft_loss(logits, y, mc=False)) != pytest.approx(float(kl_soft_loss(logits, y, mc=True)))


def test_kl_on_one_hot_and_on_ids_is_cross_entropy():
    g = torch.Generator().manual_seed(6)
    ids = torch.randint(0, K, (2, 5, 6), generator=g)
    ids[0, 0] = IGNORE_INDEX
    logits = torch.randn(2, K, 5, 6, generator=g)
    ce = F.cross_entropy(logits, ids, ignore_index=IGNORE_INDEX)
    onehot = F.one_hot(ids.clamp(max=K - 1), K).permute(0, 3, 1, 2).float() * (ids != IGNORE_INDEX).unsqueeze(1)
    torch.testing.assert_close(kl_soft_loss(logits, ids), ce)
    torch.testing.assert_close(kl_soft_loss(logits, onehot), ce)


def test_all_ignored_gives_zero_loss_with_gradient():
    logits = torch.randn(1, K, 3, 3, requires_grad=True)
    loss = kl_soft_loss(logits, torch.zeros(1, K, 3, 3))
    loss.backward()
    assert float(loss.detach()) == 0.0 and logits.grad is not None


def test_registered_method_contract():
    cls = METHODS.get("soft_labels")
    method = cls.from_options({})
    assert method.label_mode == "soft-bilinear" and method.config.mc is True
    assert method.config.image_mode == "bilinear" and method.unsample_mode == "bilinear"
    image = torch.rand(2, 3, 16, 20)
    grid = method.sampler(image, (4, 5))
    torch.testing.assert_close(grid, uniform_grid(2, (4, 5)))
    y = soft_targets(size=(5, 6))
    logits = torch.randn(2, K, 5, 6, requires_grad=True)
    loss = method.loss(logits, y, {})
    loss.backward()
    assert torch.isfinite(loss) and logits.grad.abs().sum() > 0
    off = cls.from_options({"mc": False, "label_mode": "soft-bicubic", "image_mode": "bicubic"})
    assert off.label_mode == "soft-bicubic" and off.label_options() == {"valid_threshold": 0.5}
    assert dataclasses.asdict(off.config)["mc"] is False


@pytest.mark.parametrize("options, match", [({"label_mode": "bilinear"}, "label_mode"),
                                            ({"image_mode": "area"}, "image_mode"),
                                            ({"valid_threshold": 2.0}, "valid_threshold"),
                                            ({"mc": "yes"}, "mc"),
                                            ({"colour": "x"}, "no option")])
def test_method_rejects_bad_options(options, match):
    with pytest.raises(DsbenchError, match=match):
        METHODS.get("soft_labels").from_options(options)


def make_sample(H=32, W=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, K, (H // 4, W // 4), generator=g).repeat_interleave(4, 0).repeat_interleave(4, 1)
    image = torch.rand(3, H, W, generator=g)
    return {"image": image, "labels": labels, "id": "x"}


@pytest.mark.parametrize("label_mode", ["nearest", "soft-bilinear", "soft-area"])
def test_resize_and_crop_shapes_and_determinism(label_mode):
    sample = make_sample()
    a = resize_and_crop(sample, (8, 12), label_mode=label_mode, generator=torch.Generator().manual_seed(1), num_classes=K)
    b = resize_and_crop(sample, (8, 12), label_mode=label_mode, generator=torch.Generator().manual_seed(1), num_classes=K)
    assert a["image"].shape == (3, 8, 12) and a["id"] == "x"
    if label_mode == "nearest":
        assert a["labels"].shape == (8, 12) and a["labels"].dtype == torch.int64
    else:
        assert a["labels"].shape == (K, 8, 12) and a["labels"].dtype == torch.float32
    torch.testing.assert_close(a["image"], b["image"])
    torch.testing.assert_close(a["labels"], b["labels"])
    scales = {tuple(resize_and_crop(sample, (8, 12), label_mode=label_mode, num_classes=K,
                                    generator=torch.Generator().manual_seed(s))["image"][0, 0, :2].tolist()) for s in range(5)}
    assert len(scales) > 1  # different seeds, different crops


def test_resize_and_crop_pairs_labels_with_colour_sampling():
    # Colour channel 0 is the one-hot of class 2: soft-bilinear labels must equal the resized channel.
    sample = make_sample(seed=3)
    sample["image"][0] = (sample["labels"] == 2).float()
    for seed in range(4):
        out = resize_and_crop(sample, (8, 12), (0.5, 2.0), "soft-bilinear", torch.Generator().manual_seed(seed),
                              num_classes=K, valid_threshold=0.0)
        inside = out["labels"].sum(0) > 0  # padded area has no labels
        torch.testing.assert_close(out["labels"][2][inside], out["image"][0][inside], atol=5e-6, rtol=0)


def test_resize_and_crop_pads_small_images_with_ignore():
    sample = make_sample()
    out = resize_and_crop(sample, (8, 12), (0.5, 0.5), "nearest", torch.Generator().manual_seed(0), num_classes=K)
    assert int((out["labels"] == IGNORE_INDEX).sum()) == 8 * 12 - 4 * 6
    soft = resize_and_crop(sample, (8, 12), (0.5, 0.5), "soft-area", torch.Generator().manual_seed(0), num_classes=K)
    assert int((soft["labels"].sum(0) == 0).sum()) == 8 * 12 - 4 * 6
    with pytest.raises(DsbenchError, match="label mode"):
        resize_and_crop(sample, (8, 12), label_mode="soft", num_classes=K)
    with pytest.raises(DsbenchError, match="scale range"):
        resize_and_crop(sample, (8, 12), (2.0, 0.5), num_classes=K)
