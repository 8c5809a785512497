"""Aggregate every run's tidy rows into one sorted file (``results/metrics.csv``).

A run folder (any depth under ``runs_dir``, e.g. ``results/runs/<run_id>/``) may hold the
tidy-row files named in :data:`RUN_FILES`; other files (raw counts, logs, checkpoints) are
not rows and are left alone. Every file is validated by :func:`benchmark.results.read_rows`.

Two rows describe the same number when they agree on :data:`DUPLICATE_KEY` (identity and
measurement keys, without ``run_id`` and ``unit``): the same configuration run twice in two folders is
ambiguous for figures and regression, so it raises and names both files.

Nothing here imports torch.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple

import pandas as pd

from benchmark.errors import DsbenchError
from benchmark.regress import MATCH_KEY, describe_key
from benchmark.results import key_text
from benchmark.results import COLUMNS, read_rows, write_rows

# The tidy-row files a run folder may hold (evaluate, cost, train, priors producers).
RUN_FILES: Tuple[str, ...] = ("metrics.csv", "metrics-center.csv", "metrics-multiscale.csv", "metrics-flip.csv",
                              "metrics-multiscale-flip.csv", "cost.csv", "train.csv", "priors.csv")
# The unit is left out: one number stored twice with two units is still a duplicate.
DUPLICATE_KEY: List[str] = [c for c in MATCH_KEY if c != "unit"]


def run_files(runs_dir: os.PathLike) -> List[Path]:
    """Every :data:`RUN_FILES` file at any depth under ``runs_dir``, in sorted path order."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise DsbenchError(f"{runs_dir}: no such runs folder; run the pipeline (snakemake) first or pass --runs")
    return sorted(p for name in RUN_FILES for p in runs_dir.rglob(name) if p.is_file())


def aggregate(runs_dir: os.PathLike, out_csv: os.PathLike) -> pd.DataFrame:
    """Concatenate every run file under ``runs_dir`` into ``out_csv`` (sorted, atomic); returns it.

    Raises :class:`DsbenchError` when there is no run file, when a file does not follow the
    schema, or when two rows share :data:`DUPLICATE_KEY` (naming both files).
    """
    out_path = Path(out_csv).resolve()
    # The output itself may sit under runs_dir (e.g. runs_dir=results): never read it back.
    files = [p for p in run_files(runs_dir) if p.resolve() != out_path]
    if not files:
        raise DsbenchError(f"{runs_dir}: no run results ({', '.join(RUN_FILES)}) found; run the pipeline first")
    return aggregate_files(files, out_csv)


def aggregate_files(files: List[os.PathLike], out_csv: os.PathLike) -> pd.DataFrame:
    """Concatenate exactly these tidy-row files into ``out_csv`` (the DAG names its runs, so a
    stale run folder left from another config is never mixed in)."""
    files = [Path(f) for f in files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DsbenchError(f"{missing[0]}: no such results file; run its rule (snakemake) first")
    if not files:
        raise DsbenchError("aggregate: no results files given; pass --runs DIR or the files")
    frames: List[pd.DataFrame] = []
    seen: Dict[Tuple[str, ...], Path] = {}
    for path in files:
        df = read_rows(path)
        for row in df[DUPLICATE_KEY].to_dict("records"):
            key = tuple(key_text(row[c]) for c in DUPLICATE_KEY)
            if key in seen:
                where = "twice in " + str(path) if seen[key] == path else f"in {seen[key]} and {path}"
                raise DsbenchError(f"duplicate result {describe_key(row)} {where}; "
                                   "delete the stale run folder or give the runs different seeds")
            seen[key] = path
        frames.append(df)
    frames = [f for f in frames if not f.empty]
    if not frames:  # zero rows would pass for a result downstream
        others = f" (nor do the other {len(files) - 1} files)" if len(files) > 1 else ""
        raise DsbenchError(f"{files[0]}: no rows{others}; run the DAG first (or pass results files with rows)")
    return write_rows(out_csv, pd.concat(frames, ignore_index=True)[COLUMNS])
