"""SCN: Superpixel segmentation with fully convolutional networks (Yang et al., CVPR 2020).

A fully convolutional encoder-decoder predicts, for every pixel, its association ``Q`` ``(B, 9, H, W)``
to the 9 grid cells around its own cell on a regular grid of cell size ``S = 16``. Training pools
pixel properties (one-hot labels and XY) to the cells through ``Q`` and decodes them back (SCN
eqs. 1-2, ``deep_common.reconstruct``); the loss is SCN's eq. 4 with the semantic
(cross-entropy) distance: ``CE(l', l) + m / S * ||p - p'||_2`` with ``m = 0.003``.

Numbers from the SCN paper / its released code: cell ``S = 16``; ``m = 0.003``; the 9-channel
softmax head; the encoder-decoder shape (``deep_common.EncoderDecoder``: 16 channels doubling
over 4 stride-2 levels, transposed-conv decoder with skips, batch norm and leaky ReLU 0.1).

Choices:

* Inputs are replicate-padded at the bottom/right to a multiple of 16 (the network's stride, equal to
  the cell size), never resized; the association logits are cropped back to ``(H, W)`` before the
  softmax, so the candidate validity is that of the unpadded grid ``ceil(H / 16) x ceil(W / 16)``
  (the last cells may be partial; ``benchmark.ops.cell_association`` handles them exactly).
  Replicate rather than reflect: reflect fails on pads as large as the side (tiny inputs).
* Both loss terms are means over pixels (SCN sums over pixels and divides by the batch, the same
  ratio); ignored labels (``-1``) are left out of the cross-entropy and of the label pooling.
* ``segment(image, n)`` interprets the predicted association on the grid whose integer cell is set
  by ``n`` (``deep_common.grid_cell_size``): the network is trained on cells of 16 pixels, so ``n``
  near ``H * W / 256`` is its native regime. SCN's code instead resizes the image so that the cells
  are 16 pixels; we never resize.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn

from benchmark.registry import SUPERPIXEL_METHODS
from methods.base import SuperpixelMethod

from benchmark.ops.cell_association import NUM_CANDIDATES, candidate_validity, coarse_size, masked_softmax
from methods.superpixels.deep_common import (
    AssociationSegmenter, EncoderDecoder, label_reconstruction_loss, pad_to_multiple, position_reconstruction_error,
)

CELL_SIZE = 16        # SCN Sec. 3: superpixel grid cell S = 16 in training
POSITION_WEIGHT = 0.003  # SCN Sec. 4 (and code): m
BASE_CHANNELS = 16    # SCN architecture: 16 channels at full resolution, doubling per level


def association_softmax(logits: torch.Tensor, cell: int) -> torch.Tensor:
    """Masked softmax of 9-channel logits over the grid of ``cell`` pixels (invalid cells exactly 0)."""
    H, W = logits.shape[-2:]
    valid = candidate_validity((H, W), coarse_size((H, W), cell), cell, logits.device)
    return masked_softmax(logits, valid)


@SUPERPIXEL_METHODS.register("scn")
class SCN(AssociationSegmenter, nn.Module, SuperpixelMethod):
    """Superpixel segmentation with a fully convolutional network.

    Args:
        base_channels: channels at full resolution (16 in SCN); smaller for fast tests.
        cell: training grid cell size (16 in SCN).
        position_weight: ``m`` of the position loss (0.003 in SCN); the term is ``m / cell * ||p - p'||``.
    """

    def __init__(self, base_channels: int = BASE_CHANNELS, cell: int = CELL_SIZE,
                 position_weight: float = POSITION_WEIGHT):
        super().__init__()
        self.trunk = EncoderDecoder(3, base_channels, levels=4)
        self.head = nn.Conv2d(self.trunk.out_channels, NUM_CANDIDATES, 3, padding=1)
        self.cell = int(cell)
        self.position_weight = float(position_weight)

    def association_logits(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> 9-channel logits ``(B, 9, H, W)``: padded for the trunk, cropped back."""
        H, W = image.shape[-2:]
        padded = pad_to_multiple(image, self.trunk.stride)
        return self.head(self.trunk(padded))[:, :, :H, :W]

    def forward(self, image: torch.Tensor, cell: Optional[int] = None) -> Dict[str, torch.Tensor]:
        """``image`` ``(B, 3, H, W)`` in [0, 1] -> ``{"assign": (B, 9, H, W), "cell": ...}``."""
        cell = self.cell if cell is None else int(cell)
        return {"assign": association_softmax(self.association_logits(image), cell), "cell": torch.tensor(cell)}

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Dict[str, torch.Tensor]
             ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        assign, cell = outputs["assign"], int(outputs["cell"])
        semantic = label_reconstruction_loss(assign, batch["labels"], cell)
        position = position_reconstruction_error(assign, cell, squared=False).mean()
        total = semantic + self.position_weight / cell * position
        return total, {"semantic": semantic.detach(), "position": position.detach()}

    def inference_logits(self, image: torch.Tensor) -> torch.Tensor:
        return self.association_logits(image)


SCN.name = "scn"
SCN.trainable = True  # trained by the engine (a checkpoint, resumable)
# Yang et al. 2020 Sec. 4 (not in ../shared/papers): Adam, lr 5e-5, batches of 8 random 208x208
# crops, 300K iterations.
SCN.paper_training = {"optimizer": "adam", "lr": 5e-5, "lr_policy": "constant", "batch_size": 8, "crop": (208, 208),
                      "iters": 300_000}
