"""Marin et al. 2019 Fig 3 as tidy rows: ground-truth sampling points of one image per lambda.

For one label map the ground-truth sampling tensor (energy (2) under constraints (3),
:func:`methods.edge_based.sampling_tensor.sampling_for_lambdas`) is computed for each lambda and each
sampling point becomes two rows, so the figure is drawn from stored rows alone:

* ``sampling_point_row`` / ``sampling_point_col`` (unit px): the point in pixel coordinates of the
  full-resolution label map (row 0 / column 0 = first pixel centre, ``H - 1`` / ``W - 1`` the last);
  ``stage = "lambda=<lam>"`` with ``lam`` printed by ``format(lam, "g")`` (``lambda=0``,
  ``lambda=0.5``, ``lambda=1``, ``lambda=inf``); ``size_bin`` = the point index as a string,
  row-major over the ``h x w`` grid (index ``i * w + j``); ``height`` / ``width`` = ``h`` / ``w``.
* ``image_height`` / ``image_width`` (unit px): the size ``H x W`` of the label map.

The identity is ``run_id = "<dataset>-sampling_points"``, ``method = "edge_based"``, the split,
and ``height``/``width`` = the sampling grid size; no model, no seed (nothing is trained).
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from benchmark.engine.run_config import canonical_json
from benchmark.errors import DsbenchError
from benchmark.registry import STUDIES
from benchmark.results import METRICS, make_row
from benchmark.results import provenance as current_provenance
from methods.base import Study
from methods.edge_based.sampling_tensor import sampling_for_lambdas

DEFAULT_LAMS: Tuple[float, ...] = (0.0, 0.5, 1.0, math.inf)
DEFAULT_SIZE_LR: Tuple[int, int] = (8, 16)
ClassSpec = Union[int, str]


def lambda_stage(lam: float) -> str:
    """The ``stage`` text of one lambda: ``lambda=0``, ``lambda=0.5``, ``lambda=inf``."""
    return f"lambda={float(lam):g}"


def _train_ids(target_classes: Optional[Iterable[ClassSpec]]) -> Optional[List[int]]:
    """Class names (``person``) or trainIds -> trainIds; ``None`` (all classes) stays ``None``."""
    if target_classes is None:
        return None
    from benchmark.data.labels import TRAIN_ID

    ids = []
    for cls in target_classes:
        if isinstance(cls, str) and not cls.isdigit():
            if cls not in TRAIN_ID:
                raise DsbenchError(f"sampling points: unknown target class {cls!r}; use Cityscapes class names "
                                   f"({', '.join(TRAIN_ID)}) or trainIds")
            ids.append(TRAIN_ID[cls])
        else:
            ids.append(int(cls))
    return ids


def _check_size(size_lr: Sequence[int]) -> Tuple[int, int]:
    try:
        h, w = (int(s) for s in size_lr)
    except (TypeError, ValueError):
        raise DsbenchError(f"sampling points: size_lr {size_lr!r} must be two integers (h, w), e.g. 8x16") from None
    if h < 1 or w < 1:
        raise DsbenchError(f"sampling points: size_lr {h}x{w} must be positive, e.g. 8x16")
    return h, w


def sampling_points_from_labels(labels: np.ndarray, size_lr: Sequence[int] = DEFAULT_SIZE_LR,
                                lams: Sequence[float] = DEFAULT_LAMS,
                                target_classes: Optional[Iterable[ClassSpec]] = None, *,
                                identity: Mapping[str, Any],
                                provenance: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Tidy rows (module docstring) for one trainId label map ``(H, W)``; ``identity`` is used as given."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise DsbenchError(f"sampling points: labels must be one (H, W) map, got shape {labels.shape}")
    h, w = _check_size(size_lr)
    points = sampling_for_lambdas(labels, (h, w), [float(lam) for lam in lams], _train_ids(target_classes))
    rows: List[Dict[str, Any]] = []

    def add(metric: str, value: float, **measurement: Any) -> None:
        rows.append(make_row(identity, metric, float(value), METRICS[metric], provenance=provenance, **measurement))

    add("image_height", labels.shape[0])
    add("image_width", labels.shape[1])
    for lam, row_col in points.items():  # row_col: (h*w, 2) pixel (row, col), row-major point order
        stage = lambda_stage(lam)
        for index, (row, col) in enumerate(row_col):
            add("sampling_point_row", row, stage=stage, size_bin=str(index))
            add("sampling_point_col", col, stage=stage, size_bin=str(index))
    return rows


def sampling_points_rows(dataset: str, root: Union[str, os.PathLike, None], split: str = "val", index: int = 0,
                         size_lr: Sequence[int] = DEFAULT_SIZE_LR, lams: Sequence[float] = DEFAULT_LAMS,
                         target_classes: Optional[Iterable[ClassSpec]] = None, *,
                         identity: Optional[Mapping[str, Any]] = None,
                         provenance: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Fig 3 rows for image ``index`` of ``split`` of registered ``dataset`` under ``root``.

    ``identity`` overrides the default identity keys (module docstring); ``provenance``
    defaults to :func:`benchmark.results.provenance` of this call's settings.
    ``target_classes``: class names or trainIds whose boundaries attract points (None: all).
    """
    from benchmark.data import build_dataset  # torch-heavy: only when rows are made from a dataset

    h, w = _check_size(size_lr)
    data = build_dataset(dataset, root, split)
    if not 0 <= int(index) < len(data):
        raise DsbenchError(f"sampling points: image index {index} is out of range for {dataset} split {split!r} "
                           f"({len(data)} images); pick 0..{len(data) - 1}")
    labels = data.load_labels(int(index))
    settings = {"dataset": dataset, "split": split, "index": int(index), "size_lr": [h, w],
                "lams": [float(lam) for lam in lams], "target_classes": _train_ids(target_classes)}
    default_identity = {"run_id": f"{dataset}-sampling_points", "dataset": dataset, "split": split,
                        "track": "input_downsampling", "method": "edge_based",
                        "params": canonical_json({"study": "sampling_points", **settings}), "model": None,
                        "height": h, "width": w, "seed": None}
    return sampling_points_from_labels(
        labels, (h, w), lams, target_classes, identity={**default_identity, **dict(identity or {})},
        provenance=current_provenance(config=settings) if provenance is None else provenance)


def _add_arguments(parser: Any) -> None:
    from benchmark.cli import parse_size

    parser.add_argument("--split", default="val", help="split of the image (default: %(default)s)")
    parser.add_argument("--index", type=int, default=0, help="image index in the split (default: %(default)s)")
    parser.add_argument("--size", type=parse_size, default=DEFAULT_SIZE_LR,
                        help="sampling grid HxW (default: %(default)s)")
    parser.add_argument("--target-classes", nargs="+", default=None, help="class names whose boundaries attract points")


def _run(args: Any) -> Any:
    from benchmark.results import write_rows

    return write_rows(args.out, sampling_points_rows(args.dataset, args.root, args.split, args.index, args.size,
                                                     target_classes=args.target_classes))


STUDIES.register("sampling_points", Study(
    "sampling_points", "ground-truth sampling points of one image for lambda = 0, 0.5, 1, inf (Marin Fig 3)",
    _run, _add_arguments))

__all__ = ["DEFAULT_LAMS", "DEFAULT_SIZE_LR", "lambda_stage", "sampling_points_from_labels", "sampling_points_rows"]
