"""The suite's three tracks: where a method downsamples, the contract its members fill, the
registry that holds them, and what evaluates them.

| track | contract (methods.base) | registry | evaluated by |
|---|---|---|---|
| input_downsampling | DownsamplingMethod: sampler, label and unsample modes, loss | METHODS | segmentation metrics at full resolution, cost |
| network_downsampling | NetworkDownsamplingMethod: wrap(model) -> model | NETWORK_METHODS | the same, plus latency |
| superpixels | SuperpixelMethod: segment(image, n) -> labels | SUPERPIXEL_METHODS | boundary and region metrics vs the measured n |

The engine asks a run's track to build what the run needs (:meth:`Track.build_pipeline`); it
names no method. Adding a track is a contract, a registry entry here, a runner, a rule file and
a contract test suite.
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable, Optional, Tuple

from benchmark.errors import DsbenchError
from benchmark.registry import METHODS, NETWORK_METHODS, SUPERPIXEL_METHODS, Registry

TRACKS = Registry("track")


@dataclasses.dataclass(frozen=True)
class Track:
    name: str
    summary: str
    registry: Registry
    evaluated_by: str
    # (method, model) -> the model the segmentation engine runs; None: no segmentation network.
    adapt_model: Optional[Callable[[Any, Any], Any]] = None
    # A track without a segmentation network may still train its members: run config -> what the
    # engine's loop trains (``training_loss``), and run config -> the samples it trains on.
    build_trainer: Optional[Callable[[Any], Any]] = None
    build_training_samples: Optional[Callable[[Any], Any]] = None

    def training_samples(self, cfg: Any) -> Any:
        """The samples (``image``, ``labels``) a run of this track trains on: its train split."""
        if self.build_training_samples is not None:
            return self.build_training_samples(cfg)
        from benchmark.data import build_dataset

        return build_dataset(cfg.dataset, cfg.root, cfg.train_split)

    def build_pipeline(self, cfg: Any) -> Any:
        """The engine's pipeline (method + network) for a run config of this track.

        Each part is built under its own seed derived from the run's (:mod:`benchmark.engine.seeding`):
        the network's initial weights depend on (seed, model, its options, num_classes) only, never on
        what the method builds, and the global generator is left as it was."""
        from benchmark.engine.seeding import METHOD, METHOD_WRAP, MODEL, seeded

        seed = int(getattr(cfg, "seed", 0))
        if self.build_trainer is not None:
            with seeded(seed, MODEL):  # the superpixel track: the method is the network it trains
                return self.build_trainer(cfg)
        if self.adapt_model is None:
            raise DsbenchError(f"method {cfg.method!r} is in the {self.name} track, which has no segmentation "
                               f"network; it is evaluated by {self.evaluated_by}")
        from benchmark.data import DATASETS
        from benchmark.engine.pipeline import SegmentationPipeline
        from benchmark.models import build_model
        from benchmark.ops.sampling import check_size

        check_size(cfg.resolution)
        spec = DATASETS.get(cfg.dataset)
        with seeded(seed, METHOD):
            method = self.registry.get(cfg.method).from_options(cfg.method_options)
        with seeded(seed, MODEL):
            model = build_model(cfg.model, spec.num_classes, encoder=cfg.encoder, output_stride=cfg.output_stride,
                                weights=cfg.weights, encoder_weights=getattr(cfg, "encoder_weights", None),
                                allow_hub_weights=getattr(cfg, "allow_hub_weights", False))
        with seeded(seed, METHOD_WRAP):
            model = self.adapt_model(method, model)
        return SegmentationPipeline(method, model, cfg.resolution, spec.num_classes)


INPUT_DOWNSAMPLING = TRACKS.register("input_downsampling", Track(
    "input_downsampling", "the input image is resampled on a grid before the network", METHODS,
    "segmentation metrics at full resolution and cost", adapt_model=lambda method, model: model))
NETWORK_DOWNSAMPLING = TRACKS.register("network_downsampling", Track(
    "network_downsampling", "the network recovers resolution another way (a model wrapper)", NETWORK_METHODS,
    "segmentation metrics at full resolution, cost and latency", adapt_model=lambda method, model: method.wrap(model)))
SUPERPIXELS = TRACKS.register("superpixels", Track(
    "superpixels", "an image becomes a superpixel label map (no segmentation network)", SUPERPIXEL_METHODS,
    "boundary recall/precision, ASA, UE, CO and EV against ground-truth segmentations",
    build_trainer=lambda cfg: _superpixel_training().build_trainer(cfg),
    build_training_samples=lambda cfg: _superpixel_training().training_samples(cfg)))


def _superpixel_training() -> Any:
    """The superpixel track's training pieces, imported when a run needs them (torch-heavy)."""
    from benchmark.engine import superpixel_train

    return superpixel_train


def find_method(name: str) -> Tuple[Track, Any]:
    """The track and the registered class of method ``name`` (keys are unique across tracks)."""
    import methods  # noqa: F401  registers every method of every track

    found = [(TRACKS.get(t), TRACKS.get(t).registry.get(name)) for t in TRACKS if name in TRACKS.get(t).registry]
    if len(found) > 1:
        raise DsbenchError(f"method {name!r} is registered in several tracks ({', '.join(t.name for t, _ in found)}); "
                           f"rename one")
    if not found:
        every = sorted(k for t in TRACKS for k in TRACKS.get(t).registry)
        close = difflib.get_close_matches(name, every, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(every)}"
        raise DsbenchError(f"unknown method {name!r}; {hint}")
    return found[0]
