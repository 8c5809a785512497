"""Evaluation at the original label resolution, as all five papers do."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional, Sequence

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
from benchmark.metrics.intrinsic import reconstruct_labels
from benchmark.ops.sampling import IGNORE_INDEX, downsample_labels
from benchmark.io import atomic_write
from benchmark.results import make_row, provenance, read_rows, write_rows

COUNTS = "counts.npz"


def _write_prediction(path: Path, label_ids: np.ndarray) -> None:
    from PIL import Image

    atomic_write(path, lambda tmp: Image.fromarray(label_ids.astype(np.uint8)).save(tmp, format="PNG"))


def evaluate_run(run_dir: os.PathLike, *, device: str = "auto", save_predictions: Optional[os.PathLike] = None,
                 center_crop: bool = False, target_classes: Optional[Sequence[str]] = None,
                 progress: bool = True) -> Path:
    """Evaluate a finished run on its eval split; writes ``RUN/metrics.csv`` and raw counts."""
    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir)
    suffix = "-center" if center_crop else ""
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
    suite = MetricSuite(spec.num_classes, spec.class_names, evaluated_classes=spec.evaluated_train_ids,
                        target_classes=target_ids)
    pred_dir = Path(save_predictions) if save_predictions else None
    if pred_dir:
        pred_dir.mkdir(parents=True, exist_ok=True)
    train_to_label = np.array(spec.train_id_to_label_id, dtype=np.uint8)
    # Jin's intrinsic error mIoU(Y', Y) on the very grids used for prediction, and the class
    # frequencies before and after sampling (Jin Fig 13): no network involved.
    intrinsic = ConfusionMatrix(spec.num_classes, evaluated_classes=spec.evaluated_train_ids)
    class_counts = {"original": np.zeros(spec.num_classes, np.int64), "sampled": np.zeros(spec.num_classes, np.int64)}
    seconds = 0.0
    with torch.inference_mode():
        for index in tqdm(range(len(dataset)), desc=f"eval {cfg.run_id}", disable=not progress, dynamic_ncols=True):
            sample = dataset[index]
            if center_crop:
                sample = center_crop_square(sample)
            image = sample["image"].unsqueeze(0).to(torch_device)
            labels = sample["labels"].unsqueeze(0).to(torch_device)
            tick = time.perf_counter()
            logits_hr, grid_lr = pipeline.predict(image, labels)  # (1, K, H, W) at the label resolution
            pred = logits_hr.argmax(1)
            if torch_device.type == "cuda":
                torch.cuda.synchronize(torch_device)
            seconds += time.perf_counter() - tick
            pred_np = pred[0].cpu().numpy()
            suite.process(pred_np, sample["labels"].numpy(), sample["instances"].numpy())
            intrinsic.process(reconstruct_labels(labels, grid_lr, spec.num_classes, pipeline.method.unsample_mode).cpu(),
                              labels.cpu())
            for stage, ids in (("original", labels), ("sampled", downsample_labels(labels, grid_lr, "nearest"))):
                ids = ids[ids != IGNORE_INDEX].cpu().numpy()
                class_counts[stage] += np.bincount(ids, minlength=spec.num_classes)[: spec.num_classes]
            if pred_dir:
                _write_prediction(pred_dir / f"{sample['id']}_labelIds.png", train_to_label[pred_np])
    prov = provenance(describe_device(torch_device), cfg.settings())
    rows = suite.rows(identity, prov)
    rows.append(make_row(identity, "eval_images_per_s", len(dataset) / max(seconds, 1e-9), "img/s", provenance=prov))
    rows.append(make_row(identity, "miou_intrinsic", intrinsic.evaluate()["miou"], "fraction", provenance=prov))
    if not center_crop:  # the method's own rows about the trained run (Suzuki's cluster map of one image)
        rows += pipeline.method.evaluation_rows(pipeline, dataset, identity, prov)
    for stage, counts in class_counts.items():
        for train_id in spec.evaluated_train_ids:
            rows.append(make_row(identity, "class_frequency", counts[train_id] / max(counts.sum(), 1), "fraction",
                                 provenance=prov, stage=stage, class_name=spec.class_names[train_id]))
    suite.save_counts(run_dir / f"counts{suffix}.npz")
    atomic_write(run_dir / f"counts_intrinsic{suffix}.npz",
                 lambda tmp: np.savez_compressed(open(tmp, "wb"), confusion=intrinsic.counts, **class_counts))
    write_rows(out_csv, rows)
    return out_csv
