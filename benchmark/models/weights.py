"""Loading local checkpoints into a model (no hub, no downloads).

Accepted files (all read with ``torch.load(path, map_location="cpu", weights_only=True)``):

* a raw ``state_dict`` (``torch.save(model.state_dict(), path)``);
* a dict with a ``"model"`` entry holding the state_dict;
* a training checkpoint with a ``"pipeline"`` entry (``benchmark.engine``): its ``model.*`` keys.

A ``module.`` prefix (DataParallel / DDP) is stripped. Loading is strict: a missing,
unexpected or mis-shaped tensor is a :class:`DsbenchError` naming the file and the fix.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Dict

import torch
import torch.nn as nn

from benchmark.errors import DsbenchError

FIX = "pass a checkpoint saved with torch.save(model.state_dict(), PATH) from the same model, encoder and num_classes"


def _extract_state_dict(checkpoint: Any, path: Path) -> Dict[str, torch.Tensor]:
    state: Any = checkpoint
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("model"), Mapping):
        state = checkpoint["model"]
    elif isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("pipeline"), Mapping):
        state = {k[len("model."):]: v for k, v in checkpoint["pipeline"].items() if k.startswith("model.")}
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DsbenchError(f"{path}: holds no state_dict of tensors; {FIX}")
    state = dict(state)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_weights(model: nn.Module, path: os.PathLike | str) -> nn.Module:
    """Load the checkpoint at ``path`` into ``model`` (strict); returns ``model``."""
    path = Path(path)
    if not path.is_file():
        raise DsbenchError(f"{path}: weights file not found; check the path given as weights=PATH")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise DsbenchError(f"{path}: not a readable PyTorch checkpoint ({exc.__class__.__name__}); {FIX}") from None
    state = _extract_state_dict(checkpoint, path)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mis_shaped = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or mis_shaped:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", mis_shaped)):
            if keys:
                parts.append(f"{len(keys)} {what} (e.g. {keys[0]})")
        raise DsbenchError(f"{path}: does not match the model: {', '.join(parts)}; {FIX}")
    model.load_state_dict(state, strict=True)
    return model
