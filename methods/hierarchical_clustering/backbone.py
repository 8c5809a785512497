"""Suzuki's hierarchical-clustering (HC) backbone: soft clustering at a ResNet's downsampling layers.

:class:`HierarchicalClusteringBackbone` wraps a model's timm ResNet :class:`~benchmark.models.Encoder`
and plugs a :class:`~methods.hierarchical_clustering.clustering.SoftClustering` module into its
last ``levels`` downsampling layers. The feed-forward path is not changed (Suzuki Sec. 3.1: "our
method does not change the feed-forward path"): the clustering reads tensors the encoder
computes anyway, through forward hooks, and returns the encoder's feature list unchanged. The
assignments of the latest call are in :attr:`HierarchicalClusteringBackbone.assignments`.

Levels (Suzuki Sec. 4.1, Fig. 5: modules are added "from conv5_x to conv2_x")
-----------------------------------------------------------------------------
==========  ==========================  ============================  =======================
level       downsampling layer          fine features (input)         seeds, stride
==========  ==========================  ============================  =======================
1           ``layer4[0]`` (conv5_x)     ``layer3`` output, stride 16  stride 32
2           ``layer3[0]`` (conv4_x)     ``layer2`` output, stride 8   stride 16
3           ``layer2[0]`` (conv3_x)     ``layer1`` output, stride 4   stride 8
4           ``maxpool`` (conv2_x)       stem output, stride 2         stride 4
==========  ==========================  ============================  =======================

``levels=L`` clusters at levels 1..L; ``L = 0`` is the plain encoder. The paper's default is 2
(conv4_x and conv5_x; Table 1, Sec. 4.2).

Sampling branch (Table 1): the first block of the stage is ``B(x) = I(x) + R(x)``. The seeds are
``identity`` = the projection shortcut ``I(x)`` (``downsample``; the stage's input itself when
the block has a plain identity shortcut, as ``layer1[0]`` of a ResNet-18), ``residual`` =
``R(x)`` before the addition (after SE, if any), or ``block`` = the block's output (the paper's
default). At level 4 the strided layer is the max-pool and the block is ``layer1[0]`` applied to
its output, so the seeds have stride 4 for every branch.

Initialisation: timm zero-initialises the last BatchNorm of every block (``zero_init_last``), so
an untrained ResNet has ``R(x) = 0``: the ``residual`` seeds are all zero (uniform assignments,
no gradient to the projections until that BN's scale moves off zero in the first step) and
``block`` equals ``identity`` at a plain-shortcut block. Trained or loaded weights do not have
this degeneracy.

DCNv2 (Appendix A, optional): ``dcn=True`` replaces the stride-2 3x3 convolution of each
clustered stage's first block by a modulated deformable convolution
(``torchvision.ops.deform_conv2d``) sharing its weight. Its offset/mask predictor starts at zero
and the mask is ``2 * sigmoid``, so before training it computes exactly the strided convolution.
The paper replaces every strided convolution but the stem's; we replace those of the clustered
stages (the ones whose outputs are seeds). Level 4 has no strided convolution (it is a max-pool).

Encoders whose stages are not laid out this way (not a timm ResNet, or dilated stages at the
requested levels) raise :class:`UnsupportedEncoderError`, a :class:`DsbenchError` whose
``skip_reason`` a caller can record.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from benchmark.errors import DsbenchError
from benchmark.models.encoder import Encoder
from methods.hierarchical_clustering.clustering import PAPER_EMBED_DIM, PAPER_TAU, STRIDE, SoftClustering

BRANCHES = ("identity", "residual", "block")
PAPER_BRANCH = "block"
PAPER_LEVELS = 2
# Stage names of a timm ResNet, the level-1 (coarsest) stage first.
STAGES_COARSEST_FIRST = ("layer4", "layer3", "layer2", "layer1")
MAX_LEVELS = len(STAGES_COARSEST_FIRST)


class UnsupportedEncoderError(DsbenchError):
    """The encoder cannot carry the HC backbone; ``skip_reason`` says why, in a few words."""

    def __init__(self, encoder_name: str, skip_reason: str):
        self.encoder_name = encoder_name
        self.skip_reason = skip_reason
        super().__init__(
            f"encoder {encoder_name!r} cannot carry the hierarchical-clustering backbone: {skip_reason}; "
            "use a timm ResNet (resnet18, resnet50, resnet10t, ...) at output_stride=32"
        )


@dataclass(frozen=True)
class ClusteringLevel:
    """One clustered downsampling layer: ``stage`` maps ``fine_stride`` pixels to ``coarse_stride`` seeds."""

    level: int
    stage: str
    fine_stride: int
    coarse_stride: int


class ModulatedDeformableConv2d(nn.Conv2d):
    """DCNv2 (Zhu et al.): a convolution whose taps move by learned offsets and are scaled by a mask.

    Same geometry and weight as the convolution it replaces (:meth:`replacing`), so checkpoint
    keys of the plain layer still load; ``offset_mask`` predicts ``2 * k * k`` offsets and
    ``k * k`` mask logits per output pixel. Zero-initialised predictor and ``mask = 2 *
    sigmoid(logits)``: at initialisation the offsets are 0 and the mask 1, i.e. the plain
    convolution (the usual ``sigmoid`` would halve the output).
    """

    @classmethod
    def replacing(cls, conv: nn.Conv2d) -> "ModulatedDeformableConv2d":
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                    dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None)
        layer.weight = conv.weight
        if conv.bias is not None:
            layer.bias = conv.bias
        return layer.to(conv.weight.device)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        taps = self.kernel_size[0] * self.kernel_size[1]
        self.offset_mask = nn.Conv2d(self.in_channels, 3 * taps, self.kernel_size, stride=self.stride,
                                     padding=self.padding, dilation=self.dilation, bias=True)
        nn.init.zeros_(self.offset_mask.weight)
        nn.init.zeros_(self.offset_mask.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import deform_conv2d

        taps = self.kernel_size[0] * self.kernel_size[1]
        offset, mask_logits = self.offset_mask(x).split([2 * taps, taps], dim=1)
        return deform_conv2d(x, offset, self.weight, self.bias, stride=self.stride, padding=self.padding,
                             dilation=self.dilation, mask=2 * torch.sigmoid(mask_logits))


def _check_levels(levels: int) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or not 0 <= levels <= MAX_LEVELS:
        raise DsbenchError(f"hc_levels={levels!r} must be an integer 0..{MAX_LEVELS} (0 = no clustering; paper: 2)")
    return levels


def _check_branch(branch: str) -> str:
    if branch not in BRANCHES:
        raise DsbenchError(f"hc_branch={branch!r} is not a sampling branch; use one of {', '.join(BRANCHES)}")
    return branch


def _residual_end(block: nn.Module) -> nn.Module:
    """The last module of a timm ResNet block's residual branch, before ``x += shortcut``."""
    if getattr(block, "se", None) is not None:
        return block.se
    return block.bn3 if hasattr(block, "bn3") else block.bn2


class _Hook:
    """A forward (pre-)hook handing one tensor of ``stage`` to the backbone.

    An object rather than a lambda so that ``copy.deepcopy(model)`` re-targets it at the copy.
    """

    def __init__(self, backbone: "HierarchicalClusteringBackbone", stage: str, role: str,
                 from_input: bool = False, clone: bool = False):
        self.backbone, self.stage, self.role = backbone, stage, role
        self.from_input, self.clone = from_input, clone

    def __call__(self, module: nn.Module, inputs, output=None) -> None:
        tensor = inputs[0] if self.from_input else output
        if self.clone:
            tensor = tensor.clone()
        if self.role == "fine":
            self.backbone._record_fine(self.stage, tensor)
        else:
            self.backbone._cluster(self.stage, tensor)


class HierarchicalClusteringBackbone(nn.Module):
    """A timm ResNet encoder that also clusters its pixels at the last ``levels`` downsampling layers.

    ``forward(image) -> features`` (exactly the wrapped encoder's list, fine to coarse); after
    it, :attr:`assignments` holds one ``(B, 9, H_l, W_l)`` assignment per clustered level,
    **coarsest first** (the order :func:`~methods.hierarchical_clustering.clustering.decode_hierarchy`
    takes) and :attr:`clustered` describes them. The wrapped encoder's ``body`` is reused (same
    module, same parameter names), so a checkpoint of the plain model loads into it.
    """

    def __init__(self, encoder: Encoder, levels: int = PAPER_LEVELS, branch: str = PAPER_BRANCH,
                 tau: float = PAPER_TAU, hard: bool = False, dcn: bool = False,
                 embed_dim: int = PAPER_EMBED_DIM):
        super().__init__()
        self.name = encoder.name
        self.output_stride = encoder.output_stride
        self.channels: List[int] = list(encoder.channels)
        self.reductions: List[int] = list(encoder.reductions)
        self.body = encoder.body
        self.levels = _check_levels(levels)
        self.branch = _check_branch(branch)
        self.dcn = bool(dcn)
        self.clustered: List[ClusteringLevel] = []
        self.clustering = nn.ModuleDict()
        self.assignments: List[torch.Tensor] = []
        self._fine: Dict[str, torch.Tensor] = {}
        self._recorded: Dict[str, torch.Tensor] = {}
        feature_names = list(self.body.feature_info.module_name())
        for level in range(1, self.levels + 1):
            stage = STAGES_COARSEST_FIRST[level - 1]
            index = self._stage_index(feature_names, stage)
            fine_stride, coarse_stride = self.reductions[index - 1], self.reductions[index]
            if coarse_stride != STRIDE * fine_stride:
                raise UnsupportedEncoderError(
                    self.name, f"{stage} does not downsample (strides {fine_stride} -> {coarse_stride}; "
                               f"output_stride={self.output_stride} dilates it), so hc_levels={self.levels} has no "
                               "strided layer to cluster at")
            self.clustered.append(ClusteringLevel(level, stage, fine_stride, coarse_stride))
            self.clustering[stage] = SoftClustering(self.channels[index - 1], self.channels[index], embed_dim=embed_dim,
                                                    tau=tau, hard=hard)
            self._attach(stage)

    # -- construction -------------------------------------------------------------------------

    def _stage_index(self, feature_names: List[str], stage: str) -> int:
        if stage not in feature_names or feature_names.index(stage) == 0:
            raise UnsupportedEncoderError(self.name, f"its features {feature_names} are not a ResNet's "
                                                     f"(no {stage} after a finer feature)")
        blocks = getattr(self.body, stage)
        first = blocks[0] if isinstance(blocks, nn.Sequential) and len(blocks) else None
        if first is None or not all(hasattr(first, a) for a in ("conv1", "bn2", "downsample")):
            raise UnsupportedEncoderError(self.name, f"{stage} is not a sequence of timm ResNet blocks")
        return feature_names.index(stage)

    def _attach(self, stage: str) -> None:
        block = getattr(self.body, stage)[0]
        # The strided layer: the block itself, except for conv2_x where it is the stem's max-pool.
        strided = block
        if stage == "layer1":
            strided = getattr(self.body, "maxpool", None)
            if not isinstance(strided, (nn.MaxPool2d, nn.AvgPool2d)):
                raise UnsupportedEncoderError(self.name, "its stem has no pooling layer before layer1 (conv2_x)")
        strided.register_forward_pre_hook(_Hook(self, stage, "fine", from_input=True))
        if self.branch == "block":
            block.register_forward_hook(_Hook(self, stage, "seeds"))
        elif self.branch == "identity" and block.downsample is not None:
            block.downsample.register_forward_hook(_Hook(self, stage, "seeds"))
        elif self.branch == "identity":
            # a plain identity shortcut: I(x) is the block's input (the max-pool's output at conv2_x)
            block.register_forward_pre_hook(_Hook(self, stage, "seeds", from_input=True))
        else:
            # The block adds the shortcut in place into R(x) right after this hook: clone, so
            # the projection (which keeps its input for backward) sees R(x), not R(x) + I(x).
            _residual_end(block).register_forward_hook(_Hook(self, stage, "seeds", clone=True))
        if self.dcn and stage != "layer1":
            self._use_deformable_downsampling(stage, block)

    def _use_deformable_downsampling(self, stage: str, block: nn.Module) -> None:
        for name in ("conv1", "conv2"):
            conv = getattr(block, name, None)
            if isinstance(conv, nn.Conv2d) and conv.stride == (2, 2) and conv.kernel_size == (3, 3):
                setattr(block, name, ModulatedDeformableConv2d.replacing(conv))
                return
        raise UnsupportedEncoderError(self.name, f"{stage}[0] has no stride-2 3x3 convolution to make deformable")

    # -- forward ------------------------------------------------------------------------------

    def _record_fine(self, stage: str, fine: torch.Tensor) -> None:
        self._fine[stage] = fine

    def _cluster(self, stage: str, seeds: torch.Tensor) -> None:
        fine = self._fine.pop(stage, None)
        if fine is None:
            raise RuntimeError(f"HC backbone: seeds of {stage} arrived before its fine features")
        self._recorded[stage] = self.clustering[stage](fine, seeds)

    def forward(self, image: torch.Tensor) -> List[torch.Tensor]:
        self._fine.clear()
        self._recorded.clear()
        try:
            features = list(self.body(image))
            self.assignments = [self._recorded.pop(c.stage) for c in self.clustered]
        finally:
            self._fine.clear()
            self._recorded.clear()
        return features

    def take_assignments(self) -> List[Tuple[ClusteringLevel, torch.Tensor]]:
        """The latest call's ``(level, assignment)`` pairs, coarsest first; forgets them (frees memory)."""
        pairs = list(zip(self.clustered, self.assignments))
        self.assignments = []
        return pairs


def plug_into(model: nn.Module, levels: int = PAPER_LEVELS, branch: str = PAPER_BRANCH, tau: float = PAPER_TAU,
              hard: bool = False, dcn: bool = False) -> HierarchicalClusteringBackbone:
    """Replace ``model.encoder`` (a timm ResNet :class:`Encoder`) by the HC backbone around it; returns it."""
    encoder = getattr(model, "encoder", None)
    if isinstance(encoder, HierarchicalClusteringBackbone):
        raise DsbenchError("the model already has a hierarchical-clustering backbone")
    if not isinstance(encoder, Encoder):
        raise DsbenchError(f"{type(model).__name__} has no timm encoder (model.encoder) to plug clustering into")
    model.encoder = HierarchicalClusteringBackbone(encoder, levels, branch, tau=tau, hard=hard, dcn=dcn)
    return model.encoder


def hc_skip_reason(encoder_name: str, levels: int = PAPER_LEVELS, output_stride: int = 32) -> Optional[str]:
    """None if ``encoder_name`` can carry ``levels`` clustering levels, else the reason it cannot."""
    try:
        HierarchicalClusteringBackbone(Encoder(encoder_name, output_stride), levels)
    except UnsupportedEncoderError as exc:
        return exc.skip_reason
    return None
