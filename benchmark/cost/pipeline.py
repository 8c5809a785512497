"""Cost of the whole inference pipeline by stage, and its tidy rows.

Stages (each traced separately on a seeded random image, method and model in ``eval()``):

* ``sampler``: ``grid = method.sampler(image_hr, size_lr)`` then
  ``image_lr = method.downsample_image(image_hr, grid)`` (``resample`` on the grid unless the
  method learns its own resizer); the sampling stage includes the resampling. Its parameters
  are the method's (an ``nn.Module``; the uniform method has none). Oracle methods
  (``uses_labels_at_eval``) also get a label map: ``labels_hr`` or a seeded random one.
* ``network``: ``logits_lr = model(image_lr)``; the network's parameters.
* ``unsampler``: ``unsample(logits_lr, grid, size_hr, mode=method.unsample_mode)``; no parameters.
* ``unsampler_search`` (nearest unsampling only: Jin's deformation, the simulated edge-based
  samplers): the scipy k-d tree search for each pixel's nearest sampling point runs outside the
  trace, so it is an analytic estimate (:func:`benchmark.ops.nearest_unsample.search_comparisons`,
  one comparison = one MAC, as for sorting), named in the rows' ``reason`` and in the total.

Counts are per image (traced at ``batch`` images and divided by ``batch``; every counted op is
linear in the batch). ``macs`` follow :mod:`benchmark.cost.macs`; ``flops = 2 * macs``.
"""
from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from benchmark.cost.macs import MacCount, count_macs
from benchmark.errors import DsbenchError
from benchmark.results import METRICS, make_row
from benchmark.ops.sampling import Size, check_size, resample, unsample

STAGES = ("sampler", "network", "unsampler")
# Stages counted analytically, not traced: stage -> the note their rows carry.
ESTIMATED_STAGES = {
    "unsampler_search": "estimate: k-d tree nearest-point search (scipy, outside the trace), "
                        "ceil(log2 hw) x (hw + 2 HW) comparisons",
    "average": "estimate: the multi-scale mean, one MAC per logit at the label size per pass",
}


class _SamplerStage(nn.Module):
    """``image_hr (B, 3, H, W) [, labels_hr (B, H, W)] -> (image_lr (B, 3, h, w), grid (B, h, w, 2))``."""

    def __init__(self, method: nn.Module, size_lr: Size):
        super().__init__()
        self.method = method
        self.size_lr = size_lr

    def forward(self, image_hr: torch.Tensor, labels_hr: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        grid = self.method.sampler(image_hr, self.size_lr, labels_hr)
        if hasattr(self.method, "downsample_image"):  # a method may learn its own resizer
            image_lr = self.method.downsample_image(image_hr, grid)
        else:
            image_lr = resample(image_hr, grid, mode=getattr(getattr(self.method, "config", None), "image_mode", "bilinear"))
        return image_lr, grid


class _UnsamplerStage(nn.Module):
    """``(logits_lr (B, K, h, w), grid (B, h, w, 2)) -> logits_hr (B, K, H, W)``."""

    def __init__(self, size_hr: Size, mode: str):
        super().__init__()
        self.size_hr = size_hr
        self.mode = mode

    def forward(self, logits_lr: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return unsample(logits_lr, grid, self.size_hr, mode=self.mode)


def count_params(module: Optional[nn.Module]) -> int:
    """Number of parameters (shared tensors counted once)."""
    if module is None:
        return 0
    return int(sum(p.numel() for p in {id(p): p for p in module.parameters()}.values()))


@contextlib.contextmanager
def _eval_mode(*modules: nn.Module) -> Iterator[None]:
    was_training = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, mode in zip(modules, was_training):
            m.train(mode)


def _device_of(module: nn.Module) -> torch.device:
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _stage(count: MacCount, params: int, batch: int) -> Dict[str, int]:
    macs = count.total // batch
    return {"macs": int(macs), "flops": int(2 * macs), "params": int(params)}


def pipeline_cost(method: nn.Module, model: nn.Module, size_hr: Sequence[int], size_lr: Sequence[int],
                  batch: int = 1, seed: int = 0, labels_hr: Optional[torch.Tensor] = None) -> Dict[str, Any]:
    """Per-image cost of ``sample -> segment -> unsample`` at ``size_hr`` downsampled to ``size_lr``.

    Returns ``{"macs", "flops", "params": int totals, "stages": {stage: {"macs", "flops",
    "params"}}, "unsupported_ops": {op: calls}, "fraction_pixels_sampled": h*w / (H*W)}``.
    """
    size_hr, size_lr = check_size(size_hr, "size_hr"), check_size(size_lr, "size_lr")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise DsbenchError(f"batch {batch!r} must be a positive integer")
    device = _device_of(model)
    generator = torch.Generator().manual_seed(seed)
    image_hr = torch.rand(batch, 3, *size_hr, generator=generator).to(device)
    sampler_inputs: Tuple[torch.Tensor, ...] = (image_hr,)
    if getattr(method, "uses_labels_at_eval", False):
        if labels_hr is None:
            num_classes = int(getattr(model, "num_classes", 2))
            labels_hr = torch.randint(0, num_classes, (batch, *size_hr), generator=generator)
        sampler_inputs = (image_hr, labels_hr.to(device))
    sampler_stage = _SamplerStage(method, size_lr)
    unsampler_stage = _UnsamplerStage(size_hr, method.unsample_mode)
    with _eval_mode(method, model), torch.no_grad():
        counts = {"sampler": count_macs(sampler_stage, sampler_inputs)}
        image_lr, grid = sampler_stage(*sampler_inputs)
        counts["network"] = count_macs(model, (image_lr,))
        logits_lr = model(image_lr)
        counts["unsampler"] = count_macs(unsampler_stage, (logits_lr, grid))
    params = {"sampler": count_params(method), "network": count_params(model), "unsampler": 0}
    stages = {name: _stage(counts[name], params[name], batch) for name in STAGES}
    if method.unsample_mode == "nearest":
        from benchmark.ops.nearest_unsample import search_comparisons

        search = search_comparisons(size_lr[0] * size_lr[1], size_hr[0] * size_hr[1])
        stages["unsampler_search"] = {"macs": search, "flops": 2 * search, "params": 0}
    unsupported: Counter = Counter()
    for count in counts.values():
        unsupported.update(count.unsupported)
    macs = sum(s["macs"] for s in stages.values())
    return {
        "macs": int(macs),
        "flops": int(2 * macs),
        "params": int(sum(s["params"] for s in stages.values())),
        "stages": stages,
        "unsupported_ops": {op: int(n) for op, n in sorted(unsupported.items())},
        "fraction_pixels_sampled": size_lr[0] * size_lr[1] / (size_hr[0] * size_hr[1]),
    }


def multiscale_cost(method: nn.Module, model: nn.Module, size_hr: Sequence[int], size_lr: Sequence[int],
                    scales: Sequence[float], flip: bool, labels_hr: Optional[torch.Tensor] = None) -> Dict[str, Any]:
    """Per-image cost of one multi-scale prediction (:meth:`SegmentationPipeline.predict_multiscale`):
    every scale's :func:`pipeline_cost` summed, twice with ``flip`` (a mirrored pass costs what the
    pass costs), plus stage ``average``: one MAC per logit at the label size per pass. Same form as
    :func:`pipeline_cost`; ``params`` stay one pipeline's (every pass shares the weights);
    ``fraction_pixels_sampled`` sums the passes'."""
    from benchmark.engine.pipeline import scaled_size

    passes = 2 if flip else 1
    per_scale = [pipeline_cost(method, model, size_hr, scaled_size(tuple(size_lr), scale), labels_hr=labels_hr)
                 for scale in scales]
    stages: Dict[str, Dict[str, int]] = {}
    for cost in per_scale:
        for stage, numbers in cost["stages"].items():
            summed = stages.setdefault(stage, {"macs": 0, "flops": 0, "params": numbers["params"]})
            summed["macs"] += passes * numbers["macs"]
            summed["flops"] += passes * numbers["flops"]
    logits = int(getattr(model, "num_classes", 1)) * int(size_hr[0]) * int(size_hr[1])
    average = passes * len(per_scale) * logits
    stages["average"] = {"macs": average, "flops": 2 * average, "params": 0}
    unsupported: Counter = Counter()
    for cost in per_scale:
        unsupported.update({op: passes * n for op, n in cost["unsupported_ops"].items()})
    macs = sum(s["macs"] for s in stages.values())
    return {
        "macs": int(macs),
        "flops": int(2 * macs),
        "params": per_scale[0]["params"],
        "stages": stages,
        "unsupported_ops": {op: int(n) for op, n in sorted(unsupported.items())},
        "fraction_pixels_sampled": passes * sum(c["fraction_pixels_sampled"] for c in per_scale),
    }


def cost_rows(identity: Mapping[str, Any], cost: Mapping[str, Any],
              provenance: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Tidy rows (:func:`benchmark.results.make_row`) for a :func:`pipeline_cost` dict.

    ``macs``/``flops``/``params`` per stage (``sampler``, ``network``, ``unsampler``, ``total``);
    ``unsupported_ops`` per op (``class_name`` = op) plus ``class_name="all"`` with the total
    number of unsupported calls (0 when the count is complete); ``fraction_pixels_sampled``;
    and ``latency_ms`` / ``peak_memory_mib`` when the dict has them (add them from
    :func:`benchmark.cost.measure_latency` and :func:`benchmark.cost.peak_memory_mib`); a
    metric in ``cost["not_measured"]`` (``{metric: reason}``) becomes a ``skipped`` row with
    that reason.
    """
    def row(metric: str, value: Any, reason: str = "", **measurement: Any) -> Dict[str, Any]:
        return make_row(identity, metric, value, METRICS[metric], reason=reason, provenance=provenance, **measurement)

    rows = []
    estimated = [s for s in cost["stages"] if s in ESTIMATED_STAGES]
    for stage, numbers in list(cost["stages"].items()) + [("total", cost)]:
        note = ESTIMATED_STAGES.get(stage, "")
        if stage == "total" and estimated:
            note = f"includes the estimated stage(s) {', '.join(estimated)}"
        for metric in ("macs", "flops", "params"):
            rows.append(row(metric, int(numbers[metric]), stage=stage, reason=note))
    unsupported = cost.get("unsupported_ops", {})
    rows.append(row("unsupported_ops", int(sum(unsupported.values())), class_name="all"))
    rows.extend(row("unsupported_ops", int(n), class_name=op) for op, n in sorted(unsupported.items()))
    rows.append(row("fraction_pixels_sampled", float(cost["fraction_pixels_sampled"])))
    for metric in ("latency_ms", "peak_memory_mib"):
        if cost.get(metric) is not None:
            rows.append(row(metric, float(cost[metric])))
    for metric, reason in sorted(cost.get("not_measured", {}).items()):
        rows.append(row(metric, None, status="skipped", reason=reason))
    return rows
