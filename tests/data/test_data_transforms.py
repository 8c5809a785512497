"""Augmentation: ids never interpolated, exact crop sizes, aligned flips, determinism."""
from __future__ import annotations

import pytest
import torch

from benchmark.data.transforms import (Compose, RandomCrop, RandomHorizontalFlip, RandomScale, center_crop_square,
                                       resize, train_transform)
from benchmark.errors import DsbenchError

CLASS_VALUES = torch.tensor([0, 5, 13, 255])


def _sample(height: int = 24, width: int = 40, seed: int = 0, block: int = 1) -> dict:
    """A sample whose image channel 0 encodes the label id (label / 255), so alignment is checkable."""
    g = torch.Generator().manual_seed(seed)
    coarse = CLASS_VALUES[torch.randint(0, 4, ((height + block - 1) // block, (width + block - 1) // block), generator=g)]
    labels = coarse.repeat_interleave(block, 0).repeat_interleave(block, 1)[:height, :width].contiguous()
    image = torch.stack([labels.float() / 255, torch.rand(height, width, generator=g), torch.zeros(height, width)])
    instances = torch.arange(height * width).reshape(height, width)
    return {"image": image, "labels": labels, "instances": instances, "id": "x", "path": "p"}


def test_resize_labels_is_nearest_by_brute_force() -> None:
    sample = _sample(7, 9)
    out = resize(sample, (10, 5))  # sizes without rounding ties
    # align_corners=True: output pixel i samples source round(i * (H - 1) / (h - 1))
    for i in range(10):
        for j in range(5):
            src_i, src_j = round(i * 6 / 9), round(j * 8 / 4)
            assert out["labels"][i, j] == sample["labels"][src_i, src_j]
            assert out["instances"][i, j] == sample["instances"][src_i, src_j]
    assert out["labels"].dtype == torch.int64


@pytest.mark.parametrize("seed", range(5))
def test_scaled_labels_keep_only_valid_ids(seed: int) -> None:
    out = RandomScale((0.5, 2.0))(_sample(seed=seed), torch.Generator().manual_seed(seed))
    assert set(out["labels"].unique().tolist()) <= set(CLASS_VALUES.tolist())
    assert out["labels"].shape == out["image"].shape[-2:] == out["instances"].shape


def test_scale_keeps_image_and_labels_aligned() -> None:
    out = RandomScale((1.3, 1.3))(_sample(48, 64, block=8))
    encoded = torch.round(out["image"][0] * 255).long()
    agree = (encoded == out["labels"]).float().mean()
    assert agree > 0.85  # only block borders differ (bilinear image vs nearest labels)


@pytest.mark.parametrize("crop", [(16, 16), (24, 40), (30, 50), (8, 64)])
def test_crop_size_is_exact_and_padding_is_ignore(crop) -> None:
    out = RandomCrop(crop)(_sample(24, 40), torch.Generator().manual_seed(1))
    assert out["image"].shape == (3, *crop) and out["labels"].shape == crop and out["instances"].shape == crop
    if crop[0] > 24:
        assert (out["labels"][24:] == 255).all() and (out["image"][:, 24:] == 0).all()
        assert (out["instances"][24:] == 0).all()
    if crop[1] > 40:
        assert (out["labels"][:, 40:] == 255).all() and (out["image"][:, :, 40:] == 0).all()


def test_crop_content_matches_source_window() -> None:
    sample = _sample(24, 40)
    out = RandomCrop((10, 12))(sample, torch.Generator().manual_seed(3))
    # instances are unique per pixel, so they reveal the window
    top, left = divmod(int(out["instances"][0, 0]), 40)
    assert torch.equal(out["labels"], sample["labels"][top:top + 10, left:left + 12])
    assert torch.equal(out["image"], sample["image"][:, top:top + 10, left:left + 12])


def test_flip_is_consistent_between_image_and_labels() -> None:
    sample = _sample()
    flipped = RandomHorizontalFlip(p=1.0)(sample)
    assert torch.equal(flipped["labels"], sample["labels"].flip(-1))
    assert torch.equal(torch.round(flipped["image"][0] * 255).long(), flipped["labels"])
    assert torch.equal(flipped["instances"], sample["instances"].flip(-1))
    assert torch.equal(RandomHorizontalFlip(p=0.0)(sample)["labels"], sample["labels"])


def test_train_transform_without_scale_keeps_exact_alignment() -> None:
    transform = Compose([RandomCrop((20, 30)), RandomHorizontalFlip()], seed=0)
    for _ in range(4):
        out = transform(_sample(24, 40))
        valid = out["labels"] != 255
        assert torch.equal(torch.round(out["image"][0] * 255).long()[valid], out["labels"][valid])


def test_seeded_transform_is_deterministic_and_seeds_differ() -> None:
    def run(seed: int) -> list:
        transform = train_transform((16, 16), scale_range=(0.5, 2.0), seed=seed)
        return [transform(_sample(seed=i)) for i in range(4)]

    first, second, other = run(0), run(0), run(1)
    for a, b in zip(first, second):
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["labels"], b["labels"])
    assert any(not torch.equal(a["image"], c["image"]) for a, c in zip(first, other))
    for out in first:
        assert out["labels"].shape == (16, 16)
        assert set(out["labels"].unique().tolist()) <= set(CLASS_VALUES.tolist())


def test_input_sample_is_not_modified() -> None:
    sample = _sample()
    snapshot = {k: v.clone() for k, v in sample.items() if isinstance(v, torch.Tensor)}
    train_transform((10, 10), seed=0)(sample)
    center_crop_square(sample)
    for key, value in snapshot.items():
        assert torch.equal(sample[key], value)


def test_center_crop_square() -> None:
    sample = _sample(24, 40)
    out = center_crop_square(sample)
    assert out["image"].shape == (3, 24, 24) and out["labels"].shape == (24, 24)
    assert torch.equal(out["labels"], sample["labels"][:, 8:32])
    assert torch.equal(out["instances"], sample["instances"][:, 8:32])
    tall = center_crop_square(_sample(40, 24))
    assert torch.equal(tall["labels"], _sample(40, 24)["labels"][8:32])


def test_bad_arguments() -> None:
    with pytest.raises(DsbenchError):
        RandomScale((2.0, 1.0))
    with pytest.raises(DsbenchError):
        RandomCrop((0, 10))
    with pytest.raises(DsbenchError, match="label mode"):
        RandomScale(label_mode="bilinear")(_sample())


def test_train_transform_without_crop_keeps_each_sample_size() -> None:
    transform = train_transform(None, scale_range=(0.5, 2.0), seed=0)
    generator = torch.Generator().manual_seed(5)
    for seed in range(4):
        out = transform(_sample(24, 40, seed=seed), generator)  # generator passed positionally, as the engine does
        assert out["image"].shape == (3, 24, 40) and out["labels"].shape == (24, 40)
        assert set(out["labels"].unique().tolist()) <= set(CLASS_VALUES.tolist())
