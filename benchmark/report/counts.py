"""Per-image counts behind a metrics row, found from the row alone.

A row's ``run_id`` names its run folder under the runs dir (``RUNS/<run_id>/``); its ``split``
names the evaluation protocol, whose files carry the split's suffix after the eval split
(``val`` -> ``counts.npz``, ``val-multiscale-flip`` -> ``counts-multiscale-flip.npz``). There:

* ``counts.npz`` (:class:`benchmark.metrics.MetricSuite`, format 2): ``image_confusion``
  (N, C, C+1), ``image_trimap_correct`` / ``image_trimap_total`` (N, B), ``instances`` (M, 3) with
  ``instance_image`` (M,), ``image_ids`` (N,);
* ``counts_intrinsic.npz`` (benchmark.engine.evaluate, format 2): ``image_confusion``,
  ``image_confusion_own_unsampler`` (N, C, C+1), ``image_original`` / ``image_sampled`` (N, C).

The superpixel track keeps one row per (image, annotator) in ``RUNS/<dataset>-superpixels-<label>/
pairs.csv`` (benchmark.engine.superpixels); its metrics rows are the means over those pairs.
A missing or older file raises :class:`MissingCounts` with the reason the report shows.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pandas as pd

COUNTS = "counts"
INTRINSIC = "counts_intrinsic"
PAIRS = "pairs.csv"


class MissingCounts(Exception):
    """The per-image counts a statistic needs are not there (the message says which and why)."""


def split_suffix(split: str) -> str:
    """``val`` -> ``""``, ``val-multiscale-flip`` -> ``-multiscale-flip`` (the protocol's file suffix)."""
    split = str(split or "")
    return split[split.index("-"):] if "-" in split else ""


class CountsStore:
    """Loads (once) the per-image counts of runs under ``runs_dir``."""

    def __init__(self, runs_dir: Optional[Path]):
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self._cache: Dict[Path, Dict[str, np.ndarray]] = {}
        self._pairs: Optional[Dict[str, pd.DataFrame]] = None

    def _npz(self, path: Path, needed: tuple) -> Dict[str, np.ndarray]:
        if path not in self._cache:
            if not path.is_file():
                raise MissingCounts(f"no per-image counts: {path} is missing")
            try:
                with np.load(path, allow_pickle=False) as data:
                    self._cache[path] = {k: data[k] for k in data.files}
            except (OSError, ValueError) as exc:
                raise MissingCounts(f"no per-image counts: {path} is not readable ({exc.__class__.__name__})")
        arrays = self._cache[path]
        if any(k not in arrays for k in needed):
            version = int(arrays["format_version"]) if "format_version" in arrays else 1
            raise MissingCounts(f"no per-image counts: {path} is counts format {version} (totals only); "
                                "re-run `dsbench evaluate` for this run")
        return arrays

    def _run(self, run_id: str) -> Path:
        if self.runs_dir is None:
            raise MissingCounts("no per-image counts: no runs dir given (--runs)")
        if not self.runs_dir.is_dir():
            raise MissingCounts(f"no per-image counts: no runs dir {self.runs_dir} (give --runs)")
        return self.runs_dir / str(run_id)

    def suite(self, run_id: str, split: str) -> Dict[str, np.ndarray]:
        """The arrays of the run's ``counts<suffix>.npz`` (format 2)."""
        path = self._run(run_id) / f"{COUNTS}{split_suffix(split)}.npz"
        return self._npz(path, ("image_confusion", "image_trimap_correct", "image_trimap_total"))

    def intrinsic(self, run_id: str, split: str) -> Dict[str, np.ndarray]:
        """The arrays of the run's ``counts_intrinsic<suffix>.npz`` (format 2)."""
        path = self._run(run_id) / f"{INTRINSIC}{split_suffix(split)}.npz"
        return self._npz(path, ("image_confusion", "image_original", "image_sampled"))

    def pairs(self, dataset: str, method: str) -> pd.DataFrame:
        """The (image, annotator) rows of a superpixel method on ``dataset`` (every pairs.csv of the
        runs dir whose folder is ``<dataset>-superpixels-*`` and whose rows are ``method``'s)."""
        if self.runs_dir is None or not self.runs_dir.is_dir():
            raise MissingCounts(f"no per-image superpixel scores: no runs dir {self.runs_dir or ''} (give --runs)")
        if self._pairs is None:
            self._pairs = {}
            for path in sorted(self.runs_dir.glob(f"*-superpixels-*/{PAIRS}")):
                try:
                    frame = pd.read_csv(path, dtype={"image_id": str})
                except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
                    continue
                self._pairs[path.parent.name] = frame
        found = [frame[frame["method"] == method] for folder, frame in self._pairs.items()
                 if folder.startswith(f"{dataset}-superpixels-") and "method" in frame.columns]
        found = [f for f in found if len(f)]
        if not found:
            raise MissingCounts(f"no per-image superpixel scores: no {self.runs_dir}/{dataset}-superpixels-*/{PAIRS} "
                                f"holds method {method}")
        return pd.concat(found, ignore_index=True)
