"""Marin et al. 2019 Fig 3 as tidy rows: ground-truth sampling points of one image per lambda.

For one label map the ground-truth sampling tensor (energy (2) under constraints (3),
:func:`methods.edge_based.sampling_tensor.sampling_for_lambdas`) is computed for each lambda and each
sampling point becomes two rows; the image and the label boundaries the points are drawn over
are stored as rows too, downsampled, so the figure is drawn from stored rows alone:

* ``sampling_point_row`` / ``sampling_point_col`` (unit px): the point in pixel coordinates of the
  full-resolution label map (row 0 / column 0 = first pixel centre, ``H - 1`` / ``W - 1`` the last);
  ``stage = "lambda=<lam>"`` with ``lam`` printed by ``format(lam, "g")`` (``lambda=0``,
  ``lambda=0.5``, ``lambda=1``, ``lambda=inf``); ``size_bin`` = the point index as a string,
  row-major over the ``h x w`` grid (index ``i * w + j``); ``height`` / ``width`` = ``h`` / ``w``.
* ``image_height`` / ``image_width`` (unit px): the size ``H x W`` of the label map.
* ``label_boundary_pixel`` (unit fraction): the label boundaries that attract the points
  (:func:`methods.edge_based.sampling_tensor.boundary_map` of the target classes), area-averaged
  to ``label_boundary_height x label_boundary_width`` (px rows; the longer side at most
  :data:`BOUNDARY_SIDE`); one row per pixel that holds any boundary, ``size_bin`` = its
  row-major index ``r * width + c``, value = the fraction of its area on a boundary.
* ``image_rgb`` (unit 0xRRGGBB): one row per pixel of the image, area-averaged to
  ``image_rgb_height x image_rgb_width`` (px rows; the longer side at most :data:`IMAGE_SIDE`:
  context under the points, so coarser than the boundaries); ``size_bin`` = the row-major
  index, value = ``R * 65536 + G * 256 + B``. Only when the image is given.

Both layers span the whole image, so the figure stretches them over ``H x W``. Their sizes keep
the rows few (about 3,000 for a 256x512 image: metrics.csv and the committed reference carry
them).

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
from methods.edge_based.sampling_tensor import boundary_map, sampling_for_lambdas

DEFAULT_LAMS: Tuple[float, ...] = (0.0, 0.5, 1.0, math.inf)
DEFAULT_SIZE_LR: Tuple[int, int] = (8, 16)
# Longest side (px) of the stored layers: boundaries fine enough that points at lambda = 0 sit on
# them at print size, the image only as context (drawn smoothed).
BOUNDARY_SIDE = 128
IMAGE_SIDE = 64
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


def thumbnail_size(size: Sequence[int], longest_side: int) -> Tuple[int, int]:
    """``(H, W)`` shrunk by the smallest integer factor that brings its longer side to at most
    ``longest_side`` (rounded up): (256, 512) at 128 -> (64, 128); a small image stays as it is."""
    height, width = (int(v) for v in size)
    factor = max(1, math.ceil(max(height, width) / longest_side))
    return -(-height // factor), -(-width // factor)


def _area_resize(array: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Area average (PIL's box filter) of a float32 ``(H, W)`` or uint8 ``(H, W, 3)`` array to ``size``."""
    from PIL import Image

    return np.asarray(Image.fromarray(array).resize((size[1], size[0]), Image.BOX))


def _check_image(image: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    image = np.asarray(image)
    if image.shape != (*shape, 3) or image.dtype != np.uint8:
        raise DsbenchError(f"sampling points: image must be uint8 RGB of the labels' size {shape[0]}x{shape[1]} "
                           f"(H, W, 3), got {image.dtype} {image.shape}")
    return image


def sampling_points_from_labels(labels: np.ndarray, size_lr: Sequence[int] = DEFAULT_SIZE_LR,
                                lams: Sequence[float] = DEFAULT_LAMS,
                                target_classes: Optional[Iterable[ClassSpec]] = None, *,
                                identity: Mapping[str, Any], image: Optional[np.ndarray] = None,
                                provenance: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Tidy rows (module docstring) for one trainId label map ``(H, W)`` and, when given, its uint8
    RGB ``image`` ``(H, W, 3)``; ``identity`` is used as given."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise DsbenchError(f"sampling points: labels must be one (H, W) map, got shape {labels.shape}")
    h, w = _check_size(size_lr)
    image = None if image is None else _check_image(image, labels.shape)
    target_ids = _train_ids(target_classes)
    points = sampling_for_lambdas(labels, (h, w), [float(lam) for lam in lams], target_ids)
    rows: List[Dict[str, Any]] = []

    def add(metric: str, value: float, **measurement: Any) -> None:
        rows.append(make_row(identity, metric, float(value), METRICS[metric], provenance=provenance, **measurement))

    add("image_height", labels.shape[0])
    add("image_width", labels.shape[1])
    boundary_hw = thumbnail_size(labels.shape, BOUNDARY_SIDE)
    boundary = _area_resize(boundary_map(labels, target_ids).astype(np.float32), boundary_hw).ravel()
    add("label_boundary_height", boundary_hw[0])
    add("label_boundary_width", boundary_hw[1])
    for index in np.flatnonzero(boundary > 0):
        add("label_boundary_pixel", boundary[index], size_bin=str(index))
    if image is not None:
        image_hw = thumbnail_size(labels.shape, IMAGE_SIDE)
        rgb = _area_resize(image, image_hw).reshape(-1, 3).astype(np.int64)
        add("image_rgb_height", image_hw[0])
        add("image_rgb_width", image_hw[1])
        for index, packed in enumerate(rgb[:, 0] * 65536 + rgb[:, 1] * 256 + rgb[:, 2]):
            add("image_rgb", packed, size_bin=str(index))
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
    # The loader's float image in [0, 1] back to the PNG's bytes (x / 255 round-trips exactly).
    image = (data[int(index)]["image"].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    settings = {"dataset": dataset, "split": split, "index": int(index), "size_lr": [h, w],
                "lams": [float(lam) for lam in lams], "target_classes": _train_ids(target_classes)}
    default_identity = {"run_id": f"{dataset}-sampling_points", "dataset": dataset, "split": split,
                        "track": "input_downsampling", "method": "edge_based",
                        "params": canonical_json({"study": "sampling_points", **settings}), "model": None,
                        "height": h, "width": w, "seed": None}
    return sampling_points_from_labels(
        labels, (h, w), lams, target_classes, identity={**default_identity, **dict(identity or {})}, image=image,
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

__all__ = ["BOUNDARY_SIDE", "DEFAULT_LAMS", "DEFAULT_SIZE_LR", "IMAGE_SIDE", "lambda_stage",
           "sampling_points_from_labels", "sampling_points_rows", "thumbnail_size"]
