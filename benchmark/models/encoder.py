"""timm encoders as feature pyramids.

Any timm model that supports ``features_only=True`` is an encoder. It returns the list of
feature maps ``[(B, C_i, h_i, w_i)]`` from fine to coarse; ``channels[i]`` and ``reductions[i]``
(the nominal stride, e.g. ``[2, 4, 8, 16, 32]`` for a ResNet) describe them. Dilation for a
smaller output stride is timm's ``output_stride`` option: the last stages keep their resolution
and use atrous convolutions instead of striding.

Encoders are built with random initialisation and trained checkpoints are loaded with
``weights=PATH`` (see :mod:`benchmark.models.weights`). ImageNet-pretrained encoder weights (the
papers' starting point) come from a local timm checkpoint (:meth:`Encoder.load_pretrained`), or
from the hub only when the caller explicitly allows the download: never silently.
"""
from __future__ import annotations

import difflib
from typing import List, Optional

import torch
import torch.nn as nn

from benchmark.errors import DsbenchError

DEFAULT_ENCODER = "resnet18"
OUTPUT_STRIDES = (8, 16, 32)


def check_output_stride(output_stride: int) -> int:
    if output_stride not in OUTPUT_STRIDES:
        raise DsbenchError(
            f"output_stride {output_stride!r} is not supported; use one of {', '.join(map(str, OUTPUT_STRIDES))}"
        )
    return int(output_stride)


def _timm():
    """timm, imported when an encoder is built: importing it (and the torchvision and torch._dynamo it
    pulls in) costs about 3 s, which every Snakemake start (the DAG checks the model registry) and
    every job that builds no network would pay otherwise."""
    import timm

    return timm


def _unknown_encoder(name: str) -> DsbenchError:
    timm = _timm()
    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see timm.list_models() for the names"
    return DsbenchError(f"unknown timm encoder {name!r}; {hint}")


class Encoder(nn.Module):
    """A timm backbone with ``features_only=True``.

    ``forward(image (B, 3, H, W)) -> [features (B, channels[i], ~H/reductions[i], ~W/reductions[i])]``
    from fine to coarse.
    """

    def __init__(self, name: str = DEFAULT_ENCODER, output_stride: int = 32, timm_options: Optional[dict] = None):
        super().__init__()
        self.name = str(name)
        self.output_stride = check_output_stride(output_stride)
        timm = _timm()
        if not timm.is_model(self.name):
            raise _unknown_encoder(self.name)
        self.options = self._timm_options(timm_options)
        options = self.options
        try:
            self.body = timm.create_model(self.name, features_only=True, pretrained=False, **options)
        except (TypeError, ValueError, AssertionError, RuntimeError, NotImplementedError) as exc:
            raise DsbenchError(
                f"encoder {self.name!r} cannot be built with features_only and output_stride={self.output_stride} "
                f"({exc.__class__.__name__}: {exc}); use a CNN encoder such as {DEFAULT_ENCODER} or output_stride=32"
            ) from None
        self.channels: List[int] = list(self.body.feature_info.channels())
        self.reductions: List[int] = list(self.body.feature_info.reduction())
        if self.output_stride != 32 and max(self.reductions) != self.output_stride:
            raise DsbenchError(
                f"encoder {self.name!r} ignored output_stride={self.output_stride} (its deepest stride is "
                f"{max(self.reductions)}); use an encoder that supports dilation, such as {DEFAULT_ENCODER}"
            )

    def _timm_options(self, extra: Optional[dict]) -> dict:
        # Stride 32 is every encoder's native stride: not passing it keeps encoders that have no
        # dilation option (e.g. vision transformers) usable.
        options = {} if self.output_stride == 32 else {"output_stride": self.output_stride}
        return {**options, **(extra or {})}

    def load_pretrained(self, source: str, allow_hub: bool = False) -> None:
        """Load the encoder's ImageNet weights: ``source`` is a local timm checkpoint of
        ``self.name`` (read through timm's ``pretrained_cfg_overlay=dict(file=...)``, so timm maps
        the classifier-bearing checkpoint onto the feature extractor), or ``"hub"`` for timm's
        default weights, which needs ``allow_hub=True``."""
        from pathlib import Path

        timm = _timm()
        if source == "hub":
            if not allow_hub:
                raise DsbenchError(f"encoder {self.name!r}: hub weights need an explicit allow (--allow-hub-weights); "
                                   "or pass a local file")
            overlay = {}
        elif Path(source).is_file():
            overlay = {"pretrained_cfg_overlay": {"file": str(source)}}
        else:
            raise DsbenchError(f"encoder weights {source}: file not found; pass a timm checkpoint of {self.name} "
                               f"(e.g. saved with torch.save(timm.create_model({self.name!r}).state_dict(), PATH))")
        try:
            pretrained = timm.create_model(self.name, features_only=True, pretrained=True, **overlay, **self.options)
        except (RuntimeError, ValueError, OSError, KeyError) as exc:
            raise DsbenchError(f"encoder weights {source}: cannot be loaded into {self.name!r} "
                               f"({exc.__class__.__name__}: {exc})") from None
        self.body.load_state_dict(pretrained.state_dict(), strict=True)

    def forward(self, image: torch.Tensor) -> List[torch.Tensor]:
        return list(self.body(image))
