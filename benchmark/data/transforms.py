"""Augmentation on sample dicts (the output of ``CityscapesSegmentation``).

Conventions
-----------
* A sample holds ``image`` float (3, H, W), ``labels`` int64 (H, W) (or float (K, H, W) class
  probabilities after a soft ``label_mode``), optional ``instances`` int64 (H, W); other keys
  (``id``, ``path``) pass through. Transforms return a new dict and never modify their input.
* Every transform is a callable ``t(sample, generator=None)``; random ones draw only from
  ``generator`` (a ``torch.Generator``; None = torch's global RNG), so a seeded generator
  gives the same augmentation on every run. :class:`Compose` may own a seeded generator.
* Resizing uses the suite's sampling convention (``align_corners=True``): the image is
  resized bilinearly (antialias off), label ids through ``benchmark.ops.sampling.downsample_labels``
  (``label_mode`` "nearest" by default: ids are copied, never interpolated) and instance ids
  always by nearest, so image, labels and instances stay pixel-aligned.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.ops.sampling import ALIGN_CORNERS, IGNORE_INDEX, Size, check_size, downsample_labels

Sample = Dict[str, Any]
SampleTransform = Callable[..., Sample]
DEFAULT_SCALE_RANGE: Tuple[float, float] = (0.75, 1.25)  # synthcity; the papers use (0.5, 2.0) on Cityscapes


def _uniform(generator: Optional[torch.Generator], low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def resize(sample: Sample, size: Size, label_mode: str = "nearest", **label_options: Any) -> Sample:
    """Resize image (bilinear), labels (``label_mode``) and instances (nearest) to ``size`` (h, w)."""
    h, w = check_size(size, "resize size")
    out = dict(sample)
    out["image"] = F.interpolate(sample["image"][None], size=(h, w), mode="bilinear",
                                 align_corners=ALIGN_CORNERS, antialias=False)[0]  # (3, h, w)
    out["labels"] = downsample_labels(sample["labels"][None], (h, w), label_mode, **label_options)[0]
    if "instances" in sample:
        out["instances"] = downsample_labels(sample["instances"][None], (h, w), "nearest")[0]  # (h, w)
    return out


def _apply_spatial(sample: Sample, op: Callable[[torch.Tensor, float], torch.Tensor]) -> Sample:
    """Apply ``op(tensor, fill)`` to image, labels and instances with each one's fill value."""
    out = dict(sample)
    out["image"] = op(sample["image"], 0.0)
    labels = sample["labels"]
    out["labels"] = op(labels, 0.0 if labels.is_floating_point() else IGNORE_INDEX)
    if "instances" in sample:
        out["instances"] = op(sample["instances"], 0)
    return out


def _crop(tensor: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    return tensor[..., top:top + height, left:left + width]


class Compose:
    """Apply transforms in order, passing one generator through (``seed`` makes its own)."""

    def __init__(self, transforms: Iterable[SampleTransform], seed: Optional[int] = None):
        self.transforms = list(transforms)
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))

    def __call__(self, sample: Sample, generator: Optional[torch.Generator] = None) -> Sample:
        generator = generator if generator is not None else self.generator
        for transform in self.transforms:
            sample = transform(sample, generator)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class RandomScale:
    """Resize by a factor drawn uniformly from ``scale_range`` (one factor for both axes)."""

    def __init__(self, scale_range: Sequence[float] = DEFAULT_SCALE_RANGE, label_mode: str = "nearest",
                 **label_options: Any):
        low, high = (float(v) for v in scale_range)
        if not 0 < low <= high:
            raise DsbenchError(f"scale range {tuple(scale_range)} must satisfy 0 < low <= high, e.g. (0.75, 1.25)")
        self.scale_range = (low, high)
        self.label_mode = label_mode
        self.label_options = label_options

    def __call__(self, sample: Sample, generator: Optional[torch.Generator] = None) -> Sample:
        scale = _uniform(generator, *self.scale_range)
        height, width = sample["image"].shape[-2:]
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        return resize(sample, size, self.label_mode, **self.label_options)

    def __repr__(self) -> str:
        return f"RandomScale({self.scale_range}, label_mode={self.label_mode!r})"


class RandomCrop:
    """Crop a random ``size`` (h, w) window; smaller samples are first padded at the bottom and
    right (image 0, labels 255 / probability 0, instances 0)."""

    def __init__(self, size: Sequence[int]):
        self.size = check_size(size, "crop size")

    def __call__(self, sample: Sample, generator: Optional[torch.Generator] = None) -> Sample:
        crop_h, crop_w = self.size
        height, width = sample["image"].shape[-2:]
        pad_h, pad_w = max(0, crop_h - height), max(0, crop_w - width)
        if pad_h or pad_w:
            sample = _apply_spatial(sample, lambda t, fill: F.pad(t, (0, pad_w, 0, pad_h), value=fill))
            height, width = height + pad_h, width + pad_w
        top = int(torch.randint(0, height - crop_h + 1, (), generator=generator))
        left = int(torch.randint(0, width - crop_w + 1, (), generator=generator))
        return _apply_spatial(sample, lambda t, _: _crop(t, top, left, crop_h, crop_w))

    def __repr__(self) -> str:
        return f"RandomCrop({self.size})"


class RandomHorizontalFlip:
    """Mirror image, labels and instances left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def __call__(self, sample: Sample, generator: Optional[torch.Generator] = None) -> Sample:
        if float(torch.rand((), generator=generator)) >= self.p:
            return dict(sample)
        return _apply_spatial(sample, lambda t, _: torch.flip(t, dims=(-1,)))

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def center_crop_square(sample: Sample, generator: Optional[torch.Generator] = None) -> Sample:
    """The central square (side = min(H, W)) of image, labels and instances (Marin, Jin)."""
    height, width = sample["image"].shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return _apply_spatial(sample, lambda t, _: _crop(t, top, left, side, side))


class KeepSize:
    """Run ``transform`` and crop (or pad) the result back to the input's size, so samples of one
    dataset keep one shape for batching while a random scale still changes the content's scale."""

    def __init__(self, transform: SampleTransform):
        self.transform = transform

    def __call__(self, sample: Sample, generator: Optional[torch.Generator] = None) -> Sample:
        size = tuple(sample["image"].shape[-2:])
        return RandomCrop(size)(self.transform(sample, generator), generator)

    def __repr__(self) -> str:
        return f"KeepSize({self.transform!r})"


def train_transform(crop: Optional[Sequence[int]] = None, scale_range: Sequence[float] = DEFAULT_SCALE_RANGE,
                    flip: bool = True, label_mode: str = "nearest", seed: Optional[int] = None,
                    **label_options: Any) -> Compose:
    """Random scale -> random crop to ``crop`` (h, w) -> horizontal flip, seeded by ``seed``.

    ``crop=None`` crops back to each sample's own size (whole-image training at a random scale).
    """
    scale = RandomScale(scale_range, label_mode, **label_options)
    steps: list = [KeepSize(scale)] if crop is None else [scale, RandomCrop(crop)]
    if flip:
        steps.append(RandomHorizontalFlip())
    return Compose(steps, seed=seed)
