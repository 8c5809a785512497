"""Device choice and determinism, in one place."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from benchmark.errors import DsbenchError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU. Asking for CUDA without one is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DsbenchError(f"--device {name}: no CUDA device is visible here; use --device cpu or auto")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise DsbenchError(f"--device {name!r} unknown; use auto, cpu or cuda[:N]")
    return torch.device(name)


def seed_everything(seed: int, device: torch.device) -> None:
    """Same seed, same numbers on CPU; on CUDA, speed first (cudnn.benchmark) as the papers train.

    Training then gives each part of a run (network, method modules, batches, augmentations,
    forward draws) a seed of its own derived from ``seed`` (:mod:`benchmark.engine.seeding`)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        use_deterministic_kernels()


def use_deterministic_kernels() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` without its import of
    ``torch._inductor.config`` (2.5 s a process here: a sixth of a short DAG job), which it needs
    only to set the compiler's flag, and nothing here compiles.
    The ATen flag, the one that picks the kernels, is set the same; the public call is the fallback."""
    set_aten_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_aten_flag is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        set_aten_flag(True, warn_only=True)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"


def memory_bytes(device: torch.device) -> int:
    """Total memory of ``device`` in bytes (GPU memory for CUDA, physical RAM for the CPU); 0
    when the platform does not say (callers then skip checks that need it)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or the name is unknown
        return 0
