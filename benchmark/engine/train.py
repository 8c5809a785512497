"""Training: one loop for every method and network, resumable, deterministic on CPU.

A run folder holds ``run.json`` (its config), ``checkpoint.pt`` (written atomically every
``checkpoint_every`` iterations, with optimiser and RNG state, so an interrupted run resumes
exactly where it stopped), ``model.pt`` (final weights; its presence means training is done) and
``train.csv`` (tidy rows: last loss, iterations per second).
"""
from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from tqdm import tqdm

from benchmark.data import DATASETS, build_dataset
from benchmark.data.transforms import train_transform
from benchmark.engine.device import describe_device, resolve_device, seed_everything
from benchmark.engine.pipeline import SegmentationPipeline
from benchmark.engine.run_config import RunConfig
from benchmark.errors import DsbenchError
from benchmark.io import atomic_write
from benchmark.results import make_row, provenance, write_rows
from benchmark.tracks import find_method

CHECKPOINT = "checkpoint.pt"
FINAL = "model.pt"


def atomic_torch_save(obj: Any, path: Path) -> None:
    """Write a checkpoint via a temporary file and rename, so a crash never leaves half a file."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_checkpoint(path: Path) -> Dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise DsbenchError(f"{path}: unreadable checkpoint ({exc.__class__.__name__}); delete it to restart training")


def build_pipeline(cfg: RunConfig) -> SegmentationPipeline:
    """Method + network for a run config (also used by evaluate and flops)."""
    track, _ = find_method(cfg.method)  # the run's track builds what it needs
    return track.build_pipeline(cfg)


class CachedSplit:
    """Decoded samples of a split kept in memory: synthcity splits are small, and decoding
    512x1024 PNGs every iteration would dominate CPU training time."""

    def __init__(self, dataset: Any):
        self.dataset = dataset
        self._cache: Dict[int, Dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        if index not in self._cache:
            self._cache[index] = self.dataset[index]
        return self._cache[index]


def _poly_lr(base_lr: float, it: int, total: int) -> float:
    return base_lr * (1.0 - it / max(total, 1)) ** 0.9


def _collate(samples: List[Dict[str, Any]], device: torch.device) -> Dict[str, torch.Tensor]:
    non_blocking = device.type == "cuda"
    image = torch.stack([s["image"] for s in samples]).to(device, non_blocking=non_blocking)
    labels = torch.stack([s["labels"] for s in samples]).to(device, non_blocking=non_blocking)
    return {"image": image, "labels": labels}


def train(cfg: RunConfig, *, progress: bool = True, stop_after: Optional[int] = None) -> Dict[str, Any]:
    """Train ``cfg`` into ``cfg.out``; resumes from its checkpoint, does nothing when finished.

    ``stop_after`` ends the process after that many iterations of *this call* (tests use it to
    simulate an interruption).
    """
    run_dir = Path(cfg.out)
    if (run_dir / FINAL).is_file() and (run_dir / "train.csv").is_file():
        previous = RunConfig.load(run_dir)
        if previous.training_fingerprint() != cfg.training_fingerprint():
            raise DsbenchError(f"{run_dir}: already holds a finished run with another config; use a fresh --out folder")
        return {"status": "done", "run_dir": str(run_dir)}
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed, device)
    spec = DATASETS.get(cfg.dataset)
    dataset = CachedSplit(build_dataset(cfg.dataset, cfg.root, cfg.train_split))
    pipeline = build_pipeline(cfg).to(device)
    skip = pipeline.method.skip_reason(dataset=cfg.dataset, model=cfg.model, size_lr=cfg.resolution)
    run_dir.mkdir(parents=True, exist_ok=True)
    if skip:
        cfg.save(run_dir)
        rows = [make_row(cfg.identity, "train_loss", None, "nats", status="skipped", reason=skip,
                         provenance=provenance(describe_device(device), cfg.settings()))]
        write_rows(run_dir / "train.csv", rows)
        return {"status": "skipped", "reason": skip}

    # foreach: one fused update over all tensors; bit-identical to the per-tensor loop torch picks
    # on CPU, and several times faster for networks of many small layers.
    optimizer = torch.optim.AdamW([p for p in pipeline.parameters() if p.requires_grad], lr=cfg.lr,
                                  weight_decay=cfg.weight_decay, foreach=True)
    generator = torch.Generator().manual_seed(cfg.seed)
    start_it = 0
    ckpt_path = run_dir / CHECKPOINT
    if ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        if state.get("fingerprint") != cfg.training_fingerprint():
            raise DsbenchError(f"{ckpt_path}: checkpoint of another config; delete it or use a fresh --out folder")
        pipeline.load_state_dict(state["pipeline"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start_it = int(state["iteration"])
    cfg.save(run_dir)

    use_amp = device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    # Labels follow the method's label sampler through augmentation too (soft labels stay paired
    # with the colour image's resampling: Alcover-Couso Sec IV-B).
    augment = train_transform(crop=cfg.crop, scale_range=cfg.scale_range, label_mode=pipeline.method.label_mode,
                              **({"num_classes": spec.num_classes, **pipeline.method.label_options()}
                                 if pipeline.method.label_mode != "nearest" else {}))
    pipeline.train()
    losses: List[float] = []
    timed_iters, timed_seconds = 0, 0.0
    bar = tqdm(range(start_it, cfg.iters), initial=start_it, total=cfg.iters, disable=not progress,
               desc=cfg.run_id, dynamic_ncols=True)
    done_this_call = 0
    for it in bar:
        tick = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = _poly_lr(cfg.lr, it, cfg.iters)
        indices = torch.randint(len(dataset), (cfg.batch_size,), generator=generator).tolist()
        samples = [augment(dataset[i], generator) for i in indices]
        batch = _collate(samples, device)
        autocast = torch.autocast("cuda", dtype=amp_dtype) if use_amp else contextlib.nullcontext()
        with autocast:
            loss, _ = pipeline.training_loss(batch["image"], batch["labels"])
        if not torch.isfinite(loss):
            raise DsbenchError(
                f"training loss became {loss.item()} at iteration {it + 1} of {cfg.run_id}; lower --lr or check the "
                f"labels (last good checkpoint: {ckpt_path if ckpt_path.is_file() else 'none'})")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss.detach()))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if it > start_it:  # the first iteration pays for decoding and warm-up
            timed_iters += 1
            timed_seconds += time.perf_counter() - tick
        if (it + 1) % cfg.log_every == 0 or it + 1 == cfg.iters:
            rate = timed_iters / timed_seconds if timed_seconds else float("nan")
            bar.set_postfix(loss=f"{losses[-1]:.3f}", it_s=f"{rate:.2f}", img_s=f"{rate * cfg.batch_size:.1f}")
        done_this_call += 1
        last = it + 1 == cfg.iters
        if (it + 1) % cfg.checkpoint_every == 0 or last or (stop_after is not None and done_this_call >= stop_after):
            atomic_torch_save({"pipeline": pipeline.state_dict(), "optimizer": optimizer.state_dict(),
                               "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                               "iteration": it + 1, "fingerprint": cfg.training_fingerprint()}, ckpt_path)
        if stop_after is not None and done_this_call >= stop_after and not last:
            bar.close()
            return {"status": "interrupted", "iteration": it + 1}
    bar.close()

    atomic_torch_save({"pipeline": pipeline.state_dict(), "fingerprint": cfg.training_fingerprint()}, run_dir / FINAL)
    rate = timed_iters / timed_seconds if timed_seconds else float("nan")
    prov = provenance(describe_device(device), cfg.settings())
    final_loss = sum(losses[-10:]) / len(losses[-10:]) if losses else float("nan")
    rows = []
    if math.isfinite(final_loss):
        rows.append(make_row(cfg.identity, "train_loss", final_loss, "nats", provenance=prov))
    if math.isfinite(rate):
        rows.append(make_row(cfg.identity, "train_iters_per_s", rate, "it/s", provenance=prov))
    write_rows(run_dir / "train.csv", rows)
    return {"status": "ok", "final_loss": final_loss, "iters_per_s": rate}


def load_trained_pipeline(run_dir: Path, device: torch.device) -> tuple:
    """The config and the trained pipeline of a finished run."""
    cfg = RunConfig.load(run_dir)
    final = Path(run_dir) / FINAL
    if not final.is_file():
        raise DsbenchError(f"{final}: no trained weights; run `dsbench train ... --out {run_dir}` first")
    state = load_checkpoint(final)
    cfg.weights = None  # the run's own weights replace any starting checkpoint
    pipeline = build_pipeline(cfg)
    try:
        pipeline.load_state_dict(state["pipeline"])
    except (KeyError, RuntimeError) as exc:
        raise DsbenchError(f"{final}: weights do not fit the run's model ({exc.__class__.__name__}); retrain into a fresh folder")
    return cfg, pipeline.to(device).eval()
