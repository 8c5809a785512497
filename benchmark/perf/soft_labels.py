"""`dsbench perf soft_labels`: soft labels vs the naive one-hot-then-resize, time and peak memory.

Baseline: ``F.one_hot`` (int64) -> permute -> float32 -> ``F.interpolate`` (what a direct
implementation of the paper does). Ours: ``soft-area`` by weighted bincount (no one-hot) and
``soft-bilinear`` chunked over classes. Each side runs in a fresh subprocess so that its peak
resident memory (``ru_maxrss`` after the op minus after building the inputs) is its own;
torch allocations are invisible to tracemalloc. Both sides get the same seeded label map.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, Tuple

import torch
import torch.nn.functional as F

from benchmark.perf import PERF, PerfResult
from benchmark.ops.sampling import IGNORE_INDEX

_CHILD = r"""
import json, resource, sys, time
import torch, torch.nn.functional as F
approach, mode, K, H, W, h, w, threads = sys.argv[1:9]
K, H, W, h, w, threads = map(int, (K, H, W, h, w, threads))
torch.set_num_threads(threads)
from benchmark.perf.soft_labels import make_labels, naive_soft, ours_soft
labels = make_labels(K, H, W)
small = make_labels(K, 64, 64)
(naive_soft if approach == "naive" else ours_soft)(small, mode, K, (8, 8))  # warm-up: load kernels
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
out = (naive_soft if approach == "naive" else ours_soft)(labels, mode, K, (h, w))
seconds = time.perf_counter() - start
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_extra_mib": (rss1 - rss0) / 1024, "checksum": float(out.double().sum())}))
"""


def make_labels(num_classes: int, H: int, W: int, seed: int = 0) -> torch.Tensor:
    """Blocky street-like ids ``(1, H, W)``: 16x16 random blocks, 5% ignore."""
    g = torch.Generator().manual_seed(seed)
    blocks = torch.randint(0, num_classes, (1, (H + 15) // 16, (W + 15) // 16), generator=g)
    labels = blocks.repeat_interleave(16, 1).repeat_interleave(16, 2)[:, :H, :W].contiguous()
    labels[torch.rand(labels.shape, generator=g) < 0.05] = IGNORE_INDEX
    return labels


def naive_soft(labels: torch.Tensor, mode: str, num_classes: int, size: Tuple[int, int]) -> torch.Tensor:
    """The direct implementation: full one-hot (ignore as an extra class), then ``F.interpolate``."""
    classes = torch.where(labels == IGNORE_INDEX, torch.full_like(labels, num_classes), labels)
    onehot = F.one_hot(classes, num_classes + 1)[..., :num_classes].permute(0, 3, 1, 2).float()
    if mode == "soft-area":
        return F.interpolate(onehot, size=size, mode="area")
    return F.interpolate(onehot, size=size, mode="bilinear", align_corners=True)


def ours_soft(labels: torch.Tensor, mode: str, num_classes: int, size: Tuple[int, int]) -> torch.Tensor:
    from benchmark.ops.soft_labels import soft_downsample

    return soft_downsample(labels, size, mode, num_classes=num_classes, valid_threshold=0.0)


def _run_child(approach: str, mode: str, K: int, H: int, W: int, h: int, w: int, threads: int) -> Dict[str, Any]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _CHILD, approach, mode, *map(str, (K, H, W, h, w, threads))],
                          capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode != 0:
        return {"seconds": float("nan"), "peak_extra_mib": float("nan"),
                "error": (proc.stderr.strip().splitlines() or ["killed (out of memory?)"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def naive_bytes(num_classes: int, H: int, W: int) -> int:
    """Bytes the naive path allocates at full resolution: int64 one-hot (K+1 planes) + float32 copy."""
    return (num_classes + 1) * H * W * 8 + num_classes * H * W * 4


@PERF.register("soft_labels")
def soft_labels_perf(quick: bool = False, num_classes: int = 150, size: Tuple[int, int] = (2048, 2048),
                     factor: int = 8, threads: int = 0) -> PerfResult:
    """150 classes (ADE20K) at 2048x2048 downsampled 8x: soft-area headline, soft-bilinear in ``rows``.

    ``quick`` runs 512x512 (seconds instead of a minute and 7 GiB for the naive side)."""
    H, W = (512, 512) if quick else size
    h, w = H // factor, W // factor
    threads = threads or torch.get_num_threads()
    # Same numbers from both sides, checked in-process on a small map.
    small = make_labels(num_classes, 128, 96)
    agreement = {mode: float((naive_soft(small, mode, num_classes, (16, 12))
                              - ours_soft(small, mode, num_classes, (16, 12))).abs().max())
                 for mode in ("soft-area", "soft-bilinear")}
    measured = {(mode, approach): _run_child(approach, mode, num_classes, H, W, h, w, threads)
                for mode in ("soft-area", "soft-bilinear") for approach in ("naive", "ours")}
    rows = [{"mode": mode, "approach": approach, "classes": num_classes, "size": f"{H}x{W}", "out": f"{h}x{w}",
             "seconds": m["seconds"], "peak_extra_mib": m["peak_extra_mib"], **({"error": m["error"]} if "error" in m else {})}
            for (mode, approach), m in measured.items()]
    naive, ours = measured[("soft-area", "naive")], measured[("soft-area", "ours")]
    return PerfResult(
        name="soft_labels",
        baseline=f"F.one_hot + F.interpolate(area), {num_classes} classes {H}x{W} -> {h}x{w}",
        baseline_s=naive["seconds"],
        ours_s=ours["seconds"],
        details={"naive_peak_extra_mib": naive["peak_extra_mib"], "ours_peak_extra_mib": ours["peak_extra_mib"],
                 "naive_tensor_mib": naive_bytes(num_classes, H, W) / 2**20,
                 "max_abs_diff_vs_naive": agreement, "threads": threads},
        rows=rows,
    )
