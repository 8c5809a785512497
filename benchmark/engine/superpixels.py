"""The superpixels track's runner: label maps from a registered method, and the scores of label
maps made by any tool, against a dataset's ground-truth segmentations.

* :func:`segment_split` runs a member of ``SUPERPIXEL_METHODS`` over every image of a split for
  each requested count, writes each label map as a 16-bit PNG ``OUT/<n>/<image_id>.png``, scores
  it, and writes ``OUT/pairs.csv`` (one row per requested count, image and annotator) and
  ``OUT/metrics.csv`` (tidy rows, :mod:`benchmark.results`).
* :func:`evaluate_segmentations` scores a folder of label maps made by any tool (one file per
  image, named by the image id): ``<id>.png`` (8- or 16-bit grayscale) or ``<id>.csv`` (integers,
  one line per image row, comma separated, as the superpixel benchmark of Stutz et al. writes them).

Ground truth (:func:`iter_ground_truth`)
---------------------------------------
* ``bsds500`` (:mod:`benchmark.data.bsds500`): every annotator's segmentation is one pair, as SCN
  and PCNet count them (1,063 test pairs).
* A registered dataset in the Cityscapes layout (synthcity, cityscapes): one "annotator", the
  instance-aware regions of :func:`~benchmark.data.bsds500.regions_from_labels` (each 4-connected
  component of a class, or of an instance, is a segment). The ignore label (255) counts as one more
  class: the metrics have no ignore label, and a void region has boundaries like any other. The
  class components alone are used when a sample has no instances (the loader gives zeros then).

Numbers
-------
The metrics are :func:`benchmark.metrics.superpixels.superpixel_metrics` (Stutz et al.'s
definitions). A tidy row per requested count (the ``n_superpixels`` column) holds the mean over
pairs of each metric; ``measured_superpixels`` (the count actually produced, what figures plot
against) and ``seconds_per_image`` (wall time of ``segment``, one image, one process) are means
over images, ``evaluated_pairs`` the number of pairs. Deep (``trainable``) members run with the
network of a training run (``dsbench train-superpixels``, :mod:`benchmark.engine.superpixel_train`)
or weights; without them they are recorded as ``skipped`` rows.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from benchmark.errors import DsbenchError
from benchmark.io import atomic_write, atomic_write_text
from benchmark.metrics.superpixels import superpixel_metrics
from benchmark.results import METRICS, config_hash, make_row, provenance, write_rows

PathLike = Union[str, "os.PathLike[str]"]

BSDS500 = "bsds500"
PAIR_METRICS = ("boundary_recall", "boundary_precision", "asa", "undersegmentation_error", "compactness",
                "explained_variation")
PAIR_COLUMNS = ["image_id", "annotator", "height", "width", *PAIR_METRICS, "measured_superpixels"]
# segment_split's pairs also say which run and request they belong to, and how long segment took.
RUN_PAIR_COLUMNS = ["method", "n_superpixels", *PAIR_COLUMNS, "seconds"]
PAIRS_FILE = "pairs.csv"
METRICS_FILE = "metrics.csv"
LABEL_MAP_SUFFIXES = (".png", ".csv")
UNTRAINED = "untrained: train it first"
MAX_PNG_LABELS = 1 << 16  # a 16-bit PNG holds ids 0..65535
SHOWN_IDS = 5             # image ids named in a "missing" message


@dataclass(frozen=True)
class GroundTruth:
    """One image and its ground-truth segmentations (one per annotator), all ``(H, W)``."""

    image_id: str
    image: np.ndarray                 # (H, W, 3) uint8 RGB
    segmentations: List[np.ndarray]   # int64 segment ids, one map per annotator


# ---------------------------------------------------------------------------------------------
# Ground truth


def cityscapes_layout_split(dataset: str, root: PathLike, split: str):
    from benchmark.data import build_dataset
    from benchmark.registry import DATASETS

    if dataset not in DATASETS:
        known = ", ".join([BSDS500, *DATASETS.keys()])
        raise DsbenchError(f"superpixels: unknown dataset {dataset!r}; use one of {known}")
    return build_dataset(dataset, root, split)


def ground_truth_ids(dataset: str, root: PathLike, split: str) -> List[str]:
    """The image ids of ``split`` in the order :func:`iter_ground_truth` yields them (checks the layout)."""
    if dataset == BSDS500:
        from benchmark.data.bsds500 import bsds500_files

        return [image_id for image_id, _, _ in bsds500_files(root, split)]
    samples = cityscapes_layout_split(dataset, root, split)
    ids = getattr(samples, "ids", None)
    return list(ids) if ids is not None else [samples[i]["id"] for i in range(len(samples))]


def sample_regions(sample: Mapping[str, Any]) -> np.ndarray:
    """A Cityscapes-layout sample's ground-truth segments (module doc), int64 ``(H, W)``."""
    from benchmark.data.bsds500 import regions_from_labels

    labels = np.asarray(sample["labels"], dtype=np.int64)
    instances = sample.get("instances")
    instances = None if instances is None else np.asarray(instances, dtype=np.int64)
    if instances is not None and not instances.any():
        instances = None  # the loader's zeros for a missing instance file
    return regions_from_labels(labels, instances, ignore=-1)  # no class is ignored (module doc)


def iter_ground_truth(dataset: str, root: PathLike, split: str, limit: Optional[int] = None) -> Iterator[GroundTruth]:
    """The images of ``split`` (the first ``limit`` only, if given) with their segmentations."""
    if dataset == BSDS500:
        from benchmark.data.bsds500 import iter_bsds500

        samples: Iterator[GroundTruth] = (GroundTruth(i, image, segs) for i, image, segs in iter_bsds500(root, split))
    else:
        dataset_split = cityscapes_layout_split(dataset, root, split)

        def cityscapes_samples() -> Iterator[GroundTruth]:
            for index in range(len(dataset_split)):
                sample = dataset_split[index]
                image = np.asarray(sample["image"], dtype=np.float64)  # (3, H, W) in [0, 1]
                rgb = np.clip(np.rint(image.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
                yield GroundTruth(str(sample["id"]), rgb, [sample_regions(sample)])

        samples = cityscapes_samples()
    for count, sample in enumerate(samples):
        if limit is not None and count >= limit:
            return
        yield sample


# ---------------------------------------------------------------------------------------------
# Label-map files


def write_label_map(path: PathLike, labels: np.ndarray) -> Path:
    """``labels`` (H, W) non-negative ids as a 16-bit grayscale PNG, atomically."""
    from PIL import Image

    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.min() < 0 or labels.max() >= MAX_PNG_LABELS:
        raise DsbenchError(f"{path}: a label PNG holds an (H, W) map of ids 0..{MAX_PNG_LABELS - 1}; got shape "
                           f"{labels.shape} with ids {labels.min()}..{labels.max()}")
    image = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint16))
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"), suffix=".png")


def read_label_map(path: PathLike) -> np.ndarray:
    """An int64 ``(H, W)`` label map from a grayscale PNG or a CSV of integers (module doc)."""
    path = Path(path)
    if path.suffix == ".csv":
        try:
            labels = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
        except ValueError as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DsbenchError(f"{path}: not a CSV label map of integers, one line per image row, comma "
                               f"separated ({first})") from None
    elif path.suffix == ".png":
        from PIL import Image

        try:
            with Image.open(path) as handle:
                handle.load()
                labels = np.array(handle)
        except (OSError, SyntaxError, ValueError) as error:
            raise DsbenchError(f"{path}: cannot read PNG ({type(error).__name__}: {error})") from None
        if labels.ndim != 2:
            raise DsbenchError(f"{path}: label PNG has shape {labels.shape}; expected one channel (H, W) of ids, "
                               "e.g. a 16-bit grayscale PNG")
        labels = labels.astype(np.int64)
    else:
        raise DsbenchError(f"{path}: unknown label-map format; use <image_id>.png or <image_id>.csv")
    if labels.size == 0:
        raise DsbenchError(f"{path}: the label map is empty")
    return labels


def find_label_maps(seg_dir: PathLike, image_ids: Sequence[str]) -> Dict[str, Path]:
    """The label-map file of every image id in ``seg_dir``; missing or doubled files are an error."""
    seg_dir = Path(seg_dir)
    if not seg_dir.is_dir():
        raise DsbenchError(f"{seg_dir}: no such folder of label maps (one <image_id>.png or .csv per image)")
    found: Dict[str, Path] = {}
    missing: List[str] = []
    for image_id in image_ids:
        candidates = [seg_dir / f"{image_id}{suffix}" for suffix in LABEL_MAP_SUFFIXES
                      if (seg_dir / f"{image_id}{suffix}").is_file()]
        if len(candidates) > 1:
            raise DsbenchError(f"{seg_dir}: image {image_id} has both {candidates[0].name} and {candidates[1].name}; "
                               "keep one label map per image")
        if candidates:
            found[image_id] = candidates[0]
        else:
            missing.append(image_id)
    if missing:
        shown = ", ".join(missing[:SHOWN_IDS]) + (", ..." if len(missing) > SHOWN_IDS else "")
        raise DsbenchError(f"{seg_dir}: {len(missing)} of {len(image_ids)} images have no label map ({shown}); "
                           f"expected <image_id>.png or <image_id>.csv for every image of the split")
    return found


# ---------------------------------------------------------------------------------------------
# Scores


def score_pairs(labels: np.ndarray, truth: GroundTruth, source: str) -> List[Dict[str, Any]]:
    """One record (:data:`PAIR_COLUMNS`) per annotator of ``truth`` for the label map ``labels``."""
    height, width = truth.image.shape[:2]
    if labels.shape != (height, width):
        raise DsbenchError(f"{source}: label map is {labels.shape[0]}x{labels.shape[1]} but image {truth.image_id} "
                           f"is {height}x{width}; a label map must have its image's size")
    records = []
    for annotator, segmentation in enumerate(truth.segmentations):
        scores = superpixel_metrics(labels, segmentation, truth.image)
        records.append({"image_id": truth.image_id, "annotator": annotator, "height": height, "width": width,
                        **{m: scores[m] for m in PAIR_METRICS}, "measured_superpixels": scores["n_superpixels"]})
    return records


def evaluate_segmentations(seg_dir: PathLike, dataset: str, root: PathLike, split: str) -> pd.DataFrame:
    """Score the label maps in ``seg_dir`` (one per image of ``split``, module doc): one row per
    (image, annotator) with :data:`PAIR_COLUMNS`. Every image needs its file (checked first)."""
    files = find_label_maps(seg_dir, ground_truth_ids(dataset, root, split))
    records: List[Dict[str, Any]] = []
    for truth in iter_ground_truth(dataset, root, split):
        path = files[truth.image_id]
        records += score_pairs(read_label_map(path), truth, str(path))
    return pd.DataFrame(records, columns=PAIR_COLUMNS)


def summarise_pairs(pairs: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per ``by`` group: the mean over pairs of each metric, ``measured_superpixels`` and (where
    ``pairs`` has ``seconds``) ``seconds_per_image`` as means over images, ``evaluated_pairs``."""
    by = list(by)
    timed = "seconds" in pairs.columns
    columns = by + list(PAIR_METRICS) + ["measured_superpixels"] + (["seconds_per_image"] if timed else []) + \
        ["evaluated_pairs"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    keyed = pairs.assign(_all=0)
    groups = keyed.groupby(by or ["_all"], sort=True, dropna=False)
    out = groups[list(PAIR_METRICS)].mean()  # NaN-skipping: EV is NaN on a constant image only
    # An image's count and time repeat on each of its annotators' rows: average per image.
    per_image = keyed.drop_duplicates(by + ["image_id"]).groupby(by or ["_all"], sort=True, dropna=False)
    out["measured_superpixels"] = per_image["measured_superpixels"].mean()
    if timed:
        out["seconds_per_image"] = per_image["seconds"].mean()
    out["evaluated_pairs"] = groups.size()
    return out.reset_index(drop=not by)[columns]


# ---------------------------------------------------------------------------------------------
# Running a method


def _check_counts(n_values: Sequence[int]) -> List[int]:
    counts = list(n_values)
    if not counts or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in counts):
        raise DsbenchError(f"superpixels: requested counts must be positive integers, got {counts}")
    if len(set(counts)) != len(counts):
        raise DsbenchError(f"superpixels: requested counts {counts} repeat a value; give each once")
    return [int(n) for n in counts]


def _run_identity(method: str, dataset: str, split: str, params: Dict[str, Any], customised: bool,
                  seed: Optional[int] = None) -> Dict[str, Any]:
    from benchmark.engine.run_config import canonical_json
    from benchmark.tracks import SUPERPIXELS

    # Non-default options get their own run id, so two settings of one method never collide; a
    # trained network's seed is in it (-s<seed>, as in the other tracks' run ids) and in the rows.
    run_id = f"{dataset}-{method}-{split}" + (f"-{config_hash(params)[:8]}" if customised else "") + \
        (f"-s{seed}" if seed is not None else "")
    return {"run_id": run_id, "dataset": dataset, "split": split, "track": SUPERPIXELS.name, "method": method,
            "params": canonical_json(params), "model": "", "height": None, "width": None, "seed": seed}


def _tidy_rows(summary: pd.DataFrame, identity: Mapping[str, Any], origin: Mapping[str, Any]) -> List[Dict[str, Any]]:
    rows = []
    for record in summary.to_dict("records"):
        for metric in [*PAIR_METRICS, "measured_superpixels", "seconds_per_image", "evaluated_pairs"]:
            value = float(record[metric])
            if math.isfinite(value):
                rows.append(make_row(identity, metric, value, METRICS[metric], provenance=origin,
                                     n_superpixels=int(record["n_superpixels"])))
            else:
                rows.append(make_row(identity, metric, None, METRICS[metric], status="skipped",
                                     reason="undefined on every image (constant images have no variation to explain)",
                                     provenance=origin, n_superpixels=int(record["n_superpixels"])))
    return rows


def segment_split(method: str, options: Optional[Mapping[str, Any]], dataset: str, root: PathLike, split: str,
                  n_values: Sequence[int], out_dir: PathLike, weights: Optional[PathLike] = None,
                  limit: Optional[int] = None, run: Optional[PathLike] = None, device: str = "cpu") -> pd.DataFrame:
    """Run superpixel method ``method`` (with ``options``) over ``split`` (its first ``limit``
    images) for every requested count in ``n_values``; write the label maps, ``pairs.csv`` and
    ``metrics.csv`` under ``out_dir`` (module doc) and return the tidy rows written.

    A trainable member needs its trained network: ``run`` (a finished ``dsbench train-superpixels``
    folder: its network and options, and its training settings recorded in ``params``) or
    ``weights`` (a state dict, e.g. ``RUN/model.pt``); without either it gets skipped rows. A
    network runs on ``device`` (``auto``, ``cpu``, ``cuda[:N]``; the label maps and scores are made
    on the CPU); classical methods always run on the CPU. Rows of a run carry its training seed.

    Every argument is checked before anything is written; a run that fails removes the label
    maps it wrote, and writes neither CSV.
    """
    import torch

    import methods  # noqa: F401  registers every superpixel method
    from benchmark.models.weights import load_weights
    from benchmark.registry import SUPERPIXEL_METHODS

    cls = SUPERPIXEL_METHODS.get(method)
    trained = None
    if run is not None:
        if weights is not None:
            raise DsbenchError("superpixels: give the trained network once, as a run or as weights, not both")
        from benchmark.engine.superpixel_train import load_trained_network

        run_cfg, trained = load_trained_network(Path(run), method)
        if options and cls.full_options(options) != cls.full_options(run_cfg.method_options):
            raise DsbenchError(f"superpixels: {run} was trained with options {run_cfg.method_options}; drop the "
                               f"options (the run's are used) or give a run trained with them")
        options = run_cfg.method_options
    params = {"method": method, "options": cls.full_options(options)}
    if trained is not None:  # the rows say how the network was trained
        run_cfg.describe()
        params["train"] = json.loads(run_cfg.params)["train"]
    counts = _check_counts(n_values)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DsbenchError(f"superpixels: limit must be a positive number of images, got {limit!r}")
    if not ground_truth_ids(dataset, root, split):
        raise DsbenchError(f"superpixels: split {split!r} of {dataset} at {root} has no images")
    out_dir = Path(out_dir)
    identity = _run_identity(method, dataset, split, params, customised=bool(options),
                             seed=run_cfg.seed if trained is not None else None)
    on_device = torch.device("cpu")
    if cls.trainable and (weights is not None or trained is not None):
        from benchmark.engine.device import describe_device, resolve_device

        on_device = resolve_device(device)
    origin = provenance(describe_device(on_device) if on_device.type != "cpu" else "cpu", params)
    if cls.trainable and weights is None and trained is None:
        rows = [make_row(identity, metric, None, METRICS[metric], status="skipped", reason=UNTRAINED,
                         provenance=origin, n_superpixels=n)
                for n in counts for metric in [*PAIR_METRICS, "measured_superpixels", "seconds_per_image"]]
        return write_rows(out_dir / METRICS_FILE, rows)
    segmenter = trained if trained is not None else cls.from_options(options)
    if weights is not None:
        if not isinstance(segmenter, torch.nn.Module):
            raise DsbenchError(f"superpixel method {method!r} has no weights to load; drop --weights")
        load_weights(segmenter, weights)
    if isinstance(segmenter, torch.nn.Module):
        segmenter.to(on_device).eval()

    records: List[Dict[str, Any]] = []
    written: List[Path] = []
    try:
        for truth in iter_ground_truth(dataset, root, split, limit):
            image = torch.from_numpy(truth.image.copy()).permute(2, 0, 1).float().div_(255.0)  # PIL's are read-only
            if isinstance(segmenter, torch.nn.Module):
                image = image.to(on_device)
            for n in counts:
                start = time.perf_counter()
                with torch.no_grad():
                    labels = segmenter.segment(image, n).cpu().numpy()
                seconds = time.perf_counter() - start
                path = out_dir / str(n) / f"{truth.image_id}.png"
                written.append(write_label_map(path, labels))
                records += [{"method": method, "n_superpixels": n, **pair, "seconds": seconds}
                            for pair in score_pairs(labels, truth, f"{method} on image {truth.image_id}")]
        pairs = pd.DataFrame(records, columns=RUN_PAIR_COLUMNS)
        sizes = set(zip(pairs["height"], pairs["width"]))
        if len(sizes) == 1:  # one image size: the rows say which; BSDS500's two orientations: empty
            identity = {**identity, "height": int(next(iter(sizes))[0]), "width": int(next(iter(sizes))[1])}
        rows = _tidy_rows(summarise_pairs(pairs, ["n_superpixels"]), identity, origin)
        atomic_write_text(out_dir / PAIRS_FILE, pairs.to_csv(index=False, float_format="%.15g"))
        written.append(out_dir / PAIRS_FILE)
        frame = write_rows(out_dir / METRICS_FILE, rows)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    keep = set(written)
    for n in counts:  # label maps of an earlier, larger run: the folder holds this run's maps only
        for stale in (out_dir / str(n)).glob("*.png"):
            if stale not in keep:
                stale.unlink()
    return frame


__all__ = ["BSDS500", "GroundTruth", "METRICS_FILE", "PAIRS_FILE", "PAIR_COLUMNS", "PAIR_METRICS", "UNTRAINED",
           "cityscapes_layout_split", "evaluate_segmentations", "find_label_maps", "ground_truth_ids",
           "iter_ground_truth", "read_label_map", "sample_regions", "score_pairs", "segment_split", "summarise_pairs",
           "write_label_map"]
