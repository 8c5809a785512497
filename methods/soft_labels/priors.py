"""Class priors after downsampling and the prior discrepancy D_{d,c} (Alcover-Couso eq. 5, Table V).

For a downsampling strategy d (a label mode at a scale) and class c,
``D_{d,c} = p_original,c - p_d,c``, where ``p`` is the share of class c in all *valid* label
mass of the split: pixel counts for ids, summed probabilities for soft labels. Streaming: one
label map at a time, float64 accumulators, so any split size fits in memory.

Stages are named ``"{mode}@{scale:g}"`` (``nearest@0.125``, ``soft-area@0.25``, ...). A mode
may carry the suffix ``+cells`` to sample on the cell-centred grid
(:func:`benchmark.ops.soft_labels.cell_centred_grid`, the ``align_corners=False`` sampling the paper
used) instead of the suite's corner-aligned uniform grid; the original priors have stage
``original``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from benchmark.engine.run_config import canonical_json
from benchmark.errors import DsbenchError
from benchmark.registry import STUDIES
from benchmark.results import make_row, write_rows
from benchmark.ops.sampling import IGNORE_INDEX, uniform_grid
from methods.base import Study
from benchmark.ops.soft_labels import LABEL_MODES, cell_centred_grid, sample_labels

DEFAULT_SCALES: Tuple[float, ...] = (1 / 8, 1 / 4, 1 / 2)
DEFAULT_MODES: Tuple[str, ...] = ("nearest", "soft-area", "soft-bilinear", "soft-bilinear+cells")
CELLS_SUFFIX = "+cells"


def stage_name(mode: str, scale: float) -> str:
    return f"{mode}@{scale:g}"


def _parse_mode(mode: str) -> Tuple[str, bool]:
    base, cells = (mode[: -len(CELLS_SUFFIX)], True) if mode.endswith(CELLS_SUFFIX) else (mode, False)
    if base not in LABEL_MODES:
        raise DsbenchError(f"prior mode {mode!r} unknown; use one of {', '.join(LABEL_MODES)}, "
                           f"optionally with the suffix {CELLS_SUFFIX}")
    return base, cells


def scaled_size(size: Tuple[int, int], scale: float) -> Tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def class_mass(labels: torch.Tensor, num_classes: int) -> np.ndarray:
    """Per-class valid mass (float64, ``(K,)``) of ids ``(B, H, W)`` or probabilities ``(B, K, H, W)``."""
    if labels.is_floating_point():
        return labels.double().sum((0, 2, 3)).numpy()
    ids = labels[labels != IGNORE_INDEX]
    return torch.bincount(ids.reshape(-1), minlength=num_classes)[:num_classes].double().numpy()


def accumulate_priors(label_maps: Iterable[torch.Tensor], num_classes: int,
                      scales: Sequence[float] = DEFAULT_SCALES, modes: Sequence[str] = DEFAULT_MODES,
                      valid_threshold: float = 0.0) -> Tuple[Dict[str, np.ndarray], Dict[str, Optional[Tuple[int, int]]]]:
    """Class priors per stage from a stream of id maps ``(H, W)`` (or ``(B, H, W)``).

    Returns ``(priors, sizes)``: ``priors[stage]`` is a ``(K,)`` float64 array summing to 1 (or
    all-zero if no valid pixel), ``sizes[stage]`` the common ``(h, w)`` or None if it varied.
    ``valid_threshold`` defaults to 0 so that no partially-ignored mass is dropped (dropping it
    would break exact prior preservation at ignore borders).
    """
    parsed = [(mode, *_parse_mode(mode)) for mode in modes]
    for scale in scales:
        if not 0 < scale <= 1:
            raise DsbenchError(f"prior scale {scale} must be in (0, 1], e.g. 0.125")
    mass: Dict[str, np.ndarray] = {"original": np.zeros(num_classes)}
    sizes: Dict[str, Any] = {}

    def note_size(stage: str, size: Tuple[int, int]) -> None:
        sizes[stage] = size if sizes.get(stage, size) == size else None

    n_maps = 0
    for labels in label_maps:
        labels = torch.as_tensor(labels).long()
        labels = labels.unsqueeze(0) if labels.dim() == 2 else labels
        size_hr = tuple(labels.shape[-2:])
        mass["original"] += class_mass(labels, num_classes)
        note_size("original", size_hr)
        for scale in scales:
            size_lr = scaled_size(size_hr, scale)
            for mode, base, cells in parsed:
                batch = labels.shape[0]
                grid = cell_centred_grid(batch, size_lr, size_hr) if cells else uniform_grid(batch, size_lr)
                sampled = sample_labels(labels, grid, base, num_classes=num_classes, valid_threshold=valid_threshold)
                stage = stage_name(mode, scale)
                mass[stage] = mass.get(stage, np.zeros(num_classes)) + class_mass(sampled, num_classes)
                note_size(stage, size_lr)
        n_maps += 1
    if n_maps == 0:
        raise DsbenchError("no label maps to compute priors from; check the dataset root and split")
    priors = {stage: m / m.sum() if m.sum() > 0 else m for stage, m in mass.items()}
    return priors, sizes


def prior_rows(priors: Mapping[str, np.ndarray], sizes: Mapping[str, Optional[Tuple[int, int]]],
               class_names: Sequence[str], identity: Mapping[str, Any],
               provenance: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Tidy rows: ``class_frequency`` per stage and class, ``prior_discrepancy`` per downsampled stage."""
    rows: List[Dict[str, Any]] = []
    original = priors["original"]
    for stage, p in priors.items():
        size = sizes.get(stage)
        ident = dict(identity, height=size[0] if size else None, width=size[1] if size else None)
        for c, name in enumerate(class_names):
            rows.append(make_row(ident, "class_frequency", float(p[c]), "fraction", provenance=provenance,
                                 class_name=name, stage=stage))
            if stage != "original":
                rows.append(make_row(ident, "prior_discrepancy", float(original[c] - p[c]), "fraction",
                                     provenance=provenance, class_name=name, stage=stage))
    return rows


def _dataset_meta(dataset: str) -> Tuple[int, List[str]]:
    from benchmark.data import DATASETS

    spec = DATASETS.get(dataset)
    names = getattr(spec, "class_names", None) or getattr(spec, "classes", None)
    num_classes = int(getattr(spec, "num_classes", 0) or len(names or []))
    if not num_classes:
        raise DsbenchError(f"dataset {dataset!r} does not declare its classes; give it num_classes/class_names")
    return num_classes, list(names) if names else [str(c) for c in range(num_classes)]


def compute_priors(dataset: str, root: os.PathLike, split: str = "train", scales: Sequence[float] = DEFAULT_SCALES,
                   modes: Sequence[str] = DEFAULT_MODES, *, identity: Optional[Mapping[str, Any]] = None,
                   provenance: Optional[Mapping[str, Any]] = None, valid_threshold: float = 0.0,
                   limit: Optional[int] = None) -> List[Dict[str, Any]]:
    """Class priors and D_{d,c} over a dataset split, streaming one image at a time -> tidy rows."""
    from benchmark.data import build_dataset
    from benchmark.results import provenance as default_provenance

    num_classes, class_names = _dataset_meta(dataset)
    data = build_dataset(dataset, root, split)
    count = len(data) if limit is None else min(limit, len(data))
    priors, sizes = accumulate_priors((data[i]["labels"] for i in range(count)), num_classes, scales, modes,
                                      valid_threshold)
    config = {"scales": list(scales), "modes": list(modes), "valid_threshold": valid_threshold, "images": count}
    ident = {"run_id": f"priors_{dataset}_{split}", "dataset": dataset, "split": split, "track": "input_downsampling",
             "method": "soft_labels", "params": canonical_json({"study": "priors", **config}), "model": "", "seed": None}
    ident.update(identity or {})
    return prior_rows(priors, sizes, class_names, ident, provenance or default_provenance("cpu", config))


def priors_to_csv(dataset: str, root: os.PathLike, out: os.PathLike, split: str = "train", **options: Any) -> Path:
    """Body of ``dsbench priors --dataset D --root DIR --out FILE.csv``; returns the file written."""
    write_rows(out, compute_priors(dataset, root, split, **options))
    return Path(out)


def _add_arguments(parser: Any) -> None:
    parser.add_argument("--split", default="train", help="split the priors are measured on (default: %(default)s)")


STUDIES.register("priors", Study(
    "priors", "class priors and prior discrepancy after downsampling (Alcover-Couso eq. 5)",
    lambda args: priors_to_csv(args.dataset, args.root, args.out, split=args.split), _add_arguments))
