"""Tidy result rows: one row per measured number, validated, written atomically.

Every producer (evaluate, flops, priors, ...) builds rows with :func:`make_row` and writes them
with :func:`write_rows`; every consumer (aggregate, figures, regress) reads them with
:func:`read_rows`. Nothing here imports torch or a method.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import pandas as pd

from benchmark.errors import DsbenchError
from benchmark.io import atomic_write_text

# track: the suite's track (benchmark.tracks); params: canonical JSON of the method and its
# settings (RunConfig.describe), "{}" for rows of no single method run.
IDENTITY = ["run_id", "dataset", "split", "track", "method", "params", "model", "height", "width", "seed"]
MEASUREMENT = ["metric", "value", "unit", "class_name", "band_px", "size_bin", "n_superpixels", "stage"]
STATUS = ["status", "reason"]
PROVENANCE = ["git_sha", "git_dirty", "device", "torch", "timm", "created", "config_hash"]
COLUMNS = IDENTITY + MEASUREMENT + STATUS + PROVENANCE
STATUSES = ("ok", "skipped", "failed")
REQUIRED = ["run_id", "dataset", "method", "metric", "status"]
# Sort key that makes results/metrics.csv diff cleanly in review.
SORT_KEY = ["dataset", "track", "method", "model", "height", "width", "seed", "split", "metric", "stage",
            "class_name", "band_px", "size_bin", "n_superpixels", "run_id"]
INT_COLUMNS = ["height", "width", "seed", "band_px", "n_superpixels"]


def key_text(value: Any) -> str:
    """One spelling per key value: "" for missing, integers without ".0" (CSV round trips differ)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def make_row(identity: Mapping[str, Any], metric: str, value: Any, unit: str = "", *,
             status: str = "ok", reason: str = "", provenance: Optional[Mapping[str, Any]] = None,
             **measurement: Any) -> Dict[str, Any]:
    """One tidy row. ``measurement`` takes the optional columns (class_name, band_px, ...)."""
    unknown = set(measurement) - set(MEASUREMENT)
    if unknown:
        raise ValueError(f"unknown measurement column(s) {sorted(unknown)}; allowed: {MEASUREMENT}")
    row: Dict[str, Any] = {c: None for c in COLUMNS}
    row.update({k: identity.get(k) for k in IDENTITY})
    row.update(provenance or {})
    row.update(measurement)
    row.update(metric=metric, value=value, unit=unit, status=status, reason=reason)
    return row


def plain(value: Any) -> str:
    """A value as a person writes it in a message: ``nan``, ``0.5``, ``'abc'`` (never ``np.float64(nan)``)."""
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def csv_line(i: int) -> int:
    """The CSV line of row ``i`` of a frame in file order: the header is line 1."""
    return i + 2


def check_columns(df: pd.DataFrame, source: str = "rows") -> None:
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DsbenchError(f"{source}: missing column(s) {', '.join(missing)}; rows must follow benchmark.results.COLUMNS")
    extra = [c for c in df.columns if c not in COLUMNS]
    if extra:
        raise DsbenchError(f"{source}: unknown column(s) {', '.join(extra)}; rows must follow benchmark.results.COLUMNS")


def validate_rows(df: pd.DataFrame, source: str = "rows") -> pd.DataFrame:
    """Reject malformed rows with a one-line error naming the source, the CSV line (``df`` in
    file order, 0-based index) and the problem."""
    check_columns(df, source)
    for col in REQUIRED:
        bad = df[col].isna() | (df[col].astype(str) == "")
        if bad.any():
            raise DsbenchError(f"{source}: line {csv_line(int(bad.values.argmax()))} has no {col!r}; "
                               f"every row needs {', '.join(REQUIRED)}")
    bad_status = ~df["status"].isin(STATUSES)
    if bad_status.any():
        i = int(bad_status.values.argmax())
        raise DsbenchError(f"{source}: line {csv_line(i)} has status {plain(df['status'].iloc[i])}, "
                           f"not one of {', '.join(STATUSES)}")
    values = pd.to_numeric(df["value"], errors="coerce")
    ok = df["status"] == "ok"
    bad_value = ok & (values.isna() | ~values.map(lambda v: math.isfinite(v) if v == v else False))
    if bad_value.any():
        i = int(bad_value.values.argmax())
        raise DsbenchError(f"{source}: line {csv_line(i)} ({df['metric'].iloc[i]}) has status ok but value "
                           f"{plain(df['value'].iloc[i])}, not a finite number")
    not_ok = ~ok & (df["reason"].isna() | (df["reason"].astype(str) == ""))
    if not_ok.any():
        i = int(not_ok.values.argmax())
        raise DsbenchError(f"{source}: line {csv_line(i)} is {df['status'].iloc[i]} without a reason; give one")
    return df


def to_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=COLUMNS)
    for col in INT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df


def sort_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(SORT_KEY, kind="mergesort", na_position="first").reset_index(drop=True)[COLUMNS]


def checked_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame, source: str) -> pd.DataFrame:
    """The validated, sorted frame :func:`write_rows` would write (line numbers in its errors are
    those of that file): producers check their rows with it before writing anything else."""
    df = rows if isinstance(rows, pd.DataFrame) else to_frame(rows)
    check_columns(df, source)
    return validate_rows(sort_rows(df), source)


def write_rows(path: os.PathLike, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Validate, sort and atomically write tidy rows as CSV; returns the frame written."""
    df = checked_frame(rows, str(path))
    atomic_write_text(path, df.to_csv(index=False, float_format="%.15g"))
    return df


def read_rows(path: os.PathLike) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DsbenchError(f"{path}: no such metrics file; run the pipeline (snakemake) or `dsbench aggregate` first")
    try:
        df = pd.read_csv(path, keep_default_na=True, dtype={"class_name": "string", "reason": "string", "unit": "string",
                                                             "track": "string", "params": "string",
                                                             "stage": "string", "size_bin": "string"})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DsbenchError(f"{path}: not a readable CSV ({exc.__class__.__name__}); regenerate it with `dsbench aggregate`")
    except OSError as exc:
        raise DsbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    validate_rows(df, str(path))
    for col in INT_COLUMNS:
        numbers = pd.to_numeric(df[col], errors="coerce")
        bad = df[col].notna() & (numbers.isna() | (numbers != numbers.round()))
        if bad.any():
            i = int(bad.values.argmax())
            raise DsbenchError(f"{path}: line {csv_line(i)} has {col} {plain(df[col].iloc[i])}, not an integer; "
                               f"regenerate the file with `dsbench aggregate`")
        df[col] = numbers.astype("Int64")
    return df


def read_nonempty_rows(path: os.PathLike, fix: str) -> pd.DataFrame:
    """:func:`read_rows` of a file that must hold rows: a header-only file is an error (``PATH: no
    rows; FIX``), never zero rows silently passed on."""
    df = read_rows(path)
    if df.empty:
        raise DsbenchError(f"{path}: no rows; {fix}")
    return df


def config_hash(config: Mapping[str, Any]) -> str:
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _git(*args: str) -> str:
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_fingerprint() -> str:
    """``cpu (x86_64, AVX2)``: the machine and the instruction set torch's CPU kernels dispatch
    to. CPU training is deterministic within one instruction set, not across them (a 60-step
    CI run moves small-object recall by a few points between AVX2 and AVX512 kernels)."""
    try:
        import torch
        capability = torch.backends.cpu.get_cpu_capability()
    except (ImportError, AttributeError):
        capability = ""
    return f"cpu ({platform.machine()}, {capability})" if capability else f"cpu ({platform.machine()})"


#: Single-scale testing: the run's own resolution, unmirrored (every evaluation before multi-scale existed).
SINGLE_SCALE: Tuple[float, ...] = (1.0,)


def protocol_suffix(scales: Sequence[float], flip: bool) -> str:
    """The split (and metrics file) suffix of a test protocol other than single scale, so its rows
    never pass for single-scale ones (figures group rows by split): ``-multiscale``, ``-flip``."""
    multiscale = "-multiscale" if tuple(scales) != SINGLE_SCALE else ""
    return multiscale + ("-flip" if flip else "")


def provenance(device: str = "cpu", config: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Where a number came from: code version, device, library versions, date, config hash."""
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:  # figures and regress never need torch
        torch_version = ""
    try:
        import timm
        timm_version = timm.__version__
    except ImportError:
        timm_version = ""
    sha = _git("rev-parse", "HEAD") or "unknown"
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no")) if sha != "unknown" else False
    return {
        "git_sha": sha,
        "git_dirty": dirty,
        "device": device if device != "cpu" else cpu_fingerprint(),
        "torch": torch_version,
        "timm": timm_version,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config_hash": config_hash(config or {}),
    }


# The metric names every producer uses, with their units. Fractions are stored in [0, 1];
# figures show percentages. Costs are integers named by convention (macs: one fused
# multiply-add = 1, fvcore's count; flops = 2 x macs).
METRICS: Dict[str, str] = {
    "miou": "fraction",                  # mean IoU over the dataset's evaluation classes
    "miou_target": "fraction",           # mean IoU over the target classes (Marin)
    "iou": "fraction",                   # per class (class_name)
    "pixel_accuracy": "fraction",
    "trimap_accuracy": "fraction",       # per band width (band_px)
    "recall_by_size": "fraction",        # per size bin (size_bin q1..q4), class_name or "all"
    "miou_intrinsic": "fraction",        # mIoU(Y', Y): labels sampled then unsampled (Jin)
    "miou_intrinsic_own_unsampler": "fraction",  # the same with the method's unsampler (dsbench intrinsic)
    "class_frequency": "fraction",       # per class and stage ("original" / "sampled")
    "prior_discrepancy": "fraction",     # D_{d,c} (Alcover-Couso eq. 5), per class, stage=mode@scale
    "macs": "MAC",                       # per stage (sampler, network, unsampler, total)
    "flops": "FLOP",                     # 2 x macs, per stage
    "params": "count",                   # per stage
    "unsupported_ops": "count",          # ops fvcore could not count (class_name = op name)
    "fraction_pixels_sampled": "fraction",
    "latency_ms": "ms",                  # median per image after warm-up
    "peak_memory_mib": "MiB",
    "train_loss": "nats",                # last logged training loss
    "train_iters_per_s": "it/s",
    "eval_images_per_s": "img/s",
    # superpixels (benchmark.metrics.superpixels): means over (image, annotator) pairs per requested
    # count (n_superpixels); measured_superpixels is the mean count actually produced, what figures plot against.
    "asa": "fraction",                   # achievable segmentation accuracy
    "boundary_recall": "fraction",
    "boundary_precision": "fraction",
    "undersegmentation_error": "fraction",
    "compactness": "fraction",
    "explained_variation": "fraction",
    "measured_superpixels": "superpixels",
    "seconds_per_image": "s",
    "evaluated_pairs": "count",          # (image, annotator) pairs behind the means
    # Marin Fig 3 (the sampling points study of its method family): one ground-truth sampling point per row, its
    # index in size_bin (row-major over the h x w grid, height/width columns), stage "lambda=<lam>".
    "sampling_point_row": "px",
    "sampling_point_col": "px",
    "image_height": "px",                # the label map the points were computed on
    "image_width": "px",
    # ... and what the figure draws them over, downsampled (size_bin = row-major pixel index):
    "label_boundary_pixel": "fraction",  # of the pixel's area on a label boundary
    "label_boundary_height": "px",
    "label_boundary_width": "px",
    "image_rgb": "0xRRGGBB",             # value = R * 65536 + G * 256 + B of one pixel
    "image_rgb_height": "px",
    "image_rgb_width": "px",
    # Suzuki Fig 3 (hierarchical clustering's evaluation, one image): an edge between two cells of the
    # finest clustered level's grid in different final clusters / of different labels; value and
    # size_bin = row-major index of the cell left of or above it, stage "cells=<h>x<w>,right" / ",down".
    "cluster_boundary": "cell",
    "label_boundary": "cell",
}
