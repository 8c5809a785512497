"""Alcover-Couso et al. Table III as bars: mIoU of nearest vs soft labels, MC on / off, per resolution.

Methods (config labels): ``uniform`` (nearest labels, CE), ``soft_labels_mc_off`` (soft labels,
KL over single-class pixels only), ``soft_labels`` (soft labels, KL over all pixels: MC on).
Bars are the mean over seeds with ±1 std where there is more than one seed. The paper's
Table III is drawn in separate panels, one per network.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.fig_alcover_common import (TABLE3_LABELS, bar_legend, grouped_bars, method_colors, note, reported,
                                              reported_label)
from paper_figures.style import (PANEL_KEY, RESOLUTION, empty_panel, label_axes,
                                 new_figure, ok_rows, panel_groups, panel_title, resolution_label, seed_summary,
                                 split_titles)

TITLE = "Nearest (uniform) vs. soft labels; multi-class pixels in the loss (MC) on / off"
XLABEL = "training resolution (px)"
YLABEL = "mIoU (%)"


def table3_points(df: pd.DataFrame) -> pd.DataFrame:
    """mIoU (%) mean/std/n over seeds for the Table III labels, with a ``resolution`` text column."""
    rows = ok_rows(df, "miou")
    rows = rows[rows["method"].isin(TABLE3_LABELS)]
    points = seed_summary(rows, PANEL_KEY + ["method"] + RESOLUTION)
    points[["mean", "std"]] = points[["mean", "std"]].astype(float) * 100.0
    points["resolution"] = [resolution_label(h, w) for h, w in zip(points["height"], points["width"])]
    return points


def _resolutions(points: pd.DataFrame) -> List[str]:
    pairs = sorted({(int(h), int(w)) for h, w in zip(points["height"], points["width"])})
    return [resolution_label(h, w) for h, w in pairs]


@FIGURES.register("alcover_mc")
def make(df: pd.DataFrame) -> Figure:
    """One panel per dataset × model × split of ours, then one per network of the paper's Table III."""
    points = table3_points(df)
    groups = panel_groups(points, PANEL_KEY)
    paper = reported("Table III", "miou")
    if not paper.empty:
        paper = paper.assign(method=[reported_label(r) for _, r in paper.iterrows()], mean=paper["value"] * 100.0,
                             resolution=[resolution_label(h, w) for h, w in zip(paper["height"], paper["width"])])
    paper_groups = list(paper.groupby("model", sort=True)) if not paper.empty else []
    keys = [key for key, _ in groups]
    common, titles = split_titles(keys) if len(keys) > 1 else ("", [panel_title(*k) for k in keys])
    n_ours = max(1, len(groups))
    fig, axes = new_figure(n_ours + max(1, len(paper_groups)), TITLE + (f"\n{common}" if common else ""))
    colors = method_colors(TABLE3_LABELS)
    drawn: List[str] = []
    if not groups:
        empty_panel(axes[0], "no data: needs ok 'miou' rows for\n" + ", ".join(TABLE3_LABELS))
        label_axes(axes[0], "ours", XLABEL, YLABEL)
    for ax, title, (_, group) in zip(axes, titles, groups):
        label_axes(ax, f"ours\n{title}" if title else "ours", XLABEL, YLABEL)
        resolutions = _resolutions(group)
        drawn += grouped_bars(ax, group, resolutions, TABLE3_LABELS, "resolution", "method", colors=colors,
                              err="std")
        ax.set_xticklabels(resolutions)
        missing = [m for m in TABLE3_LABELS if m not in set(group["method"])]
        if missing:
            note(ax, "no rows for " + ", ".join(missing))
    paper_axes = axes[n_ours:]
    if not paper_groups:
        label_axes(paper_axes[0], "reported · Table III", XLABEL, YLABEL)
        empty_panel(paper_axes[0], "no reported numbers")
    for ax, (model, group) in zip(paper_axes, paper_groups):
        label_axes(ax, f"reported (Table III)\n{group['dataset'].iloc[0]} · {model}", XLABEL, YLABEL)
        resolutions = _resolutions(group)
        drawn += grouped_bars(ax, group, resolutions, TABLE3_LABELS, "resolution", "method", colors=colors)
        ax.set_xticklabels(resolutions)
    for ax in axes:
        ax.tick_params(axis="x", labelsize=7)
    bar_legend(fig, [m for m in TABLE3_LABELS if m in drawn] or TABLE3_LABELS)
    return fig
