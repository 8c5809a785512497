"""Latency and peak memory of one call.

* :func:`measure_latency`: median wall-clock time of ``fn()`` in milliseconds after warm-up;
  on CUDA the device is synchronised before starting and after each call so asynchronous
  kernels are timed. The caller decides about ``torch.no_grad()`` and ``eval()``.
* :func:`peak_memory_mib`: memory the call needs *on top of* what was held before it
  (weights, inputs), in MiB.
  - CUDA: ``torch.cuda.max_memory_allocated`` during the call minus the allocation before it
    (tensors only; the caching allocator's reserve is not counted).
  - CPU (Linux): the kernel's high-water mark of the process's resident set (``VmHWM`` in
    ``/proc/self/status``), reset to the current RSS just before the call (``5`` written to
    ``/proc/self/clear_refs``), minus the RSS before the call. The kernel tracks every page, so
    short allocations are not missed. First the C allocator hands its free memory back to the
    system (glibc ``malloc_trim``): otherwise memory kept from earlier calls (warm-up, the MAC
    count's forward pass) is reused without raising the RSS, and the peak reads ~0.
  - Where either step is impossible (no ``/proc`` or ``clear_refs``, as on macOS; a C library
    without ``malloc_trim``) :class:`MemoryNotMeasurable` says why: callers store the row as
    ``skipped`` with that reason, never a number that does not measure the call.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import re
import statistics
import time
from typing import Any, Callable, Union

import torch

from benchmark.errors import DsbenchError

MIB = 2 ** 20
_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
_RESET_HIGH_WATER_MARK = "5"  # proc(5): "5" resets VmHWM to the current RSS


class MemoryNotMeasurable(DsbenchError):
    """CPU peak memory cannot be measured on this system; the message is the reason."""


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


def _status_bytes(field: str) -> int:
    with open(_STATUS) as fh:
        match = re.search(rf"^{field}:\s+(\d+) kB", fh.read(), re.MULTILINE)
    if match is None:
        raise MemoryNotMeasurable(f"{_STATUS} has no {field} line")
    return int(match.group(1)) * 1024


def _release_free_heap() -> None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        raise MemoryNotMeasurable("the C library has no malloc_trim (not glibc): memory it keeps from earlier "
                                  "calls would be reused without showing in the resident set") from None
    trim(0)


def _reset_high_water_mark() -> None:
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write(_RESET_HIGH_WATER_MARK)
    except OSError as exc:
        raise MemoryNotMeasurable(f"cannot reset the resident-set high-water mark ({_CLEAR_REFS}: "
                                  f"{exc.strerror or exc.__class__.__name__})") from None


def _cpu_peak_bytes(fn: Callable[[], Any]) -> int:
    _release_free_heap()
    _reset_high_water_mark()
    before = _status_bytes("VmRSS")
    fn()
    return max(0, _status_bytes("VmHWM") - before)


def peak_memory_mib(fn: Callable[[], Any], device: Union[str, torch.device] = "cpu") -> float:
    """Peak extra memory of one call ``fn()`` in MiB (see the module docstring for the method).

    Raises :class:`MemoryNotMeasurable` (before calling ``fn``) where CPU memory cannot be measured.
    """
    if _is_cuda(device):
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return max(0, torch.cuda.max_memory_allocated(device) - before) / MIB
    return _cpu_peak_bytes(fn) / MIB
