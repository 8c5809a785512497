"""Alcover-Couso et al. Fig 8: per-class IoU gain of soft over nearest labels vs. prior discrepancy.

y = IoU(soft_labels) − IoU(uniform) of a class at one training resolution (pp, mean over seeds);
x = −log10 |D_soft,c − D_nearest,c| at the matching scale (D from ``dsbench priors``; soft =
the soft-bilinear labels soft_labels trains with). A resolution's scale is its height over the
full-resolution label height of the prior run; a resolution with no prior at that scale is
listed in the panel. Classes where the two discrepancies are equal (x = inf) are left out and
counted. The paper's points (Table I IoUs, Table V discrepancies) are in a separate panel.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark.registry import FIGURES
from paper_figures.alcover.shared import (NEAREST, PRIOR_MODES, SOFT, iou_gains, match_scale, prior_discrepancies,
                                          prior_original_heights, reported, scale_color, scale_text)
from paper_figures.rows import PANEL_KEY, RESOLUTION, panel_groups
from paper_figures.style.panels import (FONT_SIZE, degenerate_note, empty_panel, label_axes, new_figure, note,
                                        panel_title, resolution_label, split_titles)

XLABEL = "−log10 |D_soft − D_nearest| (D a fraction)"
YLABEL = "IoU soft − nearest (pp)"
TITLE = "Per-class IoU gain vs. prior discrepancy"
REPORTED_MARKERS = ["o", "s", "^", "D"]


def discrepancy_gap(priors: pd.DataFrame) -> pd.DataFrame:
    """|D_soft − D_nearest| per dataset, scale and class, from :func:`prior_discrepancies` rows."""
    pick = priors[priors["mode"].isin(list(PRIOR_MODES.values()))]
    if pick.empty:
        return pd.DataFrame(columns=["dataset", "scale", "class_name", "gap"])
    wide = pick.groupby(["dataset", "scale", "class_name", "mode"])["value"].mean().unstack("mode")
    if not set(PRIOR_MODES.values()) <= set(wide.columns):
        return pd.DataFrame(columns=["dataset", "scale", "class_name", "gap"])
    gap = (wide[PRIOR_MODES[SOFT]] - wide[PRIOR_MODES[NEAREST]]).abs().dropna()
    return gap.rename("gap").reset_index()


def prior_gain_points(df: pd.DataFrame) -> Tuple[pd.DataFrame, Dict[Tuple[object, ...], List[str]]]:
    """Points (PANEL_KEY, height, width, scale, class_name, gain, learned, gap, x) and, per panel,
    the resolutions that have IoU gains but no prior at their scale."""
    gains = iou_gains(df)
    gaps = discrepancy_gap(prior_discrepancies(df))
    heights = prior_original_heights(df)
    points: List[pd.DataFrame] = []
    unmatched: Dict[Tuple[object, ...], List[str]] = {}
    for (dataset, height, width), group in gains.groupby(["dataset", "height", "width"], sort=True):
        scales = sorted(set(gaps.loc[gaps["dataset"] == dataset, "scale"].astype(float)))
        scale = match_scale(float(height), heights.get(str(dataset)), scales)
        if scale is None:
            for key in group[PANEL_KEY].drop_duplicates().itertuples(index=False):
                unmatched.setdefault(tuple(key), []).append(resolution_label(height, width))
            continue
        at_scale = gaps[(gaps["dataset"] == dataset) & (gaps["scale"].astype(float) == scale)]
        joined = group.merge(at_scale[["class_name", "gap"]], on="class_name", how="inner")
        points.append(joined.assign(scale=scale))
    columns = PANEL_KEY + RESOLUTION + ["class_name", "gain", "learned", "gap", "scale", "x"]
    if not points:
        return pd.DataFrame(columns=columns), unmatched
    out = pd.concat(points, ignore_index=True)
    with np.errstate(divide="ignore"):
        out["x"] = -np.log10(out["gap"].astype(float))
    return out[columns], unmatched


def _scatter(ax: Axes, points: pd.DataFrame, marker: str = "o") -> List[float]:
    """Scatter finite points coloured by scale; annotate the three largest gains. Returns scales drawn.

    Points with D_soft = D_nearest (x = inf) are left out; :func:`_left_out` says how many.
    """
    finite = points[np.isfinite(points["x"].astype(float))]
    for scale, group in finite.groupby("scale", sort=True):
        ax.scatter(group["x"].astype(float), group["gain"].astype(float), s=14, marker=marker,
                   color=scale_color(float(scale)), edgecolors="none", alpha=0.9)
    for _, row in finite.nlargest(3, "gain").iterrows():
        ax.annotate(str(row["class_name"]), (float(row["x"]), float(row["gain"])), fontsize=FONT_SIZE - 3,
                    xytext=(2, 2), textcoords="offset points", color="#333333")
    ax.axhline(0.0, color="#999999", linewidth=0.6)
    return sorted(float(s) for s in finite["scale"].unique())


def _left_out(points: pd.DataFrame) -> str:
    dropped = int((~np.isfinite(points["x"].astype(float))).sum())
    return f"{dropped} point(s) with D_soft = D_nearest left out (x = ∞)" if dropped else ""


def reported_points() -> pd.DataFrame:
    """The paper's Fig 8 points from Table I (IoU per class) and Table V (D per class), by model and scale."""
    iou = reported("Table I", "iou")
    priors = reported("Table V", "prior_discrepancy")
    if iou.empty or priors.empty:
        return pd.DataFrame(columns=["model", "scale", "class_name", "gain", "x"])
    priors = priors.assign(mode=[str(s).rpartition("@")[0] for s in priors["stage"]])
    d = priors.groupby(["height", "class_name", "mode"])["value"].mean().unstack("mode")
    gap = (d.get(PRIOR_MODES[SOFT]) - d.get(PRIOR_MODES[NEAREST])).abs().rename("gap").reset_index()
    wide = iou.groupby(["model", "height", "scale", "class_name", "method"])["value"].mean().unstack("method")
    gain = ((wide.get(SOFT) - wide.get(NEAREST)) * 100.0).rename("gain").dropna().reset_index()
    out = gain.merge(gap, on=["height", "class_name"], how="inner")
    with np.errstate(divide="ignore"):
        out["x"] = -np.log10(out["gap"].astype(float))
    return out


@FIGURES.register("alcover_prior_gain")
def make(df: pd.DataFrame) -> Figure:
    """One panel per dataset × model × split of ours, then one panel of the paper's numbers."""
    points, unmatched = prior_gain_points(df)
    gains = iou_gains(df)
    groups = panel_groups(gains, PANEL_KEY)
    keys = [key for key, _ in groups]
    common, titles = split_titles(keys) if len(keys) > 1 else ("", [panel_title(*k) for k in keys])
    fig, axes = new_figure(max(1, len(groups)) + 1, TITLE + (f"\n{common}" if common else ""))
    scales: List[float] = []
    if not groups:
        empty_panel(axes[0], "no data: needs ok 'iou' rows (per class)\nfor both uniform and soft_labels")
        label_axes(axes[0], "ours", XLABEL, YLABEL)
    has_priors = not prior_discrepancies(df).empty
    for ax, title, (key, _) in zip(axes, titles, groups):
        label_axes(ax, f"ours · {title}" if title else "ours", XLABEL, YLABEL)
        mask = np.ones(len(points), dtype=bool)
        for column, value in zip(PANEL_KEY, key):
            mask &= (points[column].astype(str) == str(value)).to_numpy()
        panel = points[mask]
        missing = unmatched.get(tuple(key), [])
        if panel.empty:
            why = ("no data: needs 'prior_discrepancy' rows\n(dsbench priors) for nearest and soft-bilinear"
                   if not has_priors else f"no priors at the scale of {', '.join(missing) or 'these resolutions'}")
            empty_panel(ax, why)
            continue
        never = int((~panel["learned"].astype(bool)).sum())
        panel = panel[panel["learned"].astype(bool)]
        if panel.empty:
            degenerate_note(ax, "no class learned by either strategy (IoU 0 for both):\nno gain to show")
            continue
        scales += _scatter(ax, panel)
        notes = [_left_out(panel), f"{never} never-learned class point(s) (IoU 0 for both) left out" if never else ""]
        notes += [f"no priors at the scale of {', '.join(missing)}"] if missing else []
        if any(notes):
            note(ax, "; ".join(n for n in notes if n))

    ax = axes[-1]
    label_axes(ax, "reported · Alcover-Couso et al. (Tables I, V)", XLABEL, YLABEL)
    paper = reported_points()
    if paper.empty:
        empty_panel(ax, "no reported numbers")
    else:
        model_handles = []
        for marker, (model, group) in zip(REPORTED_MARKERS, paper.groupby("model", sort=True)):
            scales += _scatter(ax, group, marker=marker)
            model_handles.append(Line2D([], [], linestyle="", marker=marker, color="#555555", markersize=4,
                                        label=str(model)))
        ax.legend(handles=model_handles, fontsize=FONT_SIZE - 3, loc="best", framealpha=0.8)
        if _left_out(paper):
            note(ax, _left_out(paper))
    handles = [Line2D([], [], linestyle="", marker="o", markersize=5, color=scale_color(s),
                      label=f"scale {scale_text(s)}") for s in sorted(set(scales))]
    if not handles:  # still say what the colours would mean
        handles = [Line2D([], [], linestyle="", marker="o", markersize=5, color=scale_color(s),
                          label=f"scale {scale_text(s)}") for s in (1 / 8, 1 / 4, 1 / 2)]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=FONT_SIZE - 1,
               frameon=False)
    return fig
