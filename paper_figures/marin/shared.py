"""Shared conventions of the Marin et al. 2019 figures (edge-based downsampling); registers no figure.

* Methods: runs of the registered ``uniform`` (the baseline) and ``edge_based`` methods, by
  ``params.method`` (any edge_based variant included; lines are named by the run's label).
  Other methods (Jin's simulated ``edge_sim`` included) belong to other papers' figures.
* "Relative to uniform" always compares means over seeds at the same dataset, model, split,
  resolution and measurement key (band width, size bin, class). Trimap accuracy is compared as
  a difference in percentage points (Fig 13), recall as a ratio (Figs 12, 14: baseline = 1).
* Reported numbers: ``results/reported/marin2019.csv`` via :func:`paper_figures.reported.load_reported`.

Nothing here imports torch or a method.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import pandas as pd

from paper_figures.rows import with_params

PAPER = "marin2019"
BASELINE = "uniform"
EDGE_BASED = "edge_based"
GROUP_KEY = ["dataset", "model", "split"]
RESOLUTION = ["height", "width"]


def marin_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs of Marin's methods (``params.method`` uniform or edge_based), with a
    ``registered`` column (the registered method name)."""
    named = with_params(rows, registered="method")
    return named[named["registered"].isin([BASELINE, EDGE_BASED]).to_numpy(bool)]


def smallest_resolutions(rows: pd.DataFrame, n: int = 2) -> List[Tuple[int, int]]:
    """The ``n`` smallest ``(height, width)`` present in ``rows``, by pixel count then height."""
    if rows.empty:
        return []
    sizes = {(int(h), int(w)) for h, w in rows[RESOLUTION].dropna().to_numpy().tolist()}
    return sorted(sizes, key=lambda hw: (hw[0] * hw[1], hw))[:n]


def compare_to_uniform(summary: pd.DataFrame, key: Sequence[str], how: str) -> pd.DataFrame:
    """Non-uniform rows of a :func:`paper_figures.rows.seed_summary` frame next to uniform's mean.

    ``summary`` has columns ``[*key, "method", "registered", "mean", "std", "n"]`` (uniform: the
    run whose ``registered`` method is uniform). Returns the non-uniform
    rows that have a uniform row with equal ``key`` values, plus columns ``uniform`` (its mean),
    ``rel`` and ``rel_std``: ``how="difference"`` gives ``(mean - uniform) * 100`` (percentage
    points) and ``std * 100``; ``how="ratio"`` gives ``mean / uniform`` and ``std / uniform``
    (rows where uniform's mean is 0 are dropped: the ratio is undefined).
    """
    if how not in ("difference", "ratio"):
        raise ValueError(f"how must be 'difference' or 'ratio', got {how!r}")
    key = list(key)
    is_uniform = summary["registered"] == BASELINE
    uniform = summary[is_uniform][key + ["mean"]].rename(columns={"mean": "uniform"})
    others = summary[~is_uniform]
    # Compare key values as text: missing splits and Int64 / object columns still match.
    left = others.assign(**{f"_k{i}": others[c].astype("string").fillna("<NA>") for i, c in enumerate(key)})
    right = uniform.assign(**{f"_k{i}": uniform[c].astype("string").fillna("<NA>") for i, c in enumerate(key)})
    merged = left.merge(right.drop(columns=key), on=[f"_k{i}" for i in range(len(key))], how="inner")
    merged = merged.drop(columns=[f"_k{i}" for i in range(len(key))])
    if how == "difference":
        merged["rel"] = (merged["mean"] - merged["uniform"]) * 100.0
        merged["rel_std"] = merged["std"] * 100.0
    else:
        merged = merged[merged["uniform"] != 0].copy()
        merged["rel"] = merged["mean"] / merged["uniform"]
        merged["rel_std"] = merged["std"] / merged["uniform"]
    return merged.reset_index(drop=True)


__all__ = ["BASELINE", "EDGE_BASED", "GROUP_KEY", "PAPER", "RESOLUTION", "compare_to_uniform", "marin_rows",
           "smallest_resolutions"]
