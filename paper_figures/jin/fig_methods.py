"""Jin et al. Fig 9a: uniform, deformation, edge-based and interpolation on one plot.

mIoU (%) against the downsampled size (low-res pixels h·w, log scale, one tick per resolution),
one line per method of :data:`JIN_METHODS`, one panel per dataset × model × split; the paper's
Fig 9a numbers (Cityscapes, 1024×1024 crop, PSPNet) in a separate panel on the right.
Reads rows: miou.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.jin.shared import grid_with_reported, jin_rows, load_jin_reported, plot_reported, size_axis
from paper_figures.rows import PANEL_KEY, RESOLUTION, ok_rows, panel_groups, seed_summary
from paper_figures.style.panels import add_legend, empty_panel, label_axes, panel_title, plot_method_lines

XLABEL = "downsampled size (pixels h×w, log scale)"
YLABEL = "mIoU (%)"
TITLE = "Methods compared across downsampled sizes (Jin et al. Fig 9a)"


@FIGURES.register("jin_methods")
def make(df: pd.DataFrame) -> Figure:
    """One panel per dataset × model × split; error bars are one std over seeds (if > 1 seed)."""
    summary = seed_summary(ok_rows(jin_rows(df), "miou"), PANEL_KEY + RESOLUTION + ["method"])
    summary["pixels"] = summary["height"].astype(float) * summary["width"].astype(float)
    summary[["mean", "std"]] = summary[["mean", "std"]].astype(float) * 100.0
    groups = panel_groups(summary, PANEL_KEY)
    fig, axes, reported_ax = grid_with_reported(len(groups), 1, TITLE)
    methods: List[str] = []
    if not groups:
        label_axes(axes[0][0], "", XLABEL, YLABEL)
        empty_panel(axes[0][0], "no data: needs ok 'miou' rows of\nuniform, deformation, edge based, interpolation")
    for (key, group), (ax,) in zip(groups, axes):
        label_axes(ax, panel_title(*key), XLABEL, YLABEL)
        methods += plot_method_lines(ax, group, "pixels", "mean", yerr="std")
        size_axis(ax, list(zip(group["height"], group["width"])))
    reported = plot_reported(reported_ax, load_jin_reported(), "pixels", XLABEL, YLABEL)
    add_legend(fig, methods + reported)
    return fig
