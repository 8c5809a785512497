"""The contracts of the suite's three tracks (benchmark.tracks) and the steps a family declares.

* :class:`DownsamplingMethod` (input downsampling, registry ``METHODS``): below.
* :class:`NetworkDownsamplingMethod` (network downsampling, ``NETWORK_METHODS``): a model wrapper
  with the same feed-forward path and another way to recover resolution; the input is sampled
  uniformly (usually at full resolution: the network downsamples inside).
* :class:`SuperpixelMethod` (superpixels, ``SUPERPIXEL_METHODS``): ``segment(image, n) -> labels``.

The input-downsampling contract:

A method turns a high-resolution image into a sampling grid (``sampler``), says how labels are
sampled on that grid (``label_mode``) and how low-res predictions go back to full resolution
(``unsample_mode``), and gives the training loss. Its hyperparameters are one dataclass
(``Config``). A method is an ``nn.Module`` so that learned samplers (auxiliary nets,
deformation modules) train, checkpoint and count FLOPs with the segmentation network.
"""
from __future__ import annotations

import abc
import dataclasses
import inspect
from typing import Any, Callable, ClassVar, Dict, List, Mapping, Optional, Tuple, Type

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.ops.sampling import IGNORE_INDEX, Size, resample


@dataclasses.dataclass(frozen=True)
class Preparation:
    """A step a method needs once per dataset before its segmentation networks train (Marin's
    auxiliary net). ``run(dataset, root, out, **settings)`` writes the artifact ``out`` (one
    file) and returns a summary; the method option ``option`` then points at it. ``defaults``
    lists every setting (the workflow config's ``prepare:`` entries override them; any other
    key is an error). Run by ``dsbench prepare METHOD`` and the workflow's ``prepare`` rule."""

    name: str                                 # the artifact's name: <dataset>-<label>-<name>/<name>.pt
    option: str                               # the method option that receives its path
    run: Callable[..., Dict[str, Any]]
    defaults: Mapping[str, Any]

    def settings(self, overrides: Optional[Mapping[str, Any]] = None, where: str = "prepare") -> Dict[str, Any]:
        """The defaults updated by ``overrides``; an unknown key is a one-line error naming ``where``."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise DsbenchError(f"{where}: unknown setting(s) {', '.join(unknown)} for the {self.name} step; "
                               f"its settings are {', '.join(sorted(self.defaults))}")
        return {**self.defaults, **overrides}


@dataclasses.dataclass(frozen=True)
class Study:
    """A dataset-level study a method family declares (no network: Alcover's priors, Marin's Fig 3
    sampling points). ``run(args)`` writes tidy rows to ``args.out``; every study takes
    ``--dataset``, ``--root`` and ``--out``, and ``add_arguments`` adds its own options (with
    defaults). Registered in ``benchmark.registry.STUDIES``; run by ``dsbench study NAME`` and
    the workflow's ``study`` rule for every study of a method in the matrix."""

    name: str
    help: str
    run: Callable[[Any], Any]
    add_arguments: Callable[[Any], None] = lambda parser: None


@dataclasses.dataclass
class MethodConfig:
    """Hyperparameters shared by all methods; subclasses add their own fields."""

    image_mode: str = "bilinear"  # how the colour image is resampled on the grid


class DownsamplingMethod(nn.Module, abc.ABC):
    name: ClassVar[str] = ""
    Config: ClassVar[Type[MethodConfig]] = MethodConfig
    label_mode: str = "nearest"
    unsample_mode: str = "bilinear"
    # True for samplers computed from ground truth (e.g. simulated edge-based): they may only
    # see labels during training, and evaluation must not pass them.
    uses_labels_at_train: ClassVar[bool] = False
    # True only for oracle studies whose sampler needs ground truth at evaluation too.
    uses_labels_at_eval: ClassVar[bool] = False
    # True when the sampler's parameters are trained with the network (Jin's deformation module):
    # its grid exists only in a trained run, so training-free measures (`dsbench intrinsic`) decline it.
    learned_sampler: ClassVar[bool] = False
    # The track this method belongs to (benchmark.tracks); every DownsamplingMethod is an input resampler.
    track: ClassVar[str] = "input_downsampling"
    # A step to run once per dataset before training (its artifact feeds an option), or None.
    preparation: ClassVar[Optional[Preparation]] = None
    # Names of the dataset studies (STUDIES) that go with this method in a reproduction.
    studies: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, config: Optional[MethodConfig] = None, **overrides: Any):
        super().__init__()
        config = config or self.Config()
        if overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        # Per-class weights (K,) of the training loss, set by the trainer (RunConfig.class_weights);
        # None: unweighted. A plain attribute, not a buffer: checkpoints stay as they were.
        self.loss_class_weights: Optional[torch.Tensor] = None

    @classmethod
    def from_options(cls, options: Optional[Mapping[str, Any]] = None) -> "DownsamplingMethod":
        """Build from a plain mapping (config file, CLI); unknown keys are a user error."""
        cls.full_options(options)  # the one check of the keys
        return cls(cls.Config(**dict(options or {})))

    def options(self) -> Dict[str, Any]:
        return dataclasses.asdict(self.config)

    @classmethod
    def full_options(cls, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Every option with its value (defaults included) for ``options``, without building the
        method (which may load checkpoints); unknown keys are the same error as :meth:`from_options`."""
        options = dict(options or {})
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise DsbenchError(
                f"method {cls.name!r} has no option {', '.join(unknown)}; its options are {', '.join(sorted(fields))}"
            )
        return dataclasses.asdict(cls.Config(**options))

    # -- the interface -------------------------------------------------------------------
    @abc.abstractmethod
    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Sampling grid ``(B, h, w, 2)`` for ``image_hr`` ``(B, 3, H, W)``."""

    def label_options(self) -> Dict[str, Any]:
        """Extra keyword options for ``downsample_labels`` (e.g. a soft mode's valid threshold)."""
        return {}

    def downsample_image(self, image_hr: torch.Tensor, grid_lr: torch.Tensor) -> torch.Tensor:
        """Low-res network input; resampling on the grid unless a method learns its own resizer."""
        return resample(image_hr, grid_lr, self.config.image_mode)

    def loss(self, logits_lr: torch.Tensor, labels_lr: torch.Tensor, extras: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Training loss on the low-res output; default cross-entropy with ignore 255, weighted per
        class by :attr:`loss_class_weights` when the run sets them."""
        return F.cross_entropy(logits_lr.float(), labels_lr, weight=self.loss_class_weights, ignore_index=IGNORE_INDEX)

    def skip_reason(self, *, dataset: str, model: str, size_lr: Size, size_hr: Optional[Size] = None) -> Optional[str]:
        """Why this method declines a setting (recorded as a ``skipped`` row), or None."""
        return None

    def extra_loss_terms(self) -> Dict[str, torch.Tensor]:
        """Auxiliary losses computed during the last ``sampler`` call (e.g. an edge loss)."""
        return {}

    def evaluation_rows(self, pipeline: nn.Module, dataset: Any, identity: Mapping[str, Any],
                        provenance: Mapping[str, Any]) -> List[Dict[str, Any]]:
        """Tidy rows of the method's own that the evaluation of a trained run stores beside its
        metrics (e.g. Suzuki's cluster map of one image, for Fig. 3); none by default."""
        return []


class NetworkDownsamplingMethod(DownsamplingMethod):
    """Network downsampling (e.g. Suzuki's hierarchical clustering): :meth:`wrap` takes a
    segmentation model built on a timm encoder and returns one with the same feed-forward path
    and a different way of recovering resolution. It trains and evaluates through the same
    engine, metrics and cost as input downsampling; its own sampler is the uniform grid."""

    track: ClassVar[str] = "network_downsampling"

    def sampler(self, image_hr: torch.Tensor, size_lr: Size, labels_hr: Optional[torch.Tensor] = None) -> torch.Tensor:
        from benchmark.ops.sampling import uniform_grid

        return uniform_grid(image_hr.shape[0], size_lr, image_hr.device, image_hr.dtype)

    @abc.abstractmethod
    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` with this method's way of recovering resolution (same parameters for its
        feed-forward path, plus the method's own); maps ``(B, 3, h, w) -> (B, K, h, w)``."""


class SuperpixelMethod(abc.ABC):
    """Superpixels: an image ``(3, H, W)`` float in [0, 1] and a requested count -> a label map
    ``(H, W)`` int64, ids contiguous from 0, every superpixel one 4-connected component
    (``methods.superpixels.connectivity``). The count is a request: the measured number is what
    the suite stores and plots. ``trainable`` members are ``nn.Module``s trained by the engine."""

    name: ClassVar[str] = ""
    track: ClassVar[str] = "superpixels"
    trainable: ClassVar[bool] = False
    # What the engine's training loop (benchmark.engine.train) asks of a trainable member:
    # ground-truth segment ids are resampled by nearest only (ids are never interpolated).
    label_mode: ClassVar[str] = "nearest"
    # A trainable member's paper settings (optimizer, lr, lr_policy, batch_size, crop, iters): what
    # a run gets where the command line or the config gives none (benchmark.engine.superpixel_train).
    paper_training: ClassVar[Mapping[str, Any]] = {}

    def label_options(self) -> Dict[str, Any]:
        """No options: nearest resampling of segment ids has none."""
        return {}

    def skip_reason(self, **_: Any) -> Optional[str]:
        """A superpixel network trains on any dataset and crop (the crop is checked by the trainer)."""
        return None

    @classmethod
    def option_defaults(cls) -> Dict[str, Any]:
        """Every option with its default: the constructor's keyword parameters that have one."""
        return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}

    @classmethod
    def full_options(cls, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Every option with its value (defaults included) for ``options``, without building the
        method; an unknown key is a one-line error listing the method's options."""
        defaults = cls.option_defaults()
        unknown = sorted(set(options or {}) - set(defaults))
        if unknown:
            known = ", ".join(sorted(defaults)) or "none"
            raise DsbenchError(f"superpixel method {cls.name!r} has no option {', '.join(unknown)}; "
                               f"its options are {known}")
        return {**defaults, **dict(options or {})}

    @classmethod
    def from_options(cls, options: Optional[Mapping[str, Any]] = None) -> "SuperpixelMethod":
        """Build from a plain mapping (config file, CLI); unknown keys are a user error."""
        cls.full_options(options)  # the one check of the keys
        return cls(**dict(options or {}))

    @abc.abstractmethod
    def segment(self, image: torch.Tensor, n_superpixels: int) -> torch.Tensor:
        """``(3, H, W)`` in [0, 1] -> ``(H, W)`` int64 superpixel ids."""
