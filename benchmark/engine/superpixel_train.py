"""Training the deep superpixel networks (SSN, SCN, PCNet, HCSSN) with the engine's loop.

A superpixel run is a :class:`~benchmark.engine.run_config.RunConfig` trained by
:func:`benchmark.engine.train.train`, so it has what every run has: ``run.json``, an atomic
resumable ``checkpoint.pt``, ``model.pt`` with the training fingerprint, ``train.csv``, the run
lock, and the refusal of a folder that holds other settings. What differs is supplied here, and
reached through the superpixel track (``benchmark.tracks.SUPERPIXELS``):

* :func:`build_trainer`: the network wrapped as what the loop trains (:class:`SuperpixelTraining`:
  the method's own ``forward`` and ``loss(outputs, batch)``).
* :func:`training_samples`: the ground-truth *segments* of the train split as labels (not classes):
  BSDS500, one sample per (image, annotator) as SSN, SCN and PCNet train; a Cityscapes-layout
  dataset (synthcity), the instance-aware regions of ``benchmark.engine.superpixels``.
* :func:`superpixel_run_config`: a method's paper settings (its class's ``paper_training``) as defaults.

Run config conventions: ``model`` is ``""`` (no segmentation network), ``resolution`` and ``crop``
are the training crop (random crops at full resolution, never a resize), ``scale_range`` (1, 1)
(no rescale: the papers' SSN/SCN/HCSSN train on plain random crops), weight decay 0 (plain Adam).
Crops never pad: a padded label would be a fake segment, so a crop larger than an image is refused.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from benchmark.defaults import TRAIN_CHECKPOINT_EVERY
from benchmark.errors import DsbenchError
from benchmark.engine.run_config import RunConfig

NO_RESCALE = (1.0, 1.0)


def trainable_method(method: str) -> Any:
    """The registered class of a trainable superpixel method, or a one-line error naming them."""
    import methods  # noqa: F401  registers every superpixel method
    from benchmark.registry import SUPERPIXEL_METHODS

    trainable = sorted(k for k in SUPERPIXEL_METHODS if SUPERPIXEL_METHODS.get(k).trainable)
    if method not in SUPERPIXEL_METHODS or not SUPERPIXEL_METHODS.get(method).trainable:
        raise DsbenchError(f"superpixel method {method!r} is not trainable; train one of {', '.join(trainable)} "
                           f"(classical methods need no training: `dsbench segment-superpixels`)")
    return SUPERPIXEL_METHODS.get(method)


def superpixel_run_config(method: str, dataset: str, root: str, split: str, out: str, *,
                          iters: Optional[int] = None, batch_size: Optional[int] = None,
                          crop: Optional[Sequence[int]] = None, lr: Optional[float] = None, seed: int = 0,
                          checkpoint_every: int = TRAIN_CHECKPOINT_EVERY, device: str = "auto",
                          options: Optional[Mapping[str, Any]] = None) -> RunConfig:
    """The run config of training ``method`` on ``split``; settings not given are the paper's."""
    cls = trainable_method(method)
    cls.full_options(options)  # an unknown option is refused before anything else
    paper = cls.paper_training
    crop = tuple(paper["crop"] if crop is None else crop)
    return RunConfig(dataset=dataset, root=str(root), method=method, model="", resolution=crop, crop=crop,
                     seed=seed, out=str(out), method_options=dict(options or {}),
                     iters=paper["iters"] if iters is None else iters,
                     batch_size=paper["batch_size"] if batch_size is None else batch_size,
                     lr=paper["lr"] if lr is None else lr, weight_decay=0.0, optimizer=paper["optimizer"],
                     lr_policy=paper["lr_policy"], scale_range=NO_RESCALE, checkpoint_every=checkpoint_every,
                     train_split=split, eval_split=split, device=device)


class SuperpixelTraining(nn.Module):
    """What the engine's loop trains for a superpixel network: its own forward and loss.

    The network is the child ``model``, so ``model.pt`` loads into the bare network by the suite's
    weights loader (``benchmark.models.weights``: the ``model.`` keys of a run's pipeline).
    """

    mixed_precision = False  # SLIC distances and the association softmax stay float32 on CUDA

    def __init__(self, network: nn.Module):
        super().__init__()
        self.model = network

    @property
    def method(self) -> nn.Module:
        """The loop reads the label mode and the skip reason of the run's method here."""
        return self.model

    def training_loss(self, image: torch.Tensor, labels: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, Any]]:
        batch = {"image": image, "labels": labels}
        return self.model.loss(self.model(image), batch)


def build_trainer(cfg: RunConfig) -> SuperpixelTraining:
    return SuperpixelTraining(trainable_method(cfg.method).from_options(cfg.method_options))


class RegionSamples:
    """Samples ``{"id", "image" (3, H, W) float, "labels" (H, W) int64 segment ids}`` of a split.

    BSDS500: one sample per (image, annotator), read at once (the annotator counts are in the
    .mat files); the annotators of an image share one image tensor. Cityscapes layout: one sample
    per image, read when asked (the engine caches them).
    """

    def __init__(self, dataset: str, root: str, split: str):
        from benchmark.engine.superpixels import BSDS500, cityscapes_layout_split

        self.name = f"{dataset} {split}"
        self._split = None
        self._samples: List[Dict[str, Any]] = []
        if dataset == BSDS500:
            from benchmark.engine.superpixels import iter_ground_truth

            for truth in iter_ground_truth(dataset, root, split):
                image = torch.from_numpy(np.ascontiguousarray(truth.image.transpose(2, 0, 1))).float().div_(255.0)
                self._samples += [{"id": f"{truth.image_id}-{k}", "image": image,
                                   "labels": torch.from_numpy(segmentation)}
                                  for k, segmentation in enumerate(truth.segmentations)]
        else:
            self._split = cityscapes_layout_split(dataset, root, split)
        if not len(self):
            raise DsbenchError(f"superpixel training: split {split!r} of {dataset} at {root} has no images")

    def __len__(self) -> int:
        return len(self._split) if self._split is not None else len(self._samples)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        if self._split is None:
            return self._samples[index]
        from benchmark.engine.superpixels import sample_regions

        sample = self._split[index]
        return {"id": sample["id"], "image": sample["image"], "labels": torch.from_numpy(sample_regions(sample))}

    def smallest_size(self) -> Tuple[int, int]:
        """The smallest height and width among the images (BSDS500 has both orientations)."""
        if self._split is not None:  # one size in a Cityscapes-layout split
            return tuple(int(v) for v in self[0]["image"].shape[-2:])  # type: ignore[return-value]
        sizes = [tuple(s["image"].shape[-2:]) for s in self._samples]
        return min(h for h, _ in sizes), min(w for _, w in sizes)


def training_samples(cfg: RunConfig) -> RegionSamples:
    """The run's training samples, after checking that its crop fits inside every image."""
    samples = RegionSamples(cfg.dataset, cfg.root, cfg.train_split)
    crop_h, crop_w = cfg.crop or cfg.resolution
    height, width = samples.smallest_size()
    if crop_h > height or crop_w > width:
        raise DsbenchError(f"superpixel training: crop {crop_h}x{crop_w} is larger than the {height}x{width} images "
                           f"of {samples.name}; give a crop within them (e.g. --crop "
                           f"{min(crop_h, height)}x{min(crop_w, width)}): crops never pad, a padded label "
                           f"would be a fake segment")
    return samples


def load_trained_network(run_dir: Path, method: Optional[str] = None) -> Tuple[RunConfig, nn.Module]:
    """The config and the trained network (eval mode, CPU) of a finished superpixel run."""
    from benchmark.engine.train import load_trained_pipeline

    cfg, pipeline = load_trained_pipeline(Path(run_dir), torch.device("cpu"))
    if not isinstance(pipeline, SuperpixelTraining):
        raise DsbenchError(f"{run_dir}: a run of {cfg.method!r}, not of a superpixel network; "
                           f"give a run made by `dsbench train-superpixels`")
    if method is not None and cfg.method != method:
        raise DsbenchError(f"{run_dir}: a run of {cfg.method!r}, not of {method!r}; give --method {cfg.method} "
                           f"or a run of {method}")
    return cfg, pipeline.model.eval()


__all__ = ["RegionSamples", "SuperpixelTraining", "build_trainer", "load_trained_network",
           "superpixel_run_config", "trainable_method", "training_samples"]
