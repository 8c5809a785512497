"""`dsbench flops`: the cost of a trained run (RUN/cost.csv) or of an untrained pipeline."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch

from benchmark.cost.pipeline import cost_rows, multiscale_cost, pipeline_cost
from benchmark.cost.timing import MemoryNotMeasurable, measure_latency, peak_memory_mib
from benchmark.data import DATASETS, build_dataset
from benchmark.engine.device import describe_device, resolve_device
from benchmark.engine.train import load_trained_pipeline
from benchmark.models import build_model
from benchmark.tracks import find_method
from benchmark.results import SINGLE_SCALE, make_row, protocol_suffix, provenance, read_rows, write_rows
from benchmark.ops.sampling import check_size

COST_FILE = "cost.csv"


def _timed(pipeline: torch.nn.Module, size_hr: Tuple[int, int], device: torch.device,
           scales: Sequence[float] = SINGLE_SCALE, flip: bool = False) -> Dict[str, Any]:
    """Median latency (ms/image, after warm-up, CUDA-synchronised) and peak memory of one
    full-resolution image through sample -> segment -> unsample (every pass of the ``scales`` /
    ``flip`` protocol); where memory cannot be measured, ``not_measured`` holds the reason (a
    skipped row, see :func:`cost_rows`)."""
    image = torch.rand(1, 3, *size_hr, generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.zeros(1, *size_hr, dtype=torch.long, device=device)

    def step() -> None:
        with torch.inference_mode():
            pipeline.predict_multiscale(image, labels, scales=scales, flip=flip)

    timed: Dict[str, Any] = {"latency_ms": measure_latency(step, warmup=1, repeats=3, device=device)}
    try:
        timed["peak_memory_mib"] = peak_memory_mib(step, device=device)
    except MemoryNotMeasurable as exc:
        timed["not_measured"] = {"peak_memory_mib": str(exc)}
    return timed


def cost_of_run(run_dir: os.PathLike, *, device: str = "auto", latency: bool = True,
                scales: Sequence[float] = SINGLE_SCALE, flip: bool = False) -> Path:
    """Count a trained run's pipeline at its dataset's image size; writes ``RUN/cost.csv``.

    With a multi-scale protocol (``scales`` other than (1.0,), or ``flip``) the file also holds that
    protocol's rows, under the split its metrics rows have (``val-multiscale-flip``): every pass
    counted (:func:`multiscale_cost`) and timed, so a multi-scale mIoU never pairs with one pass's cost.
    """
    run_dir = Path(run_dir)
    out = run_dir / COST_FILE
    train_csv = run_dir / "train.csv"
    from benchmark.engine.run_config import RunConfig

    from benchmark.engine.evaluate import check_eval_scales

    scales = check_eval_scales(scales)
    cfg = RunConfig.load(run_dir)
    suffix = protocol_suffix(scales, flip)
    identities = [cfg.identity] + ([dict(cfg.identity, split=cfg.eval_split + suffix)] if suffix else [])
    if train_csv.is_file():
        skipped = read_rows(train_csv).query("status != 'ok'")
        if len(skipped):
            write_rows(out, [make_row(identity, "macs", None, "MAC", status="skipped", stage="total",
                                      reason=str(skipped["reason"].iloc[0]), provenance=provenance("cpu", cfg.settings()))
                             for identity in identities])
            return out
    torch_device = resolve_device(device)
    cfg, pipeline = load_trained_pipeline(run_dir, torch_device)
    sample = build_dataset(cfg.dataset, cfg.root, cfg.eval_split)[0]
    size_hr = tuple(sample["labels"].shape[-2:])
    labels = sample["labels"].unsqueeze(0).to(torch_device)
    cost: Dict[str, Any] = pipeline_cost(pipeline.method, pipeline.model, size_hr, cfg.resolution, labels_hr=labels)
    if latency:
        cost.update(_timed(pipeline, size_hr, torch_device))
    rows = cost_rows(cfg.identity, cost, provenance(describe_device(torch_device), cfg.settings()))
    if suffix:
        protocol = multiscale_cost(pipeline.method, pipeline.model, size_hr, cfg.resolution, scales, flip,
                                   labels_hr=labels)
        if latency:
            protocol.update(_timed(pipeline, size_hr, torch_device, scales, flip))
        settings = dict(cfg.settings(), eval_scales=list(scales), eval_flip=flip)  # as the metrics rows hash it
        rows += cost_rows(identities[1], protocol, provenance(describe_device(torch_device), settings))
    write_rows(out, rows)
    return out


def cost_of_model(model: str, *, method: str, resolution: Tuple[int, int],
                  image_size: Optional[Tuple[int, int]] = None, encoder: Optional[str] = None,
                  dataset: str = "synthcity", method_options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Cost of an untrained pipeline (what users ask before training): ``{"macs", "flops",
    "params", "stages": {...}, ...}``. ``image_size`` defaults to the dataset's image size."""
    spec = DATASETS.get(dataset)
    size_lr = check_size(resolution)
    size_hr = check_size(image_size or spec.default_image_size, "image size")
    net = build_model(model, spec.num_classes, encoder=encoder)
    track, cls = find_method(method)
    sampler = cls.from_options(method_options or {})
    return pipeline_cost(sampler, track.adapt_model(sampler, net), size_hr, size_lr)
