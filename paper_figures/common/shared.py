"""The recipe the cross-paper cost figures share: mIoU (%) against a cost, one line per method."""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from paper_figures.rows import PANEL_KEY, miou_with_cost, panel_groups
from paper_figures.style.panels import (add_legend, empty_panel, label_axes, log_x_axis, new_figure,
                                        plot_method_lines, split_titles)


def miou_vs_cost_figure(df: pd.DataFrame, *, title: str, cost_metric: str, xlabel: str, scale: float = 1.0,
                        log_x: bool = True, **cost_filter: object) -> Figure:
    """One panel per dataset × model × split: mIoU (%) against a cost, one line per method.

    A panel is a curve over input sizes: a model trained at one size only (Suzuki's networks at
    full size, whose costs are their own figures and Table 3) has no panel here.
    """
    points = miou_with_cost(df, cost_metric, scale, **cost_filter)
    size = points["height"].astype(str) + "x" + points["width"].astype(str)
    sizes_in_panel = size.groupby([points[k] for k in PANEL_KEY], dropna=False).transform("nunique")
    points = points[sizes_in_panel > 1]
    groups = panel_groups(points, PANEL_KEY)
    common, titles = split_titles([key for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{title}\n{common}" if common else title)
    what = f"'{cost_metric}'" + "".join(f" ({k}={v})" for k, v in cost_filter.items())
    if not groups:
        empty_panel(axes[0], f"no data: needs ok 'miou' rows\nand matching {what} rows")
        label_axes(axes[0], "", xlabel, "mIoU (%)")
        return fig
    methods: List[str] = []
    for ax, panel, (_, group) in zip(axes, titles, groups):
        label_axes(ax, panel, xlabel, "mIoU (%)")
        group = group.dropna(subset=["cost"])
        if group.empty:
            empty_panel(ax, f"no data: 'miou' rows but\nno matching {what} rows")
            continue
        methods += plot_method_lines(ax, group, "cost", "mean", yerr="std")
        if log_x:
            log_x_axis(ax)
    add_legend(fig, methods)
    return fig
