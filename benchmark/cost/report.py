"""`dsbench flops`: the cost of a trained run (RUN/cost.csv) or of an untrained pipeline."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from benchmark.cost.pipeline import cost_rows, pipeline_cost
from benchmark.cost.timing import MemoryNotMeasurable, measure_latency, peak_memory_mib
from benchmark.data import DATASETS, build_dataset
from benchmark.engine.device import describe_device, resolve_device
from benchmark.engine.train import load_trained_pipeline
from benchmark.models import build_model
from benchmark.tracks import find_method
from benchmark.results import make_row, provenance, read_rows, write_rows
from benchmark.ops.sampling import check_size

COST_FILE = "cost.csv"


def _timed(pipeline: torch.nn.Module, size_hr: Tuple[int, int], device: torch.device) -> Dict[str, Any]:
    """Median latency (ms/image, after warm-up, CUDA-synchronised) and peak memory of one
    full-resolution image through sample -> segment -> unsample; where memory cannot be
    measured, ``not_measured`` holds the reason (a skipped row, see :func:`cost_rows`)."""
    image = torch.rand(1, 3, *size_hr, generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.zeros(1, *size_hr, dtype=torch.long, device=device)

    def step() -> None:
        with torch.inference_mode():
            pipeline(image, labels)

    timed: Dict[str, Any] = {"latency_ms": measure_latency(step, warmup=1, repeats=3, device=device)}
    try:
        timed["peak_memory_mib"] = peak_memory_mib(step, device=device)
    except MemoryNotMeasurable as exc:
        timed["not_measured"] = {"peak_memory_mib": str(exc)}
    return timed


def cost_of_run(run_dir: os.PathLike, *, device: str = "auto", latency: bool = True) -> Path:
    """Count a trained run's pipeline at its dataset's image size; writes ``RUN/cost.csv``."""
    run_dir = Path(run_dir)
    out = run_dir / COST_FILE
    train_csv = run_dir / "train.csv"
    from benchmark.engine.run_config import RunConfig

    cfg = RunConfig.load(run_dir)
    if train_csv.is_file():
        skipped = read_rows(train_csv).query("status != 'ok'")
        if len(skipped):
            write_rows(out, [make_row(cfg.identity, "macs", None, "MAC", status="skipped", stage="total",
                                      reason=str(skipped["reason"].iloc[0]), provenance=provenance("cpu", cfg.settings()))])
            return out
    torch_device = resolve_device(device)
    cfg, pipeline = load_trained_pipeline(run_dir, torch_device)
    sample = build_dataset(cfg.dataset, cfg.root, cfg.eval_split)[0]
    size_hr = tuple(sample["labels"].shape[-2:])
    labels = sample["labels"].unsqueeze(0).to(torch_device)
    cost: Dict[str, Any] = pipeline_cost(pipeline.method, pipeline.model, size_hr, cfg.resolution, labels_hr=labels)
    if latency:
        cost.update(_timed(pipeline, size_hr, torch_device))
    write_rows(out, cost_rows(cfg.identity, cost, provenance(describe_device(torch_device), cfg.settings())))
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
