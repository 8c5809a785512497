"""Shared conventions of the Marin et al. 2019 figures (edge-based downsampling); registers no figure.

* Methods: ``uniform`` (the baseline) and the edge-based family, i.e. the config label
  ``edge_based`` and any variant label starting with ``edge_based_`` (e.g. ``edge_based_lam0``).
  Other methods (Jin's simulated ``edge_sim_*`` included) belong to other papers' figures.
* "Relative to uniform" always compares means over seeds at the same dataset, model, split,
  resolution and measurement key (band width, size bin, class). Trimap accuracy is compared as
  a difference in percentage points (Fig 13), recall as a ratio (Figs 12, 14: baseline = 1).
* Reported numbers: ``results/reported/marin2019.csv`` via :func:`paper_figures.reported.load_reported`.

Nothing here imports torch or a method.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import pandas as pd

PAPER = "marin2019"
BASELINE = "uniform"
EDGE_BASED = "edge_based"
GROUP_KEY = ["dataset", "model", "split"]
RESOLUTION = ["height", "width"]


def is_marin_method(method: object) -> bool:
    """``uniform``, ``edge_based`` or an ``edge_based_*`` variant label."""
    method = str(method)
    return method in (BASELINE, EDGE_BASED) or method.startswith(EDGE_BASED + "_")


def marin_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of Marin's methods (:func:`is_marin_method`)."""
    return rows[rows["method"].map(is_marin_method).astype(bool)] if not rows.empty else rows


def smallest_resolutions(rows: pd.DataFrame, n: int = 2) -> List[Tuple[int, int]]:
    """The ``n`` smallest ``(height, width)`` present in ``rows``, by pixel count then height."""
    if rows.empty:
        return []
    sizes = {(int(h), int(w)) for h, w in rows[RESOLUTION].dropna().to_numpy().tolist()}
    return sorted(sizes, key=lambda hw: (hw[0] * hw[1], hw))[:n]


def compare_to_uniform(summary: pd.DataFrame, key: Sequence[str], how: str) -> pd.DataFrame:
    """Non-uniform rows of a :func:`paper_figures.style.seed_summary` frame next to uniform's mean.

    ``summary`` has columns ``[*key, "method", "mean", "std", "n"]``. Returns the non-uniform
    rows that have a uniform row with equal ``key`` values, plus columns ``uniform`` (its mean),
    ``rel`` and ``rel_std``: ``how="difference"`` gives ``(mean - uniform) * 100`` (percentage
    points) and ``std * 100``; ``how="ratio"`` gives ``mean / uniform`` and ``std / uniform``
    (rows where uniform's mean is 0 are dropped: the ratio is undefined).
    """
    if how not in ("difference", "ratio"):
        raise ValueError(f"how must be 'difference' or 'ratio', got {how!r}")
    key = list(key)
    uniform = summary[summary["method"] == BASELINE][key + ["mean"]].rename(columns={"mean": "uniform"})
    others = summary[summary["method"] != BASELINE]
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


__all__ = ["BASELINE", "EDGE_BASED", "GROUP_KEY", "PAPER", "RESOLUTION", "compare_to_uniform", "is_marin_method",
           "marin_rows", "smallest_resolutions"]
