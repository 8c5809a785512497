"""The evaluation suite: confusion matrix + trimap + object recall, tidy rows, and raw counts.

``MetricSuite`` is what the engine streams predictions into. Its raw counts (confusion matrix,
per-band correct/total, per-instance table) go to one ``.npz`` per run, so every metric can be
re-derived later without a model (:func:`rows_from_counts`). Since format 2 the file also holds
the same counts per image (``image_confusion`` (N, C, C+1), ``image_trimap_correct`` /
``image_trimap_total`` (N, B), ``instance_image`` (M,): the image of each instance-table row), so a
paired bootstrap over images (benchmark.report) can resample them; the totals are their sums.

Classes the dataset does not contain: ``evaluated_classes`` (trainIds) restricts the mIoU
average to the dataset's classes. Within that list, as in cityscapesscripts (which averages
only classes whose IoU is not NaN), a class absent from both ground truth and predictions is
skipped; a class predicted but absent from the ground truth counts with IoU 0. With
``evaluated_classes=None`` the result equals the official Cityscapes script. ``miou_target``
averages the target classes that are also evaluated.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from benchmark.errors import DsbenchError
from benchmark.metrics._arrays import as_id_array, as_pred_and_labels
from benchmark.metrics.confusion import ConfusionMatrix, IGNORE_INDEX
from benchmark.metrics.object_recall import INSTANCE_COLUMNS, ObjectRecallBySize
from benchmark.metrics.trimap import DEFAULT_BAND_WIDTHS, TrimapAccuracy
from benchmark.io import atomic_write
from benchmark.results import METRICS, make_row

COUNTS_FORMAT_VERSION = 2
# Formats load_counts still reads (format 1: totals only, no per-image counts).
READABLE_COUNTS_FORMATS = (1, 2)
DEFAULT_N_BINS = 4


class MetricSuite:
    """Bundle of :class:`ConfusionMatrix`, :class:`TrimapAccuracy` and :class:`ObjectRecallBySize`.

    Args:
        num_classes: C trainIds.
        class_names: C names, index = trainId (used as ``class_name`` in rows).
        target_classes: trainIds for ``miou_target`` (Marin's target classes), optional.
        band_widths: trimap band widths in pixels.
        with_instances: whether ``process`` receives instanceIds maps (object recall by size).
        evaluated_classes: trainIds the dataset contains; default all C.
        ignore_index: label id of unlabelled pixels.
        label_to_train: labelId -> trainId for instance maps; default the Cityscapes table.
    """

    def __init__(self, num_classes: int, class_names: Sequence[str],
                 target_classes: Optional[Sequence[int]] = None,
                 band_widths: Sequence[int] = DEFAULT_BAND_WIDTHS, with_instances: bool = True, *,
                 evaluated_classes: Optional[Sequence[int]] = None, ignore_index: int = IGNORE_INDEX,
                 label_to_train: Optional[Mapping[int, int]] = None):
        names = [str(n) for n in class_names]
        if len(names) != int(num_classes):
            raise DsbenchError(f"metrics: {len(names)} class_names for num_classes {num_classes}; "
                               "give one name per trainId")
        self.num_classes = int(num_classes)
        self.class_names = names
        self.with_instances = bool(with_instances)
        self.confusion = ConfusionMatrix(num_classes, ignore_index, evaluated_classes=evaluated_classes,
                                         target_classes=target_classes)
        self.trimap = TrimapAccuracy(band_widths, ignore_index)
        self.objects = ObjectRecallBySize(num_classes, ignore_index, label_to_train) if with_instances else None
        self._reset_per_image()

    def _reset_per_image(self) -> None:
        # Per-image counts, one entry per processed image (their sums are the totals above);
        # None after loading a format-1 file, which has totals only.
        self.image_confusion: Optional[List[np.ndarray]] = []
        self.image_trimap_correct: Optional[List[np.ndarray]] = []
        self.image_trimap_total: Optional[List[np.ndarray]] = []
        self.instance_image: Optional[List[int]] = []   # image index of each instance-table row
        self.image_ids: Optional[List[str]] = []

    def _instance_rows(self) -> int:
        return sum(len(chunk) for chunk in self.objects._chunks) if self.objects is not None else 0

    @property
    def has_per_image(self) -> bool:
        return self.image_confusion is not None

    @property
    def n_images(self) -> int:
        return len(self.image_confusion) if self.image_confusion is not None else 0

    @property
    def ignore_index(self) -> int:
        return self.confusion.ignore_index

    def reset(self) -> None:
        self.confusion.reset()
        self.trimap.reset()
        if self.objects is not None:
            self.objects.reset()
        self._reset_per_image()

    def process(self, pred: Any, labels: Any, instances: Any = None, ids: Optional[Sequence[str]] = None) -> None:
        """Add a batch: int ``(B, H, W)`` or ``(H, W)`` tensors/arrays at the label resolution;
        ``ids``: the B images' ids (stored beside the per-image counts), optional."""
        pred_arr, labels_arr = as_pred_and_labels(pred, labels)
        inst_arr = as_id_array(instances, "instances") if instances is not None else None
        if ids is not None and len(ids) != len(pred_arr):
            raise DsbenchError(f"metrics: {len(ids)} image ids for a batch of {len(pred_arr)}; give one id per image")
        for b in range(len(pred_arr)):
            self._process_image(pred_arr[b], labels_arr[b], None if inst_arr is None else inst_arr[b:b + 1],
                                None if ids is None else str(ids[b]))

    def _process_image(self, pred: np.ndarray, labels: np.ndarray, instances: Any, image_id: Optional[str]) -> None:
        # Each image's counts are the totals' increments, so their sums equal the totals exactly.
        confusion_before = self.confusion.counts.copy()
        correct_before, total_before = self.trimap.correct.copy(), self.trimap.total.copy()
        self.confusion.process(pred, labels)
        self.trimap.process(pred, labels)
        instances_before = self._instance_rows()
        if self.objects is not None:
            self.objects.process(pred, labels, instances)
        if not self.has_per_image:  # a suite loaded from a format-1 file keeps totals only
            return
        index = len(self.image_confusion)
        self.image_confusion.append(self.confusion.counts - confusion_before)
        self.image_trimap_correct.append(self.trimap.correct - correct_before)
        self.image_trimap_total.append(self.trimap.total - total_before)
        if self.objects is not None:
            self.instance_image.extend([index] * (self._instance_rows() - instances_before))
        if self.image_ids is not None:  # ids are kept only when every image has one
            if image_id is None:
                self.image_ids = None
            else:
                self.image_ids.append(image_id)

    def evaluate(self, n_bins: int = DEFAULT_N_BINS) -> Dict[str, Any]:
        """Confusion-matrix metrics plus ``"trimap"`` ({band_px: acc}) and ``"recall_by_size"``."""
        result = self.confusion.evaluate()
        result["trimap"] = self.trimap.evaluate()
        if self.objects is not None:
            result["recall_by_size"] = self.objects.evaluate(n_bins)
        return result

    def rows(self, identity: Mapping[str, Any], provenance: Optional[Mapping[str, Any]] = None,
             n_bins: int = DEFAULT_N_BINS) -> List[Dict[str, Any]]:
        """Tidy rows (benchmark.results). Undefined values become ``skipped`` rows with a reason."""
        res = self.evaluate(n_bins)
        rows: List[Dict[str, Any]] = []
        # Every label pixel ignored: that, not a property of one metric, is why each is undefined.
        no_labels = no_labels_reason(identity) if int(self.confusion.counts.sum()) == 0 else ""

        def add(metric: str, value: float, why_undefined: str, **measurement: Any) -> None:
            value = float(value)
            if math.isfinite(value):
                rows.append(make_row(identity, metric, value, METRICS[metric], provenance=provenance, **measurement))
            else:
                rows.append(make_row(identity, metric, None, METRICS[metric], status="skipped",
                                     reason=no_labels or why_undefined, provenance=provenance, **measurement))

        add("miou", res["miou"], "no evaluated class occurs in labels or predictions")
        if "miou_target" in res:
            add("miou_target", res["miou_target"], "no target class occurs in labels or predictions")
        add("pixel_accuracy", res["pixel_accuracy"], "no valid (non-ignore) label pixels")
        evaluated = self.confusion.evaluated_classes
        for c in (range(self.num_classes) if evaluated is None else evaluated):
            add("iou", res["iou"][c], "class absent from both labels and predictions",
                class_name=self.class_names[c])
        for width, acc in res["trimap"].items():
            add("trimap_accuracy", acc, "no valid pixel within this distance of a label boundary", band_px=width)
        if self.objects is not None:
            by_size = res["recall_by_size"]
            groups = [(self.class_names[c], v) for c, v in sorted(by_size["per_class"].items())]
            for class_name, per_bin in groups + [("all", by_size["all"])]:
                for b, value in enumerate(per_bin):
                    add("recall_by_size", value, "no instance in this size bin (fewer instances than bins)",
                        size_bin=f"q{b + 1}", class_name=class_name)
        return rows

    # ----------------------------------------------------------------- raw counts
    def save_counts(self, path: os.PathLike) -> None:
        """Write the raw counts and the suite settings to one ``.npz``, atomically (temp + rename)."""
        path = Path(path)
        arrays: Dict[str, np.ndarray] = {
            "format_version": np.array(COUNTS_FORMAT_VERSION),
            "class_names": np.array(self.class_names, dtype=str),
            "ignore_index": np.array(self.ignore_index),
            "confusion": self.confusion.counts,
            "band_widths": np.array(self.trimap.band_widths, dtype=np.int64),
            "trimap_correct": self.trimap.correct,
            "trimap_total": self.trimap.total,
            "with_instances": np.array(self.with_instances),
        }
        if self.objects is not None:
            arrays["instances"] = self.objects.table
        arrays.update(self.per_image_arrays())
        if self.confusion.evaluated_classes is not None:
            arrays["evaluated_classes"] = self.confusion.evaluated_classes
        if self.confusion.target_classes is not None:
            arrays["target_classes"] = self.confusion.target_classes
        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:  # a file object: numpy appends no ".npz" suffix
                np.savez_compressed(fh, **arrays)

        atomic_write(path, write)

    def per_image_arrays(self) -> Dict[str, np.ndarray]:
        """The per-image counts as saved (empty for a suite without them)."""
        if not self.has_per_image:
            return {}
        c, b = self.confusion.counts.shape, len(self.trimap.band_widths)
        arrays = {
            "image_confusion": np.array(self.image_confusion, dtype=np.int64).reshape(-1, *c),
            "image_trimap_correct": np.array(self.image_trimap_correct, dtype=np.int64).reshape(-1, b),
            "image_trimap_total": np.array(self.image_trimap_total, dtype=np.int64).reshape(-1, b),
        }
        if self.objects is not None:
            arrays["instance_image"] = np.array(self.instance_image, dtype=np.int64)
        if self.image_ids is not None:
            arrays["image_ids"] = np.array(self.image_ids, dtype=str)
        return arrays

    @classmethod
    def load_counts(cls, path: os.PathLike) -> "MetricSuite":
        """Rebuild a suite (settings and counts) from :meth:`save_counts` output.

        The rebuilt suite derives metrics; it has no labelId -> trainId table (that is only needed
        to read new instance maps), so keep processing with a freshly built suite instead.
        """
        path = Path(path)
        if not path.is_file():
            raise DsbenchError(f"{path}: no such counts file; run `dsbench evaluate` for this run first")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise DsbenchError(f"{path}: not a readable counts .npz ({exc.__class__.__name__}); "
                               "delete it and re-run `dsbench evaluate`")
        required = ["format_version", "class_names", "ignore_index", "confusion", "band_widths",
                    "trimap_correct", "trimap_total", "with_instances"]
        missing = [k for k in required if k not in arrays]
        if missing:
            raise DsbenchError(f"{path}: counts file lacks {', '.join(missing)}; re-run `dsbench evaluate`")
        version = int(arrays["format_version"])
        if version not in READABLE_COUNTS_FORMATS:
            raise DsbenchError(f"{path}: counts format {version} is not "
                               f"{COUNTS_FORMAT_VERSION}; re-run `dsbench evaluate` with this version")
        per_image = ["image_confusion", "image_trimap_correct", "image_trimap_total"]
        if version >= 2:
            per_image += ["instance_image"] if bool(arrays["with_instances"]) else []
            missing = [k for k in per_image if k not in arrays]
            if missing:
                raise DsbenchError(f"{path}: counts format {version} lacks {', '.join(missing)}; "
                                   "re-run `dsbench evaluate`")
        names = [str(n) for n in arrays["class_names"]]
        with_instances = bool(arrays["with_instances"])
        suite = cls(len(names), names, target_classes=arrays.get("target_classes"),
                    band_widths=[int(w) for w in arrays["band_widths"]], with_instances=with_instances,
                    evaluated_classes=arrays.get("evaluated_classes"), ignore_index=int(arrays["ignore_index"]),
                    label_to_train={})
        if arrays["confusion"].shape != suite.confusion.counts.shape:
            raise DsbenchError(f"{path}: confusion matrix shape {arrays['confusion'].shape} does not match "
                               f"{len(names)} classes; the file is corrupt, re-run `dsbench evaluate`")
        suite.confusion.counts = arrays["confusion"].astype(np.int64)
        suite.trimap.correct = arrays["trimap_correct"].astype(np.int64)
        suite.trimap.total = arrays["trimap_total"].astype(np.int64)
        if suite.objects is not None:
            suite.objects.load_table(arrays.get("instances", np.zeros((0, len(INSTANCE_COLUMNS)), np.int64)))
        if version < 2:  # totals only
            suite.image_confusion = suite.image_trimap_correct = suite.image_trimap_total = None
            suite.instance_image = suite.image_ids = None
            return suite
        image_confusion = arrays["image_confusion"].astype(np.int64)
        if image_confusion.shape[1:] != suite.confusion.counts.shape or \
                not np.array_equal(image_confusion.sum(axis=0), suite.confusion.counts):
            raise DsbenchError(f"{path}: per-image confusion matrices do not sum to the total; the file is "
                               "corrupt, re-run `dsbench evaluate`")
        suite.image_confusion = list(image_confusion)
        suite.image_trimap_correct = list(arrays["image_trimap_correct"].astype(np.int64))
        suite.image_trimap_total = list(arrays["image_trimap_total"].astype(np.int64))
        if suite.objects is not None:
            suite.instance_image = [int(i) for i in arrays["instance_image"]]
        suite.image_ids = [str(i) for i in arrays["image_ids"]] if "image_ids" in arrays else None
        return suite


#: Format of counts_intrinsic.npz: 2 adds the per-image arrays (image_*) beside the totals.
INTRINSIC_FORMAT_VERSION = 2


def intrinsic_arrays(totals, per_image, class_counts, image_class_counts, image_ids=None) -> dict:
    """The arrays of ``counts_intrinsic.npz``: Jin's intrinsic confusion (``confusion``, (C, C+1)),
    the same with the method's unsampler (``confusion_own_unsampler``), the class counts before and
    after sampling (``original``, ``sampled``, (C,)), and each per image (``image_confusion``,
    ``image_confusion_own_unsampler`` (N, C, C+1), ``image_original``, ``image_sampled`` (N, C))."""
    shape = totals["miou_intrinsic"].counts.shape
    arrays = {"format_version": np.array(INTRINSIC_FORMAT_VERSION),
              "confusion": totals["miou_intrinsic"].counts,
              "confusion_own_unsampler": totals["miou_intrinsic_own_unsampler"].counts,
              "image_confusion": np.array(per_image["miou_intrinsic"], np.int64).reshape(-1, *shape),
              "image_confusion_own_unsampler":
                  np.array(per_image["miou_intrinsic_own_unsampler"], np.int64).reshape(-1, *shape),
              **class_counts}
    for stage, counts in image_class_counts.items():
        arrays[f"image_{stage}"] = np.array(counts, np.int64).reshape(-1, shape[0])
    if image_ids is not None:
        arrays["image_ids"] = np.array(image_ids, dtype=str)
    return arrays


def no_labels_reason(identity: Mapping[str, Any]) -> str:
    """The reason a metric of a split whose label pixels are all ignored is skipped."""
    return f"no labelled pixels in split {identity.get('split')}"


def rows_from_counts(path: os.PathLike, identity: Mapping[str, Any],
                     provenance: Optional[Mapping[str, Any]] = None,
                     n_bins: int = DEFAULT_N_BINS) -> List[Dict[str, Any]]:
    """Tidy rows re-derived from a saved counts ``.npz`` (no model, no images)."""
    return MetricSuite.load_counts(path).rows(identity, provenance, n_bins)
