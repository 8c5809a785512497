"""Jin et al. Fig 9a on our runs: mIoU and mIoU(Y′, Y) (%) against the fraction of pixels sampled (%).

Left: our numbers, one row of two panels (mIoU, mIoU(Y′, Y)) per dataset × model × split, one line
per method of :data:`JIN_METHODS` through its resolutions. Right, separate: the paper's
method-level numbers (Fig 9a, converted to % of pixels sampled with the crop size; Table 8).
Reads rows: miou, miou_intrinsic, fraction_pixels_sampled.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.jin.shared import ACCURACY_LABELS, accuracy_with_fraction, grid_with_reported, jin_rows, load_jin_reported, plot_reported
from paper_figures.rows import PANEL_KEY
from paper_figures.style.panels import add_legend, empty_panel, label_axes, log_x_axis, panel_title, plot_method_lines

XLABEL = "pixels sampled (%, log scale)"
TITLE = "Jin et al. Fig 9a: accuracy vs. fraction of pixels sampled"


@FIGURES.register("jin_cost_performance")
def make(df: pd.DataFrame) -> Figure:
    """Two panels (mIoU, mIoU(Y′, Y)) per dataset × model × split, plus the reported panel."""
    data = jin_rows(df)
    points = {metric: accuracy_with_fraction(data, metric) for metric in ACCURACY_LABELS}
    keys = sorted({tuple(str(v) for v in key) for frame in points.values()
                   for key in frame[PANEL_KEY].drop_duplicates().itertuples(index=False)})
    fig, axes, reported_ax = grid_with_reported(len(keys), len(ACCURACY_LABELS), TITLE)
    methods: List[str] = []
    for row, key in zip(axes, keys or [None]):
        for ax, (metric, ylabel) in zip(row, ACCURACY_LABELS.items()):
            name = "mIoU" if metric == "miou" else "mIoU(Y′, Y): no network"
            label_axes(ax, f"{name}\n{panel_title(*key)}" if key else name, XLABEL, ylabel)
            frame = points[metric]
            group = (frame[(frame[PANEL_KEY].astype(str) == list(key)).all(axis=1)] if key else frame)
            group = group.dropna(subset=["cost"])
            if group.empty:
                empty_panel(ax, f"no data: needs ok '{metric}' rows\nand 'fraction_pixels_sampled' rows")
                continue
            methods += plot_method_lines(ax, group, "cost", "mean", yerr="std")
            log_x_axis(ax)
    reported = plot_reported(reported_ax, load_jin_reported(), "fraction", XLABEL, "mIoU (%)",
                             metrics=tuple(ACCURACY_LABELS))
    add_legend(fig, methods + reported)
    return fig
