"""Evaluation at the original label resolution, as all five papers do."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from benchmark.data import DATASETS, build_dataset
from benchmark.data.transforms import center_crop_square
from benchmark.engine.device import describe_device, resolve_device
from benchmark.engine.run_config import RunConfig
from benchmark.engine.train import load_trained_pipeline
from benchmark.errors import DsbenchError
from benchmark.metrics import ConfusionMatrix, MetricSuite
from benchmark.metrics.suite import intrinsic_arrays, no_labels_reason
from benchmark.metrics.intrinsic import JIN_UNSAMPLE_MODE, reconstruct_labels
from benchmark.ops.sampling import IGNORE_INDEX, downsample_labels
from benchmark.io import atomic_write
from benchmark.results import (SINGLE_SCALE, checked_frame, make_row, protocol_suffix, provenance, read_rows,
                               write_rows)

COUNTS = "counts.npz"
def check_eval_scales(scales: Sequence[float], where: str = "--scales") -> Tuple[float, ...]:
    """The multi-scale factors as floats; refuses an empty list and anything not finite and > 0."""
    if not scales:
        raise DsbenchError(f"{where}: no scale given; give at least one factor of the run's resolution, e.g. 1.0")
    checked = []
    for value in scales:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
        if not ok:
            raise DsbenchError(f"{where}: scale {value!r} must be a finite number > 0, e.g. 0.5 0.75 1.0 1.25")
        checked.append(float(value))
    return tuple(checked)


def _write_prediction(path: Path, label_ids: np.ndarray) -> None:
    from PIL import Image

    atomic_write(path, lambda tmp: Image.fromarray(label_ids.astype(np.uint8)).save(tmp, format="PNG"))


def evaluate_run(run_dir: os.PathLike, *, device: str = "auto", save_predictions: Optional[os.PathLike] = None,
                 center_crop: bool = False, target_classes: Optional[Sequence[str]] = None,
                 progress: bool = True, scales: Sequence[float] = SINGLE_SCALE, flip: bool = False) -> Path:
    """Evaluate a finished run on its eval split; writes ``RUN/metrics.csv`` and raw counts.

    ``scales`` / ``flip``: multi-scale testing (:meth:`SegmentationPipeline.predict_multiscale`); the
    rows' split then reads e.g. ``val-multiscale-flip``. The default is single scale."""
    run_dir = Path(run_dir)
    scales = check_eval_scales(scales)
    cfg = RunConfig.load(run_dir)
    # Each protocol has its own files (metrics-multiscale-flip.csv), so one trained run can be
    # evaluated both ways (suzuki_cityscapes and suzuki_cityscapes_multiscale share their runs).
    suffix = ("-center" if center_crop else "") + protocol_suffix(scales, flip)
    out_csv = run_dir / f"metrics{suffix}.csv"
    identity = dict(cfg.identity, split=cfg.eval_split + suffix)
    train_csv = run_dir / "train.csv"
    if train_csv.is_file():
        train_rows = read_rows(train_csv)
        skipped = train_rows[train_rows["status"] != "ok"]
        if len(skipped):  # a declined setting stays recorded as such, never as a number
            reason = str(skipped["reason"].iloc[0])
            write_rows(out_csv, [make_row(identity, "miou", None, "fraction", status="skipped", reason=reason,
                                          provenance=provenance("cpu", cfg.settings()))])
            return out_csv
    torch_device = resolve_device(device)
    cfg_loaded, pipeline = load_trained_pipeline(run_dir, torch_device)
    spec = DATASETS.get(cfg.dataset)
    target_ids = None
    if target_classes:
        unknown = [c for c in target_classes if c not in spec.class_names]
        if unknown:
            raise DsbenchError(f"target class(es) {', '.join(unknown)} unknown for {cfg.dataset}; known: {', '.join(spec.class_names)}")
        target_ids = [spec.class_names.index(c) for c in target_classes]
    dataset = build_dataset(cfg.dataset, cfg.root, cfg.eval_split)
    # A card's instance maps encode (training id + 1) * 1000 + k, not Cityscapes labelIds: its own table.
    suite = MetricSuite(spec.num_classes, spec.class_names, evaluated_classes=spec.evaluated_train_ids,
                        target_classes=target_ids, label_to_train=spec.instance_label_to_train,
                        with_instances=spec.has_instances)
    pred_dir = Path(save_predictions) if save_predictions else None
    if pred_dir:
        pred_dir.mkdir(parents=True, exist_ok=True)
    train_to_label = np.array(spec.train_id_to_label_id, dtype=np.uint8)
    # Jin's intrinsic error mIoU(Y', Y) on the very grids used for prediction, and the class
    # frequencies before and after sampling (Jin Fig 13): no network involved.
    # Under its name, Jin's definition (Pi: the nearest sampling point); beside it, the same with the
    # method's own unsampler (bilinear for uniform, barycentric for edge-based), separately named.
    intrinsic_modes = {"miou_intrinsic": JIN_UNSAMPLE_MODE, "miou_intrinsic_own_unsampler": pipeline.method.unsample_mode}
    intrinsic_counts = {name: ConfusionMatrix(spec.num_classes, evaluated_classes=spec.evaluated_train_ids)
                        for name in intrinsic_modes}
    class_counts = {"original": np.zeros(spec.num_classes, np.int64), "sampled": np.zeros(spec.num_classes, np.int64)}
    # The same per image (benchmark.report's bootstrap over images); the totals are their sums.
    image_intrinsic = {name: [] for name in intrinsic_modes}
    image_class_counts = {stage: [] for stage in class_counts}
    seconds = 0.0
    with torch.inference_mode():
        for index in tqdm(range(len(dataset)), desc=f"eval {cfg.run_id}", disable=not progress, dynamic_ncols=True):
            sample = dataset[index]
            if center_crop:
                sample = center_crop_square(sample)
            image = sample["image"].unsqueeze(0).to(torch_device)
            labels = sample["labels"].unsqueeze(0).to(torch_device)
            tick = time.perf_counter()
            # (1, K, H, W) at the label resolution; single scale is pipeline.predict itself
            logits_hr, grid_lr = pipeline.predict_multiscale(image, labels, scales=scales, flip=flip)
            pred = logits_hr.argmax(1)
            if torch_device.type == "cuda":
                torch.cuda.synchronize(torch_device)
            seconds += time.perf_counter() - tick
            pred_np = pred[0].cpu().numpy()
            suite.process(pred_np, sample["labels"].numpy(), sample["instances"].numpy(), ids=[str(sample["id"])])
            for name, mode in intrinsic_modes.items():
                before = intrinsic_counts[name].counts.copy()
                intrinsic_counts[name].process(reconstruct_labels(labels, grid_lr, spec.num_classes, mode).cpu(),
                                               labels.cpu())
                image_intrinsic[name].append(intrinsic_counts[name].counts - before)
            for stage, ids in (("original", labels), ("sampled", downsample_labels(labels, grid_lr, "nearest"))):
                ids = ids[ids != IGNORE_INDEX].cpu().numpy()
                image_counts = np.bincount(ids, minlength=spec.num_classes)[: spec.num_classes].astype(np.int64)
                class_counts[stage] += image_counts
                image_class_counts[stage].append(image_counts)
            if pred_dir:
                _write_prediction(pred_dir / f"{sample['id']}_labelIds.png", train_to_label[pred_np])
    settings = cfg.settings()
    if protocol_suffix(scales, flip):  # hashed only when not single scale: today's hashes stay as they were
        settings.update(eval_scales=list(scales), eval_flip=flip)
    prov = provenance(describe_device(torch_device), settings)
    rows = suite.rows(identity, prov)
    rows.append(make_row(identity, "eval_images_per_s", len(dataset) / max(seconds, 1e-9), "img/s", provenance=prov))
    no_labels = no_labels_reason(identity) if int(class_counts["original"].sum()) == 0 else ""
    for name, counts in intrinsic_counts.items():
        intrinsic_miou = float(counts.evaluate()["miou"])
        if math.isfinite(intrinsic_miou):
            rows.append(make_row(identity, name, intrinsic_miou, "fraction", provenance=prov))
        else:
            rows.append(make_row(identity, name, None, "fraction", status="skipped", provenance=prov,
                                 reason=no_labels or "no evaluated class occurs in the labels or their reconstruction"))
    if not center_crop:  # the method's own rows about the trained run (Suzuki's cluster map of one image)
        rows += pipeline.method.evaluation_rows(pipeline, dataset, identity, prov)
    for stage, counts in class_counts.items():
        for train_id in spec.evaluated_train_ids:
            measurement = dict(provenance=prov, stage=stage, class_name=spec.class_names[train_id])
            if no_labels:  # a frequency among no pixels is undefined, not 0
                rows.append(make_row(identity, "class_frequency", None, "fraction", status="skipped", reason=no_labels,
                                     **measurement))
            else:
                rows.append(make_row(identity, "class_frequency", counts[train_id] / max(counts.sum(), 1), "fraction",
                                     **measurement))
    # Rows are checked before anything is written, so a failed (re-)evaluation leaves the previous
    # metrics and counts as they were; the metrics come last, as the sign that the rest is written.
    frame = checked_frame(rows, str(out_csv))
    suite.save_counts(run_dir / f"counts{suffix}.npz")

    def write_intrinsic(tmp: str) -> None:
        with open(tmp, "wb") as fh:  # a file object: numpy appends no ".npz" suffix
            np.savez_compressed(fh, **intrinsic_arrays(intrinsic_counts, image_intrinsic, class_counts,
                                                       image_class_counts, suite.image_ids))

    atomic_write(run_dir / f"counts_intrinsic{suffix}.npz", write_intrinsic)
    write_rows(out_csv, frame)
    return out_csv
