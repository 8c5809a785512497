"""Edge-based adaptive downsampling (Marin et al., ICCV 2019).

Pipeline (Fig. 4): the high-res image is uniformly downsampled to the aux net's input size (32x64 for a
1:2 image; the paper's 32x32 for square ones), the double U-Net of Fig. 6 predicts a sampling
tensor ``(2, 8, 16)`` (its output size; both are stored in its checkpoint), the prediction is projected onto the covering
constraints (3), resized bilinearly (``align_corners=True``, Fig. 5) to the requested ``h x w``
and used as the sampling grid. Labels are sampled on the same grid (nearest) and the
predictions are brought back by barycentric interpolation over the grid (Sec. 3.3).

The auxiliary net is trained *before* the segmentation network (its own rule and checkpoint,
:func:`train_aux_net`), with squared L2 against ground-truth tensors minimising energy (2)
(:mod:`methods.edge_based.sampling_tensor`, ``lam = 1`` as in the paper). During segmentation training
it is frozen and the network is trained on the aux net's own (predicted) sampling, exactly the
sampling it sees at test time: the paper trains the aux net separately and then "replaces the
uniform downsampling with the adaptive one" of Fig. 4 for the segmentation model.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.io import atomic_write
from benchmark.registry import METHODS
from benchmark.ops.sampling import Size, check_size, resample, tensor_to_grid, uniform_grid
from methods.edge_based.sampling_tensor import project_onto_constraints, sampling_tensor, uniform_tensor
from methods.base import DownsamplingMethod, MethodConfig, Preparation

TRAIN_COMMAND = "dsbench prepare edge_based --dataset DATASET --root ROOT --out CHECKPOINT"
CHECKPOINT_FORMAT = 1


# -- the auxiliary network (Fig. 6) -------------------------------------------------------------
def _block(c_in: int, c_out: int) -> nn.Sequential:
    """One padded 3x3 conv + batch norm + ReLU (one conv per block, Fig. 6)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """U-Net with one conv per block, ``depth`` 2x max-pools, 1x1-conv skip connections and 2x
    upscaling; keeps the spatial size of its input. ``(B, F, h, w) -> (B, F, h, w)``."""

    def __init__(self, features: int, depth: int):
        super().__init__()
        self.down = nn.ModuleList(_block(features, features) for _ in range(depth))
        self.bottom = _block(features, features)
        self.skip = nn.ModuleList(nn.Conv2d(features, features, 1) for _ in range(depth))
        self.up = nn.ModuleList(_block(features, features) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for block, skip_conv, skip in zip(self.up, self.skip, reversed(skips)):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(x + skip_conv(skip))
        return x


class DoubleUNet(nn.Module):
    """Double U-Net of Fig. 6: image ``(B, 3, *size_in)`` -> sampling tensor ``(B, 2, *size_out)``.

    Our reading of the figure: a stem conv (3 -> F), the first U-Net at the input resolution
    (depth ``log2(size_in / size_out)``: it depends on the input resolution), average pooling to
    ``size_out``, the second U-Net at ``size_out`` (fixed depth 2), and a 1x1 head (F -> 2). F is
    256 in all layers but the first and the last. The head predicts the offset from the uniform
    tensor and starts at zero, so an untrained net samples uniformly.
    """

    def __init__(self, size_in: Size = (32, 64), size_out: Size = (8, 16), features: int = 256, depth2: int = 2):
        super().__init__()
        size_in, size_out = check_size(size_in, "aux_input"), check_size(size_out, "aux_output")
        ratio = (size_in[0] / size_out[0], size_in[1] / size_out[1])
        depth1 = math.log2(ratio[0]) if ratio[0] >= 1 else -1
        if ratio[0] != ratio[1] or depth1 != int(depth1) or min(size_out) < 2 ** depth2:
            raise DsbenchError(
                f"edge_based aux_input {size_in} / aux_output {size_out}: the input must be the output times a power "
                f"of two in both axes and the output at least {2 ** depth2} pixels, e.g. aux_input 32x64, aux_output 8x16")
        self.size_in, self.size_out = size_in, size_out
        self.stem = _block(3, features)
        self.unet1 = UNet(features, int(depth1))
        self.unet2 = UNet(features, depth2)
        self.head = nn.Conv2d(features, 2, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("uniform", torch.from_numpy(uniform_tensor(size_out)).float().unsqueeze(0), persistent=False)

    def forward(self, image_small: torch.Tensor) -> torch.Tensor:
        x = (image_small - 0.5) / 0.25  # [0, 1] image -> roughly zero-mean inputs
        x = self.unet1(self.stem(x))
        x = F.adaptive_avg_pool2d(x, self.size_out)
        return self.uniform + self.head(self.unet2(x))  # (B, 2, *size_out), unconstrained


# -- checkpoints ----------------------------------------------------------------------------------
def save_aux_checkpoint(path: Union[str, os.PathLike], net: DoubleUNet, meta: Dict[str, Any]) -> None:
    """Atomic ``torch.save`` (temp file + ``os.replace``) of the weights and their settings."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "size_in": list(net.size_in),
        "size_out": list(net.size_out),
        "features": int(net.stem[0].out_channels),
        "meta": meta,
    }
    atomic_write(path, lambda tmp: torch.save(blob, tmp))


def load_aux_checkpoint(path: Union[str, os.PathLike]) -> Tuple[DoubleUNet, Dict[str, Any]]:
    """The trained aux net (eval mode, frozen) and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise DsbenchError(f"edge_based aux_checkpoint {str(path)!r} does not exist; train it with `{TRAIN_COMMAND}`")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        net = DoubleUNet(tuple(blob["size_in"]), tuple(blob["size_out"]), int(blob["features"]))
        net.load_state_dict(blob["state_dict"])
    except DsbenchError:
        raise
    except Exception as exc:  # corrupt file, wrong format, mismatched shapes
        raise DsbenchError(f"edge_based aux_checkpoint {str(path)!r} is not a readable aux-net checkpoint "
                           f"({exc.__class__.__name__}); retrain it with `{TRAIN_COMMAND}`")
    net.eval().requires_grad_(False)
    return net, dict(blob.get("meta", {}))


def make_untrained_checkpoint(path: Union[str, os.PathLike], size_in: Size = (32, 64), size_out: Size = (8, 16),
                              features: int = 8, seed: int = 0) -> str:
    """A tiny untrained aux net (samples uniformly): for contract tests and smoke runs only."""
    torch.manual_seed(seed)
    save_aux_checkpoint(path, DoubleUNet(size_in, size_out, features), {"untrained": True})
    return str(path)


# -- target classes ------------------------------------------------------------------------------
def resolve_target_classes(target_classes: Optional[Sequence[Union[int, str]]],
                           class_names: Optional[Sequence[str]] = None) -> Optional[List[int]]:
    """Class names or ids -> sorted train ids; None/empty: all classes. Names are looked up in
    ``class_names`` (the dataset's classes in training-id order) or, without it, Cityscapes' trainIds."""
    if not target_classes:
        return None
    if class_names is None:
        from benchmark.data.labels import TRAIN_ID as table
    else:
        table = {name: index for index, name in enumerate(class_names)}

    ids = []
    for c in target_classes:
        if isinstance(c, str) and not c.isdigit():
            if c not in table:
                raise DsbenchError(f"edge_based target_classes: unknown class {c!r}; use one of {', '.join(table)}")
            ids.append(table[c])
        else:
            ids.append(int(c))
    return sorted(set(ids))


# -- ground truth and training -------------------------------------------------------------------
def ground_truth_tensors(labels: torch.Tensor, size_out: Size, lam: float = 1.0,
                         target_classes: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Proposals ``argmin E`` for labels ``(B, H, W)`` -> ``(B, 2, *size_out)`` float32."""
    arrays = labels.detach().cpu().numpy()
    return torch.from_numpy(np.stack([sampling_tensor(a, size_out, lam, target_classes) for a in arrays])).float()


def downsample_uniform(image_hr: torch.Tensor, size: Size) -> torch.Tensor:
    """Uniform (bilinear, ``align_corners=True``) downsampling, the aux net's input."""
    return resample(image_hr, uniform_grid(image_hr.shape[0], size, image_hr.device, image_hr.dtype))


def train_aux_net_on_tensors(images: torch.Tensor, labels: torch.Tensor, out_path: Union[str, os.PathLike], *,
                             size_in: Size = (32, 64), size_out: Size = (8, 16), iters: int = 500,
                             batch_size: int = 16, seed: int = 0, lam: float = 1.0,
                             target_classes: Optional[Sequence[Union[int, str]]] = None, features: int = 256,
                             lr: float = 1e-4, log_every: int = 10) -> Dict[str, Any]:
    """Train the aux net on images ``(N, 3, H, W)`` in [0, 1] and labels ``(N, H, W)``.

    Ground-truth tensors are computed once per image (they depend only on the labels). Adam,
    exponential learning-rate decay (the paper's policy), squared L2 loss (mean over entries).
    Deterministic on CPU for a given seed. Returns metrics: ``loss_curve`` (iteration, loss),
    ``final_loss`` and ``uniform_loss`` (the same loss for the uniform tensor: the bar to beat).
    """
    torch.manual_seed(seed)
    ids = resolve_target_classes(target_classes)
    size_in, size_out = check_size(size_in, "aux_input"), check_size(size_out, "aux_output")
    targets = ground_truth_tensors(labels, size_out, lam, ids)  # (N, 2, *size_out)
    inputs = downsample_uniform(images.float(), size_in)         # (N, 3, *size_in)
    net = DoubleUNet(size_in, size_out, features)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr, foreach=True)  # as in the engine (benchmark/engine/train.py)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=0.01 ** (1.0 / max(iters, 1)))
    generator = torch.Generator().manual_seed(seed)
    n = inputs.shape[0]
    curve: List[Tuple[int, float]] = []
    net.train()
    for step in range(iters):
        batch = torch.randint(0, n, (min(batch_size, n),), generator=generator)
        x, y = inputs[batch], targets[batch]
        if torch.rand((), generator=generator) < 0.5:  # left-right flip: image and tensor alike
            x, y = x.flip(-1), y.flip(-1)
            y = torch.stack((y[:, 0], 1.0 - y[:, 1]), dim=1)
        loss = F.mse_loss(net(x), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % log_every == 0 or step == iters - 1:
            curve.append((step, float(loss.detach())))
    net.eval()
    with torch.no_grad():
        final = float(F.mse_loss(net(inputs), targets))
        uniform = float(F.mse_loss(net.uniform.expand_as(targets), targets))
    metrics = {"loss_curve": curve, "final_loss": final, "uniform_loss": uniform, "iters": iters,
               "lam": lam, "target_classes": ids, "size_in": list(size_in), "size_out": list(size_out), "seed": seed}
    save_aux_checkpoint(out_path, net, metrics)
    return metrics


def train_aux_net(dataset_name: str, root: Union[str, os.PathLike], out_path: Union[str, os.PathLike], *,
                  size_in: Size = (32, 64), size_out: Size = (8, 16), iters: int = 500, batch_size: int = 16,
                  seed: int = 0, lam: float = 1.0, target_classes: Optional[Sequence[Union[int, str]]] = None,
                  features: int = 256, split: str = "train") -> Dict[str, Any]:
    """Train the aux net on a dataset's training split (one per dataset; ``dsbench prepare edge_based``)."""
    from benchmark.data import DATASETS, build_dataset

    # Class names are the dataset's own (synthaerial's land cover, a card's), not Cityscapes'.
    target_classes = resolve_target_classes(target_classes, DATASETS.get(dataset_name).class_names)
    dataset = build_dataset(dataset_name, root, split)
    if len(dataset) == 0:
        raise DsbenchError(f"dataset {dataset_name!r} at {root}: split {split!r} is empty; generate it first")
    samples = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([torch.as_tensor(s["image"]) for s in samples])
    labels = torch.stack([torch.as_tensor(s["labels"]) for s in samples]).long()
    metrics = train_aux_net_on_tensors(images, labels, out_path, size_in=size_in, size_out=size_out, iters=iters,
                                       batch_size=batch_size, seed=seed, lam=lam, target_classes=target_classes,
                                       features=features)
    metrics["dataset"] = dataset_name
    return metrics


def prepare_aux_net(dataset: str, root: Union[str, os.PathLike], out: Union[str, os.PathLike], *,
                    size_in: str, size_out: str, **settings: Any) -> Dict[str, Any]:
    """The edge_based preparation step: sizes as ``HxW`` text, as the workflow config writes them."""
    return train_aux_net(dataset, root, out, size_in=parse_hxw(size_in, "size_in"),
                         size_out=parse_hxw(size_out, "size_out"), **settings)


def parse_hxw(text: Any, key: str) -> Size:
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
        return check_size((h, w), key)
    except ValueError:
        raise DsbenchError(f"prepare setting {key}={text!r} is not HxW; write e.g. 32x64") from None


# The settings of Marin's aux net (Fig 6): the paper's 256 channels, 500 iterations.
AUX_NET = Preparation(name="aux", option="aux_checkpoint", run=prepare_aux_net, defaults={
    "size_in": "32x64", "size_out": "8x16", "iters": 500, "batch_size": 16, "lam": 1.0, "features": 256,
    "seed": 0, "target_classes": None,
})


# -- the method ------------------------------------------------------------------------------------
@METHODS.register("edge_based")
class EdgeBased(DownsamplingMethod):
    """Marin et al. 2019: aux-net sampling tensor -> projection (3) -> bilinear resize -> grid;
    nearest labels; barycentric unsampling."""

    name = "edge_based"
    label_mode = "nearest"
    unsample_mode = "barycentric"
    preparation = AUX_NET
    studies = ("sampling_points",)

    @dataclasses.dataclass
    class Config(MethodConfig):
        aux_checkpoint: str = ""                 # trained aux net (`dsbench prepare edge_based`)
        lam: float = 1.0                         # lambda of energy (2) for the aux net's targets
        target_classes: Optional[Tuple[Union[int, str], ...]] = None  # None: all classes

    def __init__(self, config: Optional[MethodConfig] = None, **overrides: Any):
        super().__init__(config, **overrides)
        if self.config.image_mode not in ("bilinear", "nearest"):
            raise DsbenchError(f"edge_based image_mode {self.config.image_mode!r}: use bilinear or nearest")
        self.aux_net: Optional[DoubleUNet] = None
        self.aux_meta: Dict[str, Any] = {}
        if self.config.aux_checkpoint:
            self._load(self.config.aux_checkpoint)

    def _load(self, path: str) -> None:
        # The aux net's input and output sizes are the checkpoint's own (set by its preparation step).
        net, meta = load_aux_checkpoint(path)
        self.aux_net = net
        self.aux_meta = meta

    def train(self, mode: bool = True) -> "EdgeBased":
        super().train(mode)
        if self.aux_net is not None:
            self.aux_net.eval()  # frozen: trained before the segmentation network
        return self

    def predict_tensor(self, image_hr: torch.Tensor) -> torch.Tensor:
        """Projected aux-net tensor ``(B, 2, *aux_net.size_out)`` in [0, 1] for ``image_hr`` ``(B, 3, H, W)``."""
        if self.aux_net is None:
            raise DsbenchError(
                "edge_based needs a trained auxiliary net: set option aux_checkpoint (train one with "
                f"`{TRAIN_COMMAND}`)")
        net = self.aux_net.to(image_hr.device)
        with torch.no_grad():
            phi = net(downsample_uniform(image_hr.float(), net.size_in))
        return project_onto_constraints(phi)

    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        size_lr = check_size(size_lr)
        phi = self.predict_tensor(image_hr)  # (B, 2, *aux_net.size_out)
        phi_lr = F.interpolate(phi, size=size_lr, mode="bilinear", align_corners=True)  # Fig. 5
        return tensor_to_grid(project_onto_constraints(phi_lr)).to(image_hr.dtype)  # (B, h, w, 2)


__all__ = [
    "DoubleUNet", "UNet", "EdgeBased", "train_aux_net", "train_aux_net_on_tensors", "ground_truth_tensors",
    "save_aux_checkpoint", "load_aux_checkpoint", "make_untrained_checkpoint", "resolve_target_classes",
"downsample_uniform", "TRAIN_COMMAND",
]
