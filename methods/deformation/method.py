"""Learned deformation downsampling (Jin et al., ICLR 2022): ``deformation`` and ``deformation_single``.

A small CNN (the deformation module, A.7) looks at a uniformly downsampled copy of the image
and predicts a sampling density ``d`` (softmax over positions) at once or twice the low-res size;
the deformed sampler (eq. 3, :func:`methods.deformation.sampler.deformed_grid`) turns ``d`` into a
sampling grid; the module trains with the segmentation network through ``grid_sample``.

``deformation`` ("Ours - joint loss"): segmentation loss + gamma x edge loss (eq. 4), the edge
loss pulling ``d`` towards the blurred label edges of the uniformly downsampled label.
``deformation_single`` ("Ours - single loss"): the same with gamma = 0.

Choices where the paper is silent (all in :mod:`methods.deformation.sampler` or below):

* Border rule of eq. 3: mirrored density, linearly extended coordinates (grid spans the image).
* ``d`` is mixed with a tiny uniform density (``density_floor``) so every kernel window has
  mass and the sampler never divides by an underflowed sum.
* Edge loss scale: the paper's "MSE" leaves the scale of ``d`` open. Both ``d`` and the target
  are distributions over positions (sum 1); the loss is their squared L2 distance (sum of
  squared differences over valid positions), averaged over the batch. With gamma = 100 this is
  on the scale of the cross-entropy, as A.7 intends.
* Training labels are sampled by nearest on the deformed grid (``label_mode``), never
  interpolated as numbers; predictions go back by nearest sampling point (the paper's Pi) or,
  as an option, barycentric interpolation.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from methods.deformation.sampler import auto_sigma, deformed_grid, edge_target
from benchmark.errors import DsbenchError
from benchmark.registry import METHODS
from benchmark.ops.sampling import ALIGN_CORNERS, IGNORE_INDEX, Size, check_size, downsample_labels, resample, uniform_grid
from methods.base import DownsamplingMethod, MethodConfig

SEG_LOSSES = ("ce", "focal")
UNSAMPLE_MODES = ("nearest", "barycentric")


@dataclasses.dataclass
class DeformationConfig(MethodConfig):
    sigma_frac: float = 0.125     # Gaussian std of eq. 3 as a fraction of the map's shorter side (Table 2)
    map_scale: int = 2            # deformation map at 1x or 2x the low-res size (A.7)
    input_scale: float = 2.0      # module input size / low-res size (Table 4: 0.5 .. 1.5 at 64^2)
    module_kernel: int = 3        # conv kernel of the deformation module (Table 3: 3, 5, 7)
    gamma: float = 100.0          # edge-loss weight (eq. 4, Table 5); 0 = single loss
    edge_delta: float = 1.0       # std of the Gaussian blur in the edge target (footnote 4)
    seg_loss: str = "ce"          # "ce" or "focal" (the paper's choice)
    focal_gamma: float = 2.0
    unsample: str = "nearest"     # "nearest" (the paper's Pi) or "barycentric"
    density_floor: float = 1e-3   # fraction of uniform density mixed into d


class DeformationModule(nn.Module):
    """A.7: three kxk conv + BatchNorm + ReLU layers (24, 24, 3 kernels), a 1x1 conv to one
    channel, He initialisation. ``(B, 3, h, w)`` -> logits ``(B, 1, h, w)`` (softmax is applied
    by the caller, over positions)."""

    def __init__(self, kernel_size: int = 3, widths=(24, 24, 3)):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise DsbenchError(f"deformation: module_kernel={kernel_size} must be an odd positive integer (3, 5, 7)")
        layers = []
        channels = 3
        for width in widths:
            layers += [nn.Conv2d(channels, width, kernel_size, padding=kernel_size // 2, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.Conv2d(channels, 1, 1))
        self.body = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, image_lr: torch.Tensor) -> torch.Tensor:
        return self.body(image_lr)


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0,
               ignore_index: int = IGNORE_INDEX, class_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Focal loss (Lin et al. 2017) ``-(1 - p_t)^gamma log p_t``, mean over non-ignore pixels.

    ``logits`` ``(B, K, h, w)``, ``labels`` ``(B, h, w)`` int64; gamma = 0 is cross-entropy.
    ``class_weights`` ``(K,)`` make it the weighted mean (each pixel weighs its label's weight), as
    ``F.cross_entropy(weight=...)`` averages."""
    log_p = F.log_softmax(logits.float(), dim=1)
    valid = labels != ignore_index
    target = torch.where(valid, labels, torch.zeros_like(labels))
    log_pt = log_p.gather(1, target.unsqueeze(1)).squeeze(1)                  # (B, h, w)
    loss = -((1.0 - log_pt.exp()).clamp_min(0.0) ** gamma) * log_pt
    weight = valid.to(loss.dtype)
    if class_weights is not None:
        weight = weight * class_weights.to(loss)[target]
    return (loss * weight).sum() / weight.sum().clamp_min(1e-12)


def edge_loss(density: torch.Tensor, labels_hr: torch.Tensor, num_classes: int, delta: float = 1.0,
              ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Jin eq. 4 edge loss: squared L2 distance between ``density`` ``(B, 1, hd, wd)`` (sums to 1)
    and the edge target of the label uniformly downsampled (nearest) to the map size, over
    non-ignore positions, averaged over the batch."""
    labels_map = downsample_labels(labels_hr, tuple(density.shape[-2:]), "nearest")  # (B, hd, wd)
    target, valid = edge_target(labels_map, num_classes, delta, ignore_index)
    return (((density - target.to(density.dtype)) ** 2) * valid).sum(dim=(1, 2, 3)).mean()


@METHODS.register("deformation")
class Deformation(DownsamplingMethod):
    """Jin et al. 2022, "Ours - joint loss": learned density + Gaussian-kernel deformed sampler."""

    name = "deformation"
    Config = DeformationConfig
    label_mode = "nearest"
    learned_sampler = True

    def __init__(self, config: Optional[DeformationConfig] = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        if c.seg_loss not in SEG_LOSSES:
            raise DsbenchError(f"{self.name}: seg_loss={c.seg_loss!r}; use one of {', '.join(SEG_LOSSES)}")
        if c.unsample not in UNSAMPLE_MODES:
            raise DsbenchError(f"{self.name}: unsample={c.unsample!r}; use one of {', '.join(UNSAMPLE_MODES)}")
        if c.map_scale not in (1, 2):
            raise DsbenchError(f"{self.name}: map_scale={c.map_scale}; the paper uses 1 or 2 (map size / low-res size)")
        if c.input_scale <= 0 or c.gamma < 0 or not 0 <= c.density_floor < 1:
            raise DsbenchError(f"{self.name}: need input_scale > 0, gamma >= 0 and 0 <= density_floor < 1 "
                               f"(got {c.input_scale}, {c.gamma}, {c.density_floor})")
        auto_sigma((1, 1), c.sigma_frac)  # validates sigma_frac
        self.unsample_mode = c.unsample
        self.deformation_module = DeformationModule(c.module_kernel)
        self._last_density: Optional[torch.Tensor] = None
        self._last_terms: Dict[str, torch.Tensor] = {}

    # -- pieces ---------------------------------------------------------------------------
    def map_size(self, size_lr: Size) -> Size:
        h, w = check_size(size_lr)
        return h * self.config.map_scale, w * self.config.map_scale

    def density(self, image_hr: torch.Tensor, size_lr: Size) -> torch.Tensor:
        """Deformation map ``d`` ``(B, 1, hd, wd)``, positive, summing to 1 per image."""
        h, w = check_size(size_lr)
        B = image_hr.shape[0]
        in_size = (max(2, round(h * self.config.input_scale)), max(2, round(w * self.config.input_scale)))
        image_in = resample(image_hr, uniform_grid(B, in_size, image_hr.device, image_hr.dtype))  # (B, 3, hi, wi)
        logits = self.deformation_module(image_in * 2.0 - 1.0)                                   # (B, 1, hi, wi)
        map_size = self.map_size(size_lr)
        if tuple(logits.shape[-2:]) != map_size:
            logits = F.interpolate(logits, size=map_size, mode="bilinear", align_corners=ALIGN_CORNERS)
        d = torch.softmax(logits.flatten(1).float(), dim=1).view(B, 1, *map_size)
        n = map_size[0] * map_size[1]
        return (1.0 - self.config.density_floor) * d + self.config.density_floor / n

    def sigma(self, size_lr: Size) -> float:
        return auto_sigma(self.map_size(size_lr), self.config.sigma_frac)

    # -- the interface --------------------------------------------------------------------
    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        d = self.density(image_hr, size_lr)
        self._last_density = d
        return deformed_grid(d, self.sigma(size_lr), check_size(size_lr)).to(image_hr.dtype)

    def loss(self, logits_lr: torch.Tensor, labels_lr: torch.Tensor, extras: Dict[str, torch.Tensor]) -> torch.Tensor:
        if self.config.seg_loss == "focal" and not labels_lr.is_floating_point():
            seg = focal_loss(logits_lr, labels_lr, self.config.focal_gamma, class_weights=self.loss_class_weights)
        else:
            seg = super().loss(logits_lr, labels_lr, extras)
        self._last_terms = {"segmentation": seg.detach()}
        if self.config.gamma == 0 or self._last_density is None:
            return seg
        labels_hr = extras.get("labels_hr")
        if labels_hr is None:
            raise DsbenchError(f"{self.name}: the edge loss needs extras['labels_hr']; pass it or set gamma=0")
        edge = edge_loss(self._last_density, labels_hr, logits_lr.shape[1], self.config.edge_delta)
        self._last_terms["edge"] = edge.detach()
        return seg + self.config.gamma * edge

    def extra_loss_terms(self) -> Dict[str, torch.Tensor]:
        return dict(self._last_terms)

    def skip_reason(self, *, dataset: str, model: str, size_lr: Size, size_hr: Optional[Size] = None) -> Optional[str]:
        if min(size_lr) < 2:
            return f"{self.name} needs at least 2 samples per axis, got {tuple(size_lr)}"
        return None


@dataclasses.dataclass
class DeformationSingleConfig(DeformationConfig):
    gamma: float = 0.0


@METHODS.register("deformation_single")
class DeformationSingle(Deformation):
    """Jin et al. 2022, "Ours - single loss": the deformation sampler trained by the segmentation
    loss alone (gamma = 0; the naive transfer of Recasens et al. 2018 to segmentation)."""

    name = "deformation_single"
    Config = DeformationSingleConfig
