"""PCNet: Patch Calibration Networks for high-resolution superpixels (Wang et al.).

The network sees the image downsampled 4x and predicts the 9-neighbour association map at the
full resolution: an encoder-decoder at the low resolution, then a sub-pixel convolution
(``PixelShuffle``, scale 4) produces the pixel embedding ``E`` at 4x the input size, from which a
superpixel head predicts the association ``Q`` and (training only) a super-resolution head
reconstructs the full-resolution image. Training adds the decoupled patch calibration (DPC) branch:
the same network (shared weights) on a high-resolution patch cropped around a ground-truth
boundary pixel, supervised by the dynamic binary guiding mask of eq. 4.

Numbers from the paper (place in the paper):

* input downsampled 4x; association ``9 x 4H x 4W`` from an ``H x W`` input (Sec. III, III-A,
  Sec. IV-B "down-sample it by 4 times" at inference);
* sub-pixel layer with scale factor 4 before the prediction heads (Sec. III-A, Fig. 3, ref. [31]);
* encoder of 5 blocks, each but the first downsampling 2x with a stride-2 conv; decoder restoring
  the input resolution with deconvolutions (Sec. IV-B) -> ``deep_common.EncoderDecoder(levels=4)``;
* superpixel loss eqs. 1-3: labels and coordinates pooled through ``Q`` and decoded back,
  ``CE(S', S) + ||p' - p||_2^2`` "following Yang et al." (SCN);
* local patch ``L*`` of 512 x 512 cropped from the original image, anchored on a boundary pixel
  (Sec. III-B, IV-B); dynamic guiding mask ``M = [S_L == c]``, ``c`` the class with the longest
  boundaries in the patch (eq. 4);
* super-resolution loss: L1 on the ground-truth boundaries dilated with a 16 x 16 kernel,
  ``1 / |B| * ||B . (G* - G^)||_1`` (eq. 5, Sec. III-C); training only, the SR head is discarded at
  inference (Sec. III-C end, Fig. 3);
* local discrimination loss on ``K x K`` patches of ``E`` around boundary pixels covering exactly
  two regions, ``K = 5`` (eqs. 6-7, Sec. IV-B, Fig. 11); on the global embedding only (Sec. III-C);
* total loss ``L = L_G + alpha L_L + beta L_D`` with ``alpha = 0.1``, ``beta = 0.5`` (eq. 8, Sec. IV-B),
  ``L_G = L_SP(Q_G, S_G) + L_SR(G^, G*)``, ``L_L = L_SP(Q_L, M) + L_SR(L^, L*)`` (Sec. III-A, III-B).

Where the paper is silent, our choices:

* Downsampling of the image by 4: 4 x 4 average pooling (area). Images only: label ids and
  superpixel ids are never interpolated (labels are only cropped; ids come from an argmax).
* Channels: SCN's (16 doubling to 256); embedding ``E`` has 8 channels: with the 9 logits it is the
  only full-resolution tensor, so it set the whole-image inference peak (measured at 2K on CPU,
  untrained: SCN / PCNet peak allocator memory 2.45x with 16 channels, 3.56x with 8).
* Inference (``segment``) runs the trunk once at the low resolution, then the sub-pixel layer, the
  superpixel head and the argmax on bands of 128 full-resolution rows with a 2-row low-resolution
  halo (:meth:`PCNet.banded_superpixel_ids`): the ids are those of the whole-image pass bit for
  bit, and the peak is the trunk plus one band (2K on CPU: 61 MiB instead of 266 MiB, SCN / PCNet
  15.4x). Training keeps the whole-image pass (its losses need the whole association). The sub-pixel layer is a
  3x3 conv to ``8 * 4 * 4`` channels, ``PixelShuffle(4)``, leaky ReLU; both heads are 3x3 convs; the
  SR head has no output activation.
* Grid cell 16 in training (SCN's); at inference the cell is set by ``n`` (``deep_common``).
* Inputs padded (replicate, bottom/right) to a multiple of 64 = 4 x the trunk's stride 16, outputs
  cropped back; never resized to fit.
* Position term of eq. 3 weighted by SCN's ``m / S = 0.003 / 16`` (eq. 3 prints no weight but
  follows SCN, whose weight this is); squared norm as eq. 3 writes. Both terms are means over pixels.
* The training image ``batch["image"]`` is ``G*``; ``L*`` is cropped from ``batch["full_image"]`` /
  ``batch["full_labels"]`` when the loader provides the un-resized original, else from ``G*``.
  The patch is ``min(512, H) x min(512, W)``; the anchor is a uniformly random ground-truth
  boundary pixel (4-neighbour label change), the patch centred on it and shifted inside the image.
* Eq. 4 ties between classes with equally long boundaries go to the smallest label id; ignored
  pixels (-1) stay ignored in ``M``. Boundary length of a class = the number of 4-neighbour pixel
  pairs in the patch with that class on one side and another label on the other.
* Eq. 5: ``|B|`` counts mask pixels (the L1 sums the 3 channels). The even 16 x 16 dilation window
  covers offsets -7 .. +8 around each boundary pixel.
* Eq. 6 prints ``S_f^2 + S_g^2`` with ``S_f`` already the sum of squared deviations; we read it as
  Fisher's criterion ``-||mu_f - mu_g||^2 / (S_f + S_g)`` (``S^2`` is LDA's notation for the scatter
  ``S`` defined in the text), with ``1e-6`` added to the denominator. The text's split of each class
  into two halves ``f^1, f^2`` is not used by eq. 6 and not implemented. Up to 64 patches per batch
  (``ld_patches``), drawn uniformly among boundary pixels whose window lies inside the image.
* Sampling uses the module's own seeded ``torch.Generator`` (``seed``), so training is
  reproducible independently of the global RNG.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn

from benchmark.registry import SUPERPIXEL_METHODS
from methods.base import SuperpixelMethod
import torch.nn.functional as F

from methods.superpixels.deep_common import (
    IGNORE, AssociationSegmenter, EncoderDecoder, boundary_mask, grid_cell_size, label_reconstruction_loss,
    pad_to_multiple, position_reconstruction_error, write_superpixel_ids_band,
)
from methods.superpixels.scn import BASE_CHANNELS, CELL_SIZE, POSITION_WEIGHT, association_softmax

SCALE = 4                # Sec. III-A / IV-B: input downsampled 4x, sub-pixel scale factor 4
PATCH_SIZE = 512         # Sec. IV-B: local patch L* is a 512 x 512 crop of the original image
BOUNDARY_DILATION = 16   # Sec. III-C, eq. 5: boundaries dilated with a 16 x 16 kernel
LD_PATCH = 5             # Sec. IV-B, eqs. 6-7, Fig. 11: K = 5
ALPHA = 0.1              # eq. 8, Sec. IV-B: weight of the local (DPC) branch loss
BETA = 0.5               # eq. 8, Sec. IV-B: weight of the local discrimination loss
EMBED_DIM = 8            # our choice (paper silent): channels of the embedding E (see the module docstring)
LD_PATCHES = 64          # our choice (paper silent): patches per batch in the LD loss
FISHER_EPS = 1e-6        # our choice: keeps eq. 6 finite for a collapsed patch
INFERENCE_BAND_ROWS = 128  # our choice: full-resolution rows per band of the banded inference


# --------------------------------------------------------------------------- training-time pieces


def crop_boundary_patch(image: torch.Tensor, labels: torch.Tensor, size: int,
                        generator: Optional[torch.Generator] = None
                        ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per batch item, a ``min(size, H) x min(size, W)`` crop centred on a random boundary pixel.

    Returns the image patches ``(B, 3, P, Q)``, label patches ``(B, P, Q)`` (cropped, never
    interpolated) and the patches' top-left corners ``(B, 2)``. An item without any boundary is
    cropped at its centre.
    """
    B, _, H, W = image.shape
    ph, pw = min(int(size), H), min(int(size), W)
    boundary = boundary_mask(labels).cpu()
    corners = []
    for b in range(B):
        where = boundary[b].nonzero()
        if where.shape[0]:
            pick = int(torch.randint(where.shape[0], (1,), generator=generator))
            anchor_row, anchor_col = int(where[pick, 0]), int(where[pick, 1])
        else:
            anchor_row, anchor_col = H // 2, W // 2
        top = min(max(anchor_row - ph // 2, 0), H - ph)
        left = min(max(anchor_col - pw // 2, 0), W - pw)
        corners.append((top, left))
    image_patches = torch.stack([image[b, :, t:t + ph, l:l + pw] for b, (t, l) in enumerate(corners)])
    label_patches = torch.stack([labels[b, t:t + ph, l:l + pw] for b, (t, l) in enumerate(corners)])
    return image_patches, label_patches, torch.tensor(corners)


def dynamic_guiding_mask(labels: torch.Tensor) -> torch.Tensor:
    """Eq. 4: per item, 1 where the label is the class with the longest boundary, else 0 (-1 kept)."""
    masks = []
    for item in labels:
        valid = item != IGNORE
        if not bool(valid.any()):
            masks.append(item.clone())
            continue
        classes, compact = torch.unique(item[valid], return_inverse=True)
        dense = torch.full_like(item, -1)
        dense[valid] = compact
        lengths = torch.zeros(classes.numel(), dtype=torch.long, device=item.device)
        for a, c in ((dense[1:, :], dense[:-1, :]), (dense[:, 1:], dense[:, :-1])):
            change = (a != c) & (a >= 0) & (c >= 0)
            lengths += torch.bincount(a[change], minlength=classes.numel())
            lengths += torch.bincount(c[change], minlength=classes.numel())
        longest = int(torch.argmax(lengths))  # first maximum: ties go to the smallest label id
        mask = (item == classes[longest]).long()
        masks.append(torch.where(valid, mask, torch.full_like(mask, IGNORE)))
    return torch.stack(masks)


def dilated_boundaries(labels: torch.Tensor, kernel: int = BOUNDARY_DILATION) -> torch.Tensor:
    """Eq. 5's mask ``B``: ground-truth boundaries dilated by a ``kernel x kernel`` window, ``(B, 1, H, W)``."""
    boundary = boundary_mask(labels).unsqueeze(1).float()
    before, after = (kernel - 1) // 2, kernel // 2  # even kernel: offsets -7 .. +8 for 16
    padded = F.pad(boundary, (before, after, before, after))
    return F.max_pool2d(padded, kernel_size=kernel, stride=1)


def boundary_masked_l1(target: torch.Tensor, reconstruction: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 5: ``1 / |B| * ||B . (target - reconstruction)||_1`` with ``B`` the dilated GT boundaries."""
    mask = dilated_boundaries(labels).to(target.dtype)
    return (mask * (target - reconstruction).abs()).sum() / mask.sum().clamp_min(1.0)


def local_discrimination_loss(embedding: torch.Tensor, labels: torch.Tensor, patch: int = LD_PATCH,
                              max_patches: int = LD_PATCHES, generator: Optional[torch.Generator] = None
                              ) -> torch.Tensor:
    """Eqs. 6-7: mean over sampled two-region ``patch x patch`` windows of ``-||mu_f - mu_g||^2 / (S_f + S_g)``.

    ``embedding`` ``(B, D, H, W)`` and ``labels`` ``(B, H, W)`` at the same resolution. Windows are
    centred on ground-truth boundary pixels, lie inside the image, and hold exactly two labels (no
    ignored pixel). Zero (with a graph) when no such window exists.
    """
    B, D, H, W = embedding.shape
    radius = patch // 2
    centres = boundary_mask(labels)
    centres[:, :radius] = False
    centres[:, H - radius:] = False
    centres[:, :, :radius] = False
    centres[:, :, W - radius:] = False
    where = centres.nonzero().cpu()  # (N, 3): batch, row, col
    if where.shape[0] == 0:
        return embedding.sum() * 0.0
    # draw more candidates than needed: some windows hold three or more labels
    order = torch.randperm(where.shape[0], generator=generator)[: 4 * max_patches]
    where = where[order].to(labels.device)
    offsets = torch.arange(-radius, radius + 1, device=labels.device)
    rows = (where[:, 1, None] + offsets.repeat_interleave(patch)[None, :])  # (n, K*K) row-major window
    cols = (where[:, 2, None] + offsets.repeat(patch)[None, :])
    items = where[:, 0, None].expand_as(rows)
    window_labels = labels[items, rows, cols]  # (n, K*K)
    low, high = window_labels.min(dim=1).values, window_labels.max(dim=1).values
    is_low, is_high = window_labels == low[:, None], window_labels == high[:, None]
    two_regions = (low >= 0) & (low != high) & (is_low | is_high).all(dim=1)
    keep = two_regions.nonzero()[:, 0][:max_patches]
    if keep.numel() == 0:
        return embedding.sum() * 0.0
    features = embedding.permute(0, 2, 3, 1)[items[keep], rows[keep], cols[keep]]  # (n, K*K, D)
    in_f, in_g = is_low[keep, :, None].to(features.dtype), is_high[keep, :, None].to(features.dtype)
    mean_f = (in_f * features).sum(dim=1) / in_f.sum(dim=1)
    mean_g = (in_g * features).sum(dim=1) / in_g.sum(dim=1)
    scatter_f = (in_f * (features - mean_f[:, None]) ** 2).sum(dim=(1, 2))
    scatter_g = (in_g * (features - mean_g[:, None]) ** 2).sum(dim=(1, 2))
    separation = ((mean_f - mean_g) ** 2).sum(dim=1)
    return (-separation / (scatter_f + scatter_g + FISHER_EPS)).mean()


# --------------------------------------------------------------------------- the network


@SUPERPIXEL_METHODS.register("pcnet")
class PCNet(AssociationSegmenter, nn.Module, SuperpixelMethod):
    """Patch Calibration Network: low-resolution input, full-resolution association.

    Args:
        base_channels: trunk channels at the low resolution (SCN's 16); smaller for tests.
        embed_dim: channels of the embedding ``E`` after the sub-pixel layer.
        cell: training grid cell (16).
        patch_size: side of the DPC patch ``L*`` (512, Sec. IV-B); clipped to the image.
        alpha, beta: eq. 8's weights (0.1, 0.5).
        ld_patch, ld_patches: eq. 6's window side ``K`` (5) and windows per batch (64).
        position_weight: ``m`` of eq. 3's position term, applied as ``m / cell``.
        seed: seed of the generator that draws patch anchors and LD windows.
    """

    def __init__(self, base_channels: int = BASE_CHANNELS, embed_dim: int = EMBED_DIM, cell: int = CELL_SIZE,
                 patch_size: int = PATCH_SIZE, alpha: float = ALPHA, beta: float = BETA,
                 ld_patch: int = LD_PATCH, ld_patches: int = LD_PATCHES,
                 position_weight: float = POSITION_WEIGHT, seed: int = 0):
        super().__init__()
        self.trunk = EncoderDecoder(3, base_channels, levels=4)
        self.subpixel = nn.Sequential(
            nn.Conv2d(self.trunk.out_channels, embed_dim * SCALE * SCALE, 3, padding=1),
            nn.PixelShuffle(SCALE),
            nn.LeakyReLU(0.1, inplace=True),
        )
        self.superpixel_head = nn.Conv2d(embed_dim, 9, 3, padding=1)
        self.super_resolution_head = nn.Conv2d(embed_dim, 3, 3, padding=1)
        self.cell = int(cell)
        self.patch_size = int(patch_size)
        self.alpha, self.beta = float(alpha), float(beta)
        self.ld_patch, self.ld_patches = int(ld_patch), int(ld_patches)
        self.position_weight = float(position_weight)
        self.generator = torch.Generator().manual_seed(int(seed))

    inference_band_rows = INFERENCE_BAND_ROWS  # not an option: the ids do not depend on it

    def get_extra_state(self) -> torch.Tensor:
        """The sampling generator's state travels in checkpoints, so a resumed training draws the
        patches and windows an uninterrupted one would."""
        return self.generator.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)

    @property
    def input_multiple(self) -> int:
        """Full-resolution sizes are padded to this: the scale times the trunk's stride (64)."""
        return SCALE * self.trunk.stride

    def network(self, low_resolution: torch.Tensor, super_resolve: bool) -> Dict[str, torch.Tensor]:
        """The shared network on a low-resolution input ``(B, 3, h, w)`` (multiples of 16).

        Returns ``embedding`` ``(B, D, 4h, 4w)``, ``logits`` ``(B, 9, 4h, 4w)`` and, with
        ``super_resolve``, ``reconstruction`` ``(B, 3, 4h, 4w)``.
        """
        embedding = self.subpixel(self.trunk(low_resolution))
        out = {"embedding": embedding, "logits": self.superpixel_head(embedding)}
        if super_resolve:
            out["reconstruction"] = self.super_resolution_head(embedding)
        return out

    def association_logits(self, image: torch.Tensor, super_resolve: bool) -> Dict[str, torch.Tensor]:
        """Full-resolution ``(B, 3, H, W)``: pad, downsample 4x (area), run, crop back to ``(H, W)``."""
        H, W = image.shape[-2:]
        low = F.avg_pool2d(pad_to_multiple(image, self.input_multiple), kernel_size=SCALE)
        return {name: value[..., :H, :W] for name, value in self.network(low, super_resolve).items()}

    def predict(self, image: torch.Tensor, cell: int, super_resolve: bool) -> Dict[str, torch.Tensor]:
        """:meth:`association_logits` with the logits turned into the association ``assign``."""
        out = self.association_logits(image, super_resolve)
        out["assign"] = association_softmax(out.pop("logits"), cell)
        return out

    def forward(self, image: torch.Tensor, labels: Optional[torch.Tensor] = None,
                cell: Optional[int] = None) -> Dict[str, torch.Tensor]:
        """Global branch on ``image`` (``G*``); with ``labels`` in training mode also the DPC branch.

        Returns ``assign`` ``(B, 9, H, W)``, ``embedding``, ``reconstruction`` (training) and ``cell``;
        with the DPC branch ``local`` (a dict of the patch's outputs, image and labels).
        """
        cell = self.cell if cell is None else int(cell)
        out = self.predict(image, cell, super_resolve=self.training)
        out["cell"] = torch.tensor(cell)
        if self.training and labels is not None:
            out["local"] = self.local_branch({"image": image, "labels": labels})
        return out

    def local_branch(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """DPC branch: crop ``L*`` around a boundary pixel, run the shared network on it."""
        source_image = batch.get("full_image", batch["image"])
        source_labels = batch.get("full_labels", batch["labels"])
        patch_image, patch_labels, corners = crop_boundary_patch(
            source_image, source_labels, self.patch_size, self.generator)
        out = self.predict(patch_image, self.cell, super_resolve=True)
        out.update({"image": patch_image, "labels": patch_labels, "corners": corners})
        return out

    def superpixel_loss(self, assign: torch.Tensor, labels: torch.Tensor, cell: int) -> torch.Tensor:
        """Eq. 3: label reconstruction CE + ``m / cell`` x squared position reconstruction error."""
        semantic = label_reconstruction_loss(assign, labels, cell)
        position = position_reconstruction_error(assign, cell, squared=True).mean()
        return semantic + self.position_weight / cell * position

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Dict[str, torch.Tensor]
             ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Eq. 8: ``L_G + alpha L_L + beta L_D`` (the DPC branch is run here if ``forward`` had no labels)."""
        cell = int(outputs["cell"])
        local = outputs.get("local")
        if local is None:
            local = self.local_branch(batch)
        sp_global = self.superpixel_loss(outputs["assign"], batch["labels"], cell)
        sr_global = boundary_masked_l1(batch["image"], outputs["reconstruction"], batch["labels"])
        sp_local = self.superpixel_loss(local["assign"], dynamic_guiding_mask(local["labels"]), self.cell)
        sr_local = boundary_masked_l1(local["image"], local["reconstruction"], local["labels"])
        discrimination = local_discrimination_loss(outputs["embedding"], batch["labels"], self.ld_patch,
                                                   self.ld_patches, self.generator)
        total = (sp_global + sr_global) + self.alpha * (sp_local + sr_local) + self.beta * discrimination
        parts = {"superpixel_global": sp_global, "super_resolution_global": sr_global,
                 "superpixel_local": sp_local, "super_resolution_local": sr_local,
                 "local_discrimination": discrimination}
        return total, {name: value.detach() for name, value in parts.items()}

    def inference_logits(self, image: torch.Tensor) -> torch.Tensor:
        return self.association_logits(image, super_resolve=False)["logits"]

    def banded_superpixel_ids(self, image: torch.Tensor, cell: int, band_rows: Optional[int] = None) -> torch.Tensor:
        """Hard ids ``(B, H, W)`` int64 of ``(B, 3, H, W)``: ``superpixel_ids(inference_logits(image), cell)``
        exactly, without the full-resolution embedding and logits (``(8 + 9) x H x W`` floats).

        The trunk runs once at the low resolution; the sub-pixel layer, the superpixel head and the
        argmax then run on bands of ``band_rows`` full-resolution rows (a multiple of 4), each with
        a halo of 2 low-resolution rows, which the two 3x3 convolutions need: every kept row sees
        the same inputs, and the same zero padding at the image's top and bottom, as in the
        whole-image pass. The halo rows are computed and dropped (about 2 x 8 / band_rows extra).
        """
        band_rows = self.inference_band_rows if band_rows is None else int(band_rows)
        if band_rows < SCALE or band_rows % SCALE:
            raise ValueError(f"band_rows must be a positive multiple of {SCALE}, got {band_rows}")
        H, W = image.shape[-2:]
        features = self.trunk(F.avg_pool2d(pad_to_multiple(image, self.input_multiple), kernel_size=SCALE))
        low_rows = features.shape[-2]
        ids = torch.empty((image.shape[0], H, W), dtype=torch.long, device=image.device)
        halo, step = 2, band_rows // SCALE
        for top in range(0, -(-H // SCALE), step):   # low-resolution rows; rows past H are only halo
            first, last = max(top - halo, 0), min(top + step + halo, low_rows)
            logits = self.superpixel_head(self.subpixel(features[:, :, first:last]))
            start = SCALE * (top - first)
            rows = min(SCALE * (top + step), H) - SCALE * top
            write_superpixel_ids_band(logits[:, :, start:start + rows, :W], cell, (H, W), SCALE * top, ids)
            del logits
        return ids

    @torch.no_grad()
    def superpixel_ids(self, image: torch.Tensor, n_superpixels: int) -> torch.Tensor:
        """Hard ids ``(H, W)`` before connectivity (eval mode, grid from ``n``), by bands
        (:meth:`banded_superpixel_ids`): the same ids as the whole-image pass, a fraction of its memory."""
        was_training = self.training
        self.eval()
        try:
            cell = grid_cell_size(image.shape[-2:], n_superpixels)
            return self.banded_superpixel_ids(image.unsqueeze(0), cell)[0]
        finally:
            self.train(was_training)


PCNet.name = "pcnet"
PCNet.trainable = True  # trained by the engine (a checkpoint, resumable)
# PCNet Sec. IV-B: Adam, lr 5e-5 discounted by 10 every 2K of 4K iterations, batch 8, 512x512.
PCNet.paper_training = {"optimizer": "adam", "lr": 5e-5, "lr_policy": "step", "batch_size": 8, "crop": (512, 512),
                        "iters": 4_000}
