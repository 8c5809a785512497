"""Latency and peak memory of one call.

* :func:`measure_latency`: median wall-clock time of ``fn()`` in milliseconds after warm-up;
  on CUDA the device is synchronised before starting and after each call so asynchronous
  kernels are timed. The caller decides about ``torch.no_grad()`` and ``eval()``.
* :func:`peak_memory_mib`: memory the call needs *on top of* what was held before it
  (weights, inputs), in MiB.
  - CUDA: ``torch.cuda.max_memory_allocated`` during the call minus the allocation before it
    (tensors only; the caching allocator's reserve is not counted).
  - CPU: there is no allocator statistic for CPU tensors and ``tracemalloc`` does not see
    torch's allocations, so a background thread samples the process's resident set size
    (``/proc/self/statm``, every 0.5 ms) during the call; the peak minus the RSS before the
    call is returned. It is approximate: allocations shorter than the sampling interval can be
    missed, and memory the C allocator kept from earlier calls is reused without raising the RSS
    (so measure a fresh pipeline's first call for the largest, most honest number). Without
    ``/proc`` (macOS) the ``ru_maxrss`` high-water mark is used, which only rises when the call
    exceeds the process's previous peak.
"""
from __future__ import annotations

import os
import resource
import statistics
import sys
import threading
import time
from typing import Any, Callable, Union

import torch

from benchmark.errors import DsbenchError

MIB = 2 ** 20
_STATM = "/proc/self/statm"


def _is_cuda(device: Union[str, torch.device]) -> bool:
    return torch.device(device).type == "cuda"


def measure_latency(fn: Callable[[], Any], warmup: int = 3, repeats: int = 10,
                    device: Union[str, torch.device] = "cpu") -> float:
    """Median milliseconds of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    if warmup < 0 or repeats < 1:
        raise DsbenchError(f"latency needs warmup >= 0 and repeats >= 1, got warmup={warmup}, repeats={repeats}")
    cuda = _is_cuda(device)
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times) * 1000.0)


def _rss_bytes() -> int:
    with open(_STATM) as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _maxrss_bytes() -> int:
    # ru_maxrss is KiB on Linux and bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _cpu_peak_bytes(fn: Callable[[], Any], interval_s: float) -> int:
    if not os.path.exists(_STATM):
        before = _maxrss_bytes()
        fn()
        return max(0, _maxrss_bytes() - before)
    before = _rss_bytes()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fn()
        peak[0] = max(peak[0], _rss_bytes())
    finally:
        done.set()
        sampler.join()
    return max(0, peak[0] - before)


def peak_memory_mib(fn: Callable[[], Any], device: Union[str, torch.device] = "cpu",
                    interval_s: float = 5e-4) -> float:
    """Peak extra memory of one call ``fn()`` in MiB (see the module docstring for the method)."""
    if _is_cuda(device):
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return max(0, torch.cuda.max_memory_allocated(device) - before) / MIB
    return _cpu_peak_bytes(fn, interval_s) / MIB
