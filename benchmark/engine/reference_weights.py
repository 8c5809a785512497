"""Committed reference weights: evaluation rows that do not depend on training.

CPU training is reproducible on one machine, not across CPU models (see benchmark.regress), so
the regression gate cannot compare trained accuracy tightly. It can compare *evaluation*
tightly: a forward pass rounds differently on another CPU by ~1e-6, far below an argmax flip
for almost every pixel. So the CI reference ships a few trained runs' weights (the networks
and any checkpoint file a method option points to, e.g. an auxiliary net), stored as float16
to halve their size, and the ci DAG evaluates exactly those weights: the rows catch any change
in samplers, networks, unsamplers and metrics with the tight tolerances of untrained code.

Bundle layout (``results/reference/ci_weights/``)::

    <run_id>/run.json      the run's config; root and out blank, option files by bare name
    <run_id>/model.pt      the run's final checkpoint, floating tensors as float16
    <run_id>/<file>        every file a method option named (e.g. aux.pt), floats as float16
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from benchmark.engine.run_config import RUN_FILE, RunConfig
from benchmark.engine.train import FINAL, atomic_torch_save, load_checkpoint
from benchmark.errors import DsbenchError

FLOAT16_MAX = 65504.0


def _to_dtype(obj: Any, dtype: torch.dtype, source: Path) -> Any:
    """Every floating tensor in a nested checkpoint converted to ``dtype``."""
    if isinstance(obj, torch.Tensor):
        if not obj.is_floating_point():
            return obj
        if dtype == torch.float16 and obj.numel() and float(obj.abs().max()) > FLOAT16_MAX:
            raise DsbenchError(f"{source}: a weight exceeds the float16 range; these weights cannot be bundled")
        return obj.to(dtype)
    if isinstance(obj, dict):
        return {k: _to_dtype(v, dtype, source) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_dtype(v, dtype, source) for v in obj)
    return obj


def _option_files(cfg: RunConfig) -> Dict[str, Path]:
    """Method options whose value names an existing file (checkpoints the method loads)."""
    return {key: Path(value) for key, value in cfg.method_options.items()
            if isinstance(value, str) and value and Path(value).is_file()}


def export_weights(run_dirs: Sequence[os.PathLike], out_dir: os.PathLike) -> List[Path]:
    """Bundle the final weights of ``run_dirs`` into ``out_dir`` (replacing what was there)."""
    out_dir = Path(out_dir)
    bundles = []
    staging = out_dir.with_name(f".{out_dir.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for run_dir in map(Path, run_dirs):
            cfg = RunConfig.load(run_dir)
            final = run_dir / FINAL
            if not final.is_file():
                raise DsbenchError(f"{final}: no trained weights to bundle; finish the run first")
            bundle = staging / cfg.run_id
            bundle.mkdir(parents=True)
            for key, path in _option_files(cfg).items():
                blob = torch.load(path, map_location="cpu", weights_only=True)
                atomic_torch_save(_to_dtype(blob, torch.float16, path), bundle / path.name)
                cfg.method_options[key] = path.name
            atomic_torch_save(_to_dtype(load_checkpoint(final), torch.float16, final), bundle / FINAL)
            cfg.root, cfg.out = "", ""
            cfg.save(bundle)
            bundles.append(out_dir / cfg.run_id)
        if not bundles:
            raise DsbenchError("export-weights: no run folder given; name the runs to bundle")
    except BaseException:  # a failed export leaves neither a half bundle nor its staging folder
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(staging, out_dir)
    return bundles


def bundle_dirs(weights_dir: os.PathLike) -> List[Path]:
    weights_dir = Path(weights_dir)
    found = sorted(p.parent for p in weights_dir.glob(f"*/{RUN_FILE}")) if weights_dir.is_dir() else []
    if not found:
        raise DsbenchError(f"{weights_dir}: no bundled runs (*/{RUN_FILE}); create them with `dsbench export-weights`")
    return found


def materialize(bundle: Path, root: str, out_dir: Path) -> Path:
    """A run folder under ``out_dir`` holding the bundle's weights as float32, ready to evaluate."""
    cfg = RunConfig.load(bundle)
    run_dir = out_dir / cfg.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    for key, value in list(cfg.method_options.items()):
        source = bundle / str(value) if isinstance(value, str) and value else None
        if source is not None and source.is_file() and source.name != FINAL:
            blob = torch.load(source, map_location="cpu", weights_only=True)
            atomic_torch_save(_to_dtype(blob, torch.float32, source), run_dir / source.name)
            cfg.method_options[key] = str(run_dir / source.name)
    atomic_torch_save(_to_dtype(load_checkpoint(bundle / FINAL), torch.float32, bundle / FINAL), run_dir / FINAL)
    cfg.root, cfg.out = str(root), str(run_dir)
    cfg.save(run_dir)
    return run_dir


def evaluate_weights(weights_dir: os.PathLike, root: str, out_dir: os.PathLike, *, device: str = "cpu",
                     target_classes: Optional[Sequence[str]] = None, progress: bool = False) -> Path:
    """Evaluate every bundled run on ``root``; returns ``out_dir/metrics.csv`` (all their rows)."""
    from benchmark.aggregate import aggregate_files
    from benchmark.engine.evaluate import evaluate_run

    out_dir = Path(out_dir)
    csvs = [evaluate_run(materialize(bundle, root, out_dir / "runs"), device=device, target_classes=target_classes,
                         progress=progress) for bundle in bundle_dirs(weights_dir)]
    out_csv = out_dir / "metrics.csv"
    aggregate_files(csvs, out_csv)
    return out_csv


def describe_bundle(weights_dir: os.PathLike) -> str:
    """One line: how many runs, how many bytes."""
    dirs = bundle_dirs(weights_dir)
    size = sum(f.stat().st_size for d in dirs for f in d.iterdir())
    return f"{len(dirs)} runs, {size / 2**20:.1f} MiB ({json.dumps([d.name for d in dirs])})"
