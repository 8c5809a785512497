"""Alcover-Couso et al. Fig 7: mIoU against training batch size, nearest vs. soft labels.

Our runs are the ``alcover_fig7_batch`` experiment (off by default): config labels
``uniform_bs<N>`` / ``soft_labels_bs<N>`` (:data:`paper_figures.fig_alcover_common.BATCH_LABEL`).
One panel per dataset × model × split × resolution, one line per method (uniform = nearest).
The paper's Fig 7 numbers, where transcribed (source ``Fig 7``, setting ``bs=N``), are a
separate panel.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from benchmark.registry import FIGURES
from paper_figures.fig_alcover_common import BATCH_LABEL, NEAREST, SOFT, reported
from paper_figures.style import (PANEL_KEY, RESOLUTION, add_legend, empty_panel, label_axes, new_figure, ok_rows,
                                 panel_groups, plot_method_lines, resolution_label, seed_summary, split_titles)

TITLE = "Robustness to batch size: nearest (uniform) vs. soft labels"
XLABEL = "training batch size (images, log scale)"
YLABEL = "mIoU (%)"


def batch_points(df: pd.DataFrame) -> pd.DataFrame:
    """mIoU (%) over seeds per method (uniform / soft_labels), batch size and resolution."""
    rows = ok_rows(df, "miou")
    parsed = [BATCH_LABEL.match(str(m)) for m in rows["method"]]
    rows = rows.assign(method=[m.group("method") if m else None for m in parsed],
                       batch_size=[int(m.group("batch")) if m else None for m in parsed]).dropna(subset=["method"])
    points = seed_summary(rows, PANEL_KEY + RESOLUTION + ["method", "batch_size"])
    points[["mean", "std"]] = points[["mean", "std"]].astype(float) * 100.0
    return points


def _batch_axis(ax: Axes, sizes: List[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(set(sizes))))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(s) for s in sorted(set(sizes))])


@FIGURES.register("alcover_batch")
def make(df: pd.DataFrame) -> Figure:
    points = batch_points(df)
    groups = panel_groups(points, PANEL_KEY + RESOLUTION)
    keys = [(*key[:-2], resolution_label(key[-2], key[-1])) for key, _ in groups]
    common, titles = split_titles(keys) if len(keys) > 1 else ("", [" · ".join(str(k) for k in key) for key in keys])
    fig, axes = new_figure(max(1, len(groups)) + 1, TITLE + (f"\n{common}" if common else ""))
    drawn: List[str] = []
    if not groups:
        label_axes(axes[0], "ours", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: experiment alcover_fig7_batch not run\n(snakemake --config "
                             "experiment=alcover_fig7_batch;\nneeds 'miou' rows for uniform_bs<N>, soft_labels_bs<N>)")
    for ax, title, (_, group) in zip(axes, titles, groups):
        label_axes(ax, f"ours · {title}" if title else "ours", XLABEL, YLABEL)
        drawn += plot_method_lines(ax, group, "batch_size", "mean", yerr="std")
        _batch_axis(ax, [int(b) for b in group["batch_size"]])
    ax = axes[-1]
    label_axes(ax, "reported · Alcover-Couso et al. (Fig 7)", XLABEL, YLABEL)
    paper = reported("Fig 7", "miou").dropna(subset=["bs"])
    if paper.empty:
        empty_panel(ax, "no reported numbers\n(Fig 7 is not transcribed in\nresults/reported/alcover2023.csv)")
    else:
        paper = paper.assign(batch_size=paper["bs"].astype(int), mean=paper["value"] * 100.0,
                             method=paper["method"].astype(str))
        drawn += plot_method_lines(ax, paper, "batch_size", "mean")
        _batch_axis(ax, list(paper["batch_size"]))
    add_legend(fig, drawn or [NEAREST, SOFT])
    return fig
