"""`dsbench perf superpixel-resolution`: PCNet vs SCN inference time and peak memory at 1K, 2K, 4K
(and, for the DAG's rows, any size of SIZES).

Sizes are named by the long side, aspect 2:1 (landscape): 1K = 1024 x 512, 2K = 2048 x 1024,
4K = 4096 x 2048 (W x H). Both networks are timed on the same random image with the same grid
(cells of 16 pixels, ``n = H * W / 256``), in eval mode under ``torch.no_grad``. The weights are
untrained (seeded random initialisation): the compute and memory of a forward pass do not depend on
their values.

What is measured: ``superpixel_ids``, the network forward and the hard assignment, i.e. the part
where the two methods differ. The shared connectivity step (numpy, the same algorithm for both on a
map of the same size) is left out of the ratio and timed once at the headline size for reference.

Memory: the peak of bytes live in torch's CPU allocator during the call, above what was live when it
started, read from ``torch.profiler``'s memory events (``profile_memory=True``; each event carries
the allocator's running "Total Allocated"). Unlike the process's resident set (which glibc may keep
after frees, and whose high-water mark a process cannot reset portably) it counts exactly the
tensors a call creates, independently of what earlier calls left cached. The input image exists
before the call and is not counted. Timings are taken without the profiler.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any, Callable, Dict, List

import torch

from benchmark.errors import DsbenchError
from benchmark.perf import PERF, PerfResult, best_of
from methods.superpixels.deep_common import finish_segmentation
from methods.superpixels.pcnet import PCNet
from methods.superpixels.scn import SCN

SIZES = {"0.25K": (128, 256), "0.5K": (256, 512), "1K": (512, 1024), "2K": (1024, 2048), "4K": (2048, 4096)}  # (H, W), long side named
RESOLUTION_DATASET = "random_image"  # the rows' dataset: a seeded random image of each size
CELL = 16


def peak_allocated_bytes(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated by torch on the CPU while ``fn()`` runs, above the level at its start."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    handle, path = tempfile.mkstemp(suffix=".json")
    os.close(handle)
    try:
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    finally:
        os.unlink(path)
    memory = sorted((e for e in events if e.get("name") == "[memory]" and e["args"].get("Device Type", 0) == 0),
                    key=lambda e: e["ts"])
    if not memory:
        return 0
    start = memory[0]["args"]["Total Allocated"] - memory[0]["args"]["Bytes"]
    return int(max(e["args"]["Total Allocated"] for e in memory) - start)


def build_models(seed: int = 0):
    torch.manual_seed(seed)
    return SCN().eval(), PCNet().eval()


def measure(label: str, models, repeats: int) -> Dict[str, Any]:
    H, W = SIZES[label]
    scn, pcnet = models
    image = torch.rand(3, H, W, generator=torch.Generator().manual_seed(1))
    n = (H // CELL) * (W // CELL)
    row: Dict[str, Any] = {"size": label, "H": H, "W": W, "n_superpixels": n}
    for name, model in (("scn", scn), ("pcnet", pcnet)):
        def run(model=model):
            return model.superpixel_ids(image, n)
        row[f"{name}_s"] = best_of(run, repeats)
        row[f"{name}_peak_mb"] = peak_allocated_bytes(run) / 2 ** 20
    row["speedup"] = row["scn_s"] / row["pcnet_s"]
    row["memory_ratio"] = row["scn_peak_mb"] / row["pcnet_peak_mb"]
    return row


def resolution_rows(labels: List[str], repeats: int = 1) -> List[Dict[str, Any]]:
    """Tidy rows (:mod:`benchmark.results`) of :func:`measure` at each size: per method and size,
    ``seconds_per_image`` (median of ``repeats`` after a warm-up) and ``peak_memory_mib``."""
    from benchmark.engine.run_config import canonical_json
    from benchmark.results import make_row, provenance

    unknown = [label for label in labels if label not in SIZES]
    if unknown:
        raise DsbenchError(f"superpixel resolution: unknown size {', '.join(unknown)}; use {', '.join(SIZES)}")
    models = build_models()
    rows: List[Dict[str, Any]] = []
    for label in labels:
        measured = measure(label, models, repeats)
        for name, model in zip(("scn", "pcnet"), models):
            params = {"method": name, "options": type(model).full_options({})}
            identity = {"run_id": f"superpixel-resolution-{name}", "dataset": RESOLUTION_DATASET, "split": label,
                        "track": "superpixels", "method": name, "params": canonical_json(params), "model": "",
                        "height": measured["H"], "width": measured["W"], "seed": 0}
            origin = provenance("cpu", params)
            rows.append(make_row(identity, "seconds_per_image", measured[f"{name}_s"], "s", provenance=origin,
                                 n_superpixels=measured["n_superpixels"]))
            rows.append(make_row(identity, "peak_memory_mib", measured[f"{name}_peak_mb"], "MiB", provenance=origin,
                                 n_superpixels=measured["n_superpixels"]))
    return rows


@PERF.register("superpixel_resolution")
def superpixel_resolution_perf(quick: bool = False) -> PerfResult:
    """Headline 2K (2048 x 1024); rows 1K, 2K, 4K (``quick``: 2K only, one repeat)."""
    models = build_models()
    labels: List[str] = ["2K"] if quick else ["1K", "2K", "4K"]
    rows = [measure(label, models, repeats=1 if quick or label == "4K" else 3) for label in labels]
    head = next(r for r in rows if r["size"] == "2K")
    # the shared post-processing, for scale (identical for both methods)
    ids = models[1].superpixel_ids(torch.rand(3, head["H"], head["W"]), head["n_superpixels"])
    start = time.perf_counter()
    finish_segmentation(ids, head["n_superpixels"])
    connectivity_s = time.perf_counter() - start
    return PerfResult(
        name="superpixel_resolution",
        baseline=f"SCN (full-resolution network), {head['W']}x{head['H']}, untrained weights, CPU",
        baseline_s=head["scn_s"],
        ours_s=head["pcnet_s"],
        details={"memory_ratio": head["memory_ratio"], "scn_peak_mb": head["scn_peak_mb"],
                 "pcnet_peak_mb": head["pcnet_peak_mb"], "connectivity_s": connectivity_s,
                 "threads": torch.get_num_threads(),
                 "memory_measure": "peak torch CPU allocator bytes during the call (torch.profiler)"},
        rows=rows,
    )
