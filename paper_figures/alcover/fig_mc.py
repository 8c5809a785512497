"""Alcover-Couso et al. Table III as bars: mIoU of nearest vs soft labels, MC on / off, per resolution.

Strategies come from the runs' params (:func:`paper_figures.alcover.shared.strategy`): nearest
labels (registered ``uniform``), soft labels with multi-class pixels in the loss (``soft_labels``,
MC on) and without (``options.mc`` false). Bars are the mean over seeds with ±1 std where there
is more than one seed. The paper's Table III is drawn in separate panels, one per network.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.alcover.shared import STRATEGY_NAMES, TABLE3_LABELS, reported, reported_label, with_strategy
from paper_figures.rows import NO_PARAMS_NOTE, PANEL_KEY, RESOLUTION, has_params, ok_rows, panel_groups, seed_summary
from paper_figures.style.palette import method_color
from paper_figures.style.panels import (add_legend, empty_panel, grouped_bars, label_axes, new_figure, note,
                                        panel_title, resolution_label, split_titles)

# The MC-off ablation is its own experiment: the default run trains the paper's default (MC on).
EXPERIMENT = "alcover_table3_mc"
TITLE = "Alcover-Couso et al. Table III: nearest vs. soft labels,\nmulti-class pixels in the loss (MC) on / off"
XLABEL = "training resolution (px)"
YLABEL = "mIoU (%)"


def table3_points(df: pd.DataFrame) -> pd.DataFrame:
    """mIoU (%) mean/std/n over seeds per Table III strategy, with a ``resolution`` text column."""
    rows = with_strategy(ok_rows(df, "miou"))
    rows = rows[rows["strategy"].isin(TABLE3_LABELS)]
    points = seed_summary(rows, PANEL_KEY + ["strategy"] + RESOLUTION)
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
        paper = paper.assign(strategy=[reported_label(r) for _, r in paper.iterrows()], mean=paper["value"] * 100.0,
                             resolution=[resolution_label(h, w) for h, w in zip(paper["height"], paper["width"])])
    paper_groups = list(paper.groupby("model", sort=True)) if not paper.empty else []
    keys = [key for key, _ in groups]
    common, titles = split_titles(keys) if len(keys) > 1 else ("", [panel_title(*k) for k in keys])
    n_ours = max(1, len(groups))
    fig, axes = new_figure(n_ours + max(1, len(paper_groups)), TITLE + (f"\n{common}" if common else ""))
    bar_style = dict(series="strategy", order=TABLE3_LABELS, labels=STRATEGY_NAMES, rotate=False)
    if not groups:
        label_axes(axes[0], "ours", XLABEL, YLABEL)
        needs = NO_PARAMS_NOTE if not has_params(df) else "ok 'miou' rows of uniform and soft_labels runs"
        empty_panel(axes[0], f"no data: needs {needs}")
    for ax, title, (_, group) in zip(axes, titles, groups):
        label_axes(ax, f"ours\n{title}" if title else "ours", XLABEL, YLABEL)
        drawn = grouped_bars(ax, group, _resolutions(group), "resolution", **bar_style)
        missing = [STRATEGY_NAMES[m] for m in TABLE3_LABELS if m not in drawn]
        if missing:
            note(ax, "no runs of " + ", ".join(missing))
    paper_axes = axes[n_ours:]
    if not paper_groups:
        label_axes(paper_axes[0], "reported · Table III", XLABEL, YLABEL)
        empty_panel(paper_axes[0], "no reported numbers")
    for ax, (model, group) in zip(paper_axes, paper_groups):
        label_axes(ax, f"reported (Table III)\n{group['dataset'].iloc[0]} · {model}", XLABEL, YLABEL)
        grouped_bars(ax, group, _resolutions(group), "resolution", yerr=None, **bar_style)
    for ax in axes:
        ax.tick_params(axis="x", labelsize=7)
    add_legend(fig, [], extra=[(STRATEGY_NAMES[m], _square(m)) for m in TABLE3_LABELS])
    return fig


def _square(key: str) -> dict:
    return {"color": method_color(key), "marker": "s", "linestyle": "none", "markersize": 7}
