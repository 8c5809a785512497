"""Training: one loop for every method and network, resumable, deterministic on CPU.

A run folder holds ``run.json`` (its config), ``checkpoint.pt`` (written atomically every
``checkpoint_every`` iterations, with optimiser and RNG state and the loss log, so an interrupted
run resumes exactly where it stopped and logs the same numbers; deleted once the run is
finished), ``model.pt`` (final weights; with ``train.csv`` its presence means training is done)
and ``train.csv`` (tidy rows: last loss, iterations per second). While a call trains, it holds an
exclusive lock on ``.lock`` in the folder, so two trainings never write one folder.

Seeding (:mod:`benchmark.engine.seeding`): the network, the method's own modules, the batch order,
the augmentations and the forward passes' random draws each have a seed derived from the run's,
so for one seed every method's network starts from the same weights and sees the same batches and
augmentations (paired comparisons); the three training streams travel in the checkpoint.
"""
from __future__ import annotations

import contextlib
import fcntl
import math
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from tqdm import tqdm

from benchmark.data import DATASETS, build_dataset
from benchmark.data.transforms import train_transform
from benchmark.engine.device import describe_device, memory_bytes, resolve_device, seed_everything
from benchmark.engine.pipeline import SegmentationPipeline
from benchmark.engine.run_config import RUN_FILE, RunConfig
from benchmark.engine.seeding import AUGMENT, BATCHES, part_generator, seed_forward
from benchmark.errors import DsbenchError
from benchmark.io import atomic_write
from benchmark.results import make_row, provenance, write_rows
from benchmark.tracks import find_method

CHECKPOINT = "checkpoint.pt"
FINAL = "model.pt"
ROWS = "train.csv"
LOCK = ".lock"
LOSS_WINDOW = 10  # train.csv's train_loss is the mean of the last LOSS_WINDOW iterations' losses


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


def loss_class_weights(scheme: str, samples: Any, num_classes: int) -> Optional[torch.Tensor]:
    """The training loss's per-class weights ``(K,)`` for ``scheme`` (``RunConfig.class_weights``),
    from the labelled pixels of ``samples`` (the training split, full resolution); None for ``none``.

    ``inverse_sqrt_frequency``: ``w_k = f_k^(-1/2)`` for each class's pixel frequency ``f_k``, scaled
    so that the pixel-weighted mean weight ``sum_k f_k w_k`` is 1. A class absent from the split is
    never a target and gets 0. Rare classes then draw gradient in a short schedule; the square root
    (not ``1 / f``) keeps the common classes from being unlearned.
    """
    if scheme == "none":
        return None
    counts = torch.zeros(num_classes, dtype=torch.float64)
    for i in range(len(samples)):
        ids = samples[i]["labels"].reshape(-1)
        ids = ids[(ids >= 0) & (ids < num_classes)]  # 255: unlabelled
        counts += torch.bincount(ids.long(), minlength=num_classes)[:num_classes].double()
    if counts.sum() <= 0:
        raise DsbenchError("class_weights: the training split has no labelled pixel; use class_weights: none")
    frequency = counts / counts.sum()
    weights = torch.where(frequency > 0, frequency.clamp_min(1e-300).rsqrt(), torch.zeros_like(frequency))
    return (weights / (frequency * weights).sum()).float()


STEP_DECAY = 0.1  # the ``step`` policy's factor (PCNet Sec. IV-B: "discounted by 10 every 2K" of 4K iterations)


def scheduled_lr(policy: str, base_lr: float, it: int, total: int) -> float:
    """Learning rate at iteration ``it`` of ``total``: ``poly`` (1 - it/total)^0.9 (Suzuki,
    PSPNet, DeepLab), ``cosine`` (half a cosine from ``base_lr`` to 0), ``constant`` (SSN, SCN)
    or ``step`` (``base_lr``, times :data:`STEP_DECAY` from half of the run on: PCNet's 2K of 4K)."""
    progress = it / max(total, 1)
    if policy == "cosine":
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    if policy == "constant":
        return base_lr
    if policy == "step":
        return base_lr * (STEP_DECAY if 2 * it >= total else 1.0)
    return base_lr * (1.0 - progress) ** 0.9


def build_optimizer(cfg: RunConfig, parameters: List[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """AdamW (the suite's default), SGD with momentum (Suzuki, Alcover-Couso) or Adam (SSN, SCN,
    PCNet, Suzuki's HCSSN), with the run's weight decay."""
    # foreach: one fused update over all tensors; bit-identical to the per-tensor loop torch picks
    # on CPU, and several times faster for networks of many small layers.
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               foreach=True)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    return torch.optim.AdamW(parameters, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


def _collate(samples: List[Dict[str, Any]], device: torch.device) -> Dict[str, torch.Tensor]:
    non_blocking = device.type == "cuda"
    image = torch.stack([s["image"] for s in samples]).to(device, non_blocking=non_blocking)
    labels = torch.stack([s["labels"] for s in samples]).to(device, non_blocking=non_blocking)
    return {"image": image, "labels": labels}


class RunLock:
    """Exclusive ``flock`` on ``RUN/.lock`` while a call trains into RUN; the file holds the
    holder's pid for the message. The kernel drops the lock when its process dies (even by
    kill -9), so a stale file never blocks a rerun."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self._fd: Optional[int] = None

    def acquire(self) -> "RunLock":
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise DsbenchError(f"cannot write run folder {self.run_dir}: {exc.strerror or exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                who = f"pid {holder}" if holder.isdigit() else "another process"
                raise DsbenchError(f"{self.run_dir} is being trained by {who} (lock {self.path}); "
                                   f"wait for it or use another --out") from None
            except OSError as exc:  # e.g. a file system without locks
                os.close(fd)
                raise DsbenchError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
            # The previous holder unlinks the file before unlocking: if we locked an unlinked
            # file, a third process may lock the new one, so only the file at the path counts.
            try:
                current = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # before unlocking: see acquire
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def check_memory(cfg: RunConfig, device: torch.device) -> None:
    """Refuse a resolution whose network input alone cannot be allocated on ``device``, before
    the dataset or the network exist (a 99999x99999 run would otherwise die in an allocator,
    or swap the machine to a halt). Activations need many times more: this is a floor."""
    h, w = cfg.resolution
    need = cfg.batch_size * 3 * h * w * 4  # float32 (B, 3, H, W)
    have = memory_bytes(device)
    if have and need > have:
        raise DsbenchError(
            f"resolution {h}x{w} is too large: the network input alone (batch {cfg.batch_size} x 3 x {h} x {w} "
            f"float32) needs {_gib(need)}, more than the {_gib(have)} of memory on {describe_device(device)}; "
            f"use a smaller --resolution or --batch-size")


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def _finished(run_dir: Path, cfg: RunConfig) -> bool:
    """Whether ``run_dir`` holds this run finished; a run.json of other training settings (a
    finished or a partial run) is refused before anything is written."""
    if (run_dir / RUN_FILE).is_file():
        previous = RunConfig.load(run_dir)
        if previous.training_fingerprint() != cfg.training_fingerprint():
            changes = previous.training_differences(cfg) or [
                f"training fingerprint {previous.training_fingerprint()} -> {cfg.training_fingerprint()}"]
            raise DsbenchError(f"{run_dir} holds a run with other settings: {', '.join(changes)}; "
                               f"use a fresh --out folder for another config")
    return (run_dir / FINAL).is_file() and (run_dir / ROWS).is_file()


def _was_empty(run_dir: Path) -> bool:
    """No previous run's files in ``run_dir`` (a lock file left by a killed call does not count)."""
    try:
        return set(os.listdir(run_dir)) <= {LOCK}
    except FileNotFoundError:
        return True
    except OSError:  # not a directory, unreadable: not ours to clean up
        return False


def _missing_folders(run_dir: Path) -> List[Path]:
    """The folders ``mkdir(parents=True)`` would create for ``run_dir``, deepest first."""
    missing = []
    for folder in [run_dir, *run_dir.parents]:
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    return missing


def train(cfg: RunConfig, *, progress: bool = True, stop_after: Optional[int] = None) -> Dict[str, Any]:
    """Train ``cfg`` into ``cfg.out``; resumes from its checkpoint, does nothing when finished.

    ``stop_after`` returns after that many iterations of *this call*, their checkpoint written
    (tests use it to simulate an interruption; at the last iteration it stops before model.pt,
    as a process killed between the two writes would).

    A call that fails before its first checkpoint in a folder that held no run removes what it
    wrote (run.json, the lock, the folders it created): a failed start leaves nothing behind.
    """
    run_dir = Path(cfg.out)
    device = resolve_device(cfg.device)
    check_memory(cfg, device)
    if _finished(run_dir, cfg):
        return {"status": "done", "run_dir": str(run_dir)}
    # Everything that can refuse the config runs before the folder is touched.
    seed_everything(cfg.seed, device)
    track, _ = find_method(cfg.method)
    dataset = CachedSplit(track.training_samples(cfg))
    pipeline = build_pipeline(cfg).to(device)
    skip = pipeline.method.skip_reason(dataset=cfg.dataset, model=cfg.model, size_lr=cfg.resolution)

    fresh, created = _was_empty(run_dir), _missing_folders(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(run_dir).acquire()
    except (OSError, DsbenchError) as exc:
        _remove_folders(created)
        if isinstance(exc, DsbenchError):
            raise
        reason = "a file of that name exists" if isinstance(exc, FileExistsError) else exc.strerror or exc
        raise DsbenchError(f"cannot write run folder {run_dir}: {reason}") from exc
    cleanup = False
    try:
        if _finished(run_dir, cfg):  # again under the lock: another call may have finished it meanwhile
            return {"status": "done", "run_dir": str(run_dir)}
        try:
            return _train_locked(cfg, run_dir, device, dataset, pipeline, skip, progress, stop_after)
        except BaseException:
            # Nothing worth keeping from a fresh folder until a checkpoint or the weights exist.
            cleanup = fresh and not (run_dir / CHECKPOINT).exists() and not (run_dir / FINAL).exists()
            if cleanup:
                for name in (RUN_FILE, ROWS):
                    with contextlib.suppress(FileNotFoundError):
                        (run_dir / name).unlink()
            raise
    finally:
        lock.release()
        if cleanup:
            _remove_folders(created)


def _remove_folders(folders: List[Path]) -> None:
    """Remove the folders this call created, deepest first, as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def _train_locked(cfg: RunConfig, run_dir: Path, device: torch.device, dataset: CachedSplit,
                  pipeline: SegmentationPipeline, skip: Optional[str], progress: bool,
                  stop_after: Optional[int]) -> Dict[str, Any]:
    if skip:
        cfg.save(run_dir)
        rows = [make_row(cfg.identity, "train_loss", None, "nats", status="skipped", reason=skip,
                         provenance=provenance(describe_device(device), cfg.settings()))]
        write_rows(run_dir / ROWS, rows)
        return {"status": "skipped", "reason": skip}

    if cfg.class_weights != "none":  # segmentation runs only (a superpixel dataset has no classes)
        weights = loss_class_weights(cfg.class_weights, dataset, DATASETS.get(cfg.dataset).num_classes)
        pipeline.method.loss_class_weights = weights.to(device)
    optimizer = build_optimizer(cfg, [p for p in pipeline.parameters() if p.requires_grad])
    # Three streams of their own (benchmark.engine.seeding): which samples form a batch, how each
    # is augmented, and the global generators any random draw of a forward pass uses. No forward
    # can shift the batches or the augmentations, whatever the method draws.
    generator = part_generator(cfg.seed, BATCHES)
    augment_generator = part_generator(cfg.seed, AUGMENT)
    seed_forward(cfg.seed)
    start_it = 0
    # The loss log and the timing travel in the checkpoint: a resumed run writes the train.csv
    # an uninterrupted one would (iterations per second aside, which measure the machine).
    losses: List[float] = []
    timed_iters, timed_seconds = 0, 0.0
    ckpt_path = run_dir / CHECKPOINT
    if ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        if state.get("fingerprint") != cfg.training_fingerprint():
            raise DsbenchError(f"{ckpt_path}: checkpoint of another config; delete it or use a fresh --out folder")
        pipeline.load_state_dict(state["pipeline"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        if "augment_generator" in state:
            augment_generator.set_state(state["augment_generator"])
        else:  # a checkpoint from before the streams were split drew both from one generator
            augment_generator = generator
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        start_it = int(state["iteration"])
        losses = [float(v) for v in state.get("losses", [])]  # checkpoints before the log was kept: []
        timed_iters, timed_seconds = int(state.get("timed_iters", 0)), float(state.get("timed_seconds", 0.0))
    cfg.save(run_dir)

    # A pipeline may decline mixed precision (the superpixel networks' SLIC distances and
    # association softmax need float32).
    use_amp = device.type == "cuda" and getattr(pipeline, "mixed_precision", True)
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    # Labels follow the method's label sampler through augmentation too (soft labels stay paired
    # with the colour image's resampling: Alcover-Couso Sec IV-B).
    augment = train_transform(crop=cfg.crop, scale_range=cfg.scale_range, label_mode=pipeline.method.label_mode,
                              **({"num_classes": DATASETS.get(cfg.dataset).num_classes,
                                  **pipeline.method.label_options()}
                                 if pipeline.method.label_mode != "nearest" else {}))
    pipeline.train()
    bar = tqdm(range(start_it, cfg.iters), initial=start_it, total=cfg.iters, disable=not progress,
               desc=cfg.run_id, dynamic_ncols=True)
    done_this_call = 0
    try:
        for it in bar:
            tick = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = scheduled_lr(cfg.lr_policy, cfg.lr, it, cfg.iters)
            indices = torch.randint(len(dataset), (cfg.batch_size,), generator=generator).tolist()
            samples = [augment(dataset[i], augment_generator) for i in indices]
            batch = _collate(samples, device)
            autocast = torch.autocast("cuda", dtype=amp_dtype) if use_amp else contextlib.nullcontext()
            with autocast:
                loss, _ = pipeline.training_loss(batch["image"], batch["labels"])
            if not torch.isfinite(loss):
                raise DsbenchError(
                    f"training loss became {loss.item()} at iteration {it + 1} of {cfg.run_id}; lower --lr or check "
                    f"the labels (last good checkpoint: {ckpt_path if ckpt_path.is_file() else 'none'})")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses = (losses + [float(loss.detach())])[-LOSS_WINDOW:]
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if it > start_it:  # the first iteration pays for decoding and warm-up
                timed_iters += 1
                timed_seconds += time.perf_counter() - tick
            if (it + 1) % cfg.log_every == 0 or it + 1 == cfg.iters:
                rate = timed_iters / timed_seconds if timed_seconds else float("nan")
                bar.set_postfix(loss=f"{losses[-1]:.3f}", it_s=f"{rate:.2f}", img_s=f"{rate * cfg.batch_size:.1f}")
            done_this_call += 1
            stop = stop_after is not None and done_this_call >= stop_after
            if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == cfg.iters or stop:
                # Atomic: Ctrl-C or a kill during the write leaves the previous checkpoint whole.
                rng = {"generator": generator.get_state(), "torch_rng": torch.get_rng_state()}
                if augment_generator is not generator:  # an old checkpoint's one generator stays one
                    rng["augment_generator"] = augment_generator.get_state()
                if device.type == "cuda":
                    rng["cuda_rng"] = torch.cuda.get_rng_state(device)
                atomic_torch_save({"pipeline": pipeline.state_dict(), "optimizer": optimizer.state_dict(), **rng,
                                   "iteration": it + 1, "fingerprint": cfg.training_fingerprint(),
                                   "losses": list(losses), "timed_iters": timed_iters,
                                   "timed_seconds": timed_seconds}, ckpt_path)
            if stop:
                return {"status": "interrupted", "iteration": it + 1}
    finally:
        bar.close()

    atomic_torch_save({"pipeline": pipeline.state_dict(), "fingerprint": cfg.training_fingerprint()}, run_dir / FINAL)
    rate = timed_iters / timed_seconds if timed_seconds else float("nan")
    prov = provenance(describe_device(device), cfg.settings())
    final_loss = sum(losses) / len(losses) if losses else float("nan")
    rows = []
    if math.isfinite(final_loss):
        rows.append(make_row(cfg.identity, "train_loss", final_loss, "nats", provenance=prov))
    if math.isfinite(rate):
        rows.append(make_row(cfg.identity, "train_iters_per_s", rate, "it/s", provenance=prov))
    write_rows(run_dir / ROWS, rows)
    # Finished: model.pt and train.csv are the run; the checkpoint (optimiser state, several
    # times the weights) is no longer needed by anything.
    with contextlib.suppress(FileNotFoundError):
        ckpt_path.unlink()
    return {"status": "ok", "final_loss": final_loss, "iters_per_s": rate}


def load_trained_pipeline(run_dir: Path, device: torch.device) -> tuple:
    """The config and the trained pipeline of a finished run."""
    cfg = RunConfig.load(run_dir)
    final = Path(run_dir) / FINAL
    if not final.is_file():
        raise DsbenchError(f"{final}: no trained weights; run `dsbench train ... --out {run_dir}` first")
    state = load_checkpoint(final)
    expected = cfg.training_fingerprint()
    cfg.weights = cfg.encoder_weights = None  # the run's own weights replace any starting weights
    pipeline = build_pipeline(cfg)  # first: an unknown method or model in run.json is named as such
    # The weights must come from the settings run.json describes (a run.json edited or copied
    # over after training would otherwise label one model's numbers with another's settings).
    stored = state.get("fingerprint")
    if stored != expected:
        raise DsbenchError(f"{final}: weights were trained with other settings than {Path(run_dir) / RUN_FILE} "
                           f"(training fingerprint {stored or 'missing'}, run.json says {expected}); "
                           f"retrain into a fresh folder")
    try:
        pipeline.load_state_dict(state["pipeline"])
    except (KeyError, RuntimeError) as exc:
        raise DsbenchError(f"{final}: weights do not fit the run's model ({exc.__class__.__name__}); retrain into a fresh folder")
    return cfg, pipeline.to(device).eval()
