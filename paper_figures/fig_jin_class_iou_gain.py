"""Jin et al. Fig 5: per-class IoU gain over uniform, classes ordered by pixel frequency.

Bars: a method's per-class IoU minus uniform's (percentage points; means over seeds, error bars
the method's std where there is more than one seed), for deformation (ours, joint loss) and the
other learned / edge-based samplers of :data:`GAIN_METHODS` present. Classes are ordered by
increasing original pixel frequency (``class_frequency`` stage original of the same dataset and
split, averaged over runs), shown in the tick labels; without those rows, alphabetically.
One panel per dataset × model × split × resolution. Reads rows: iou (class_name), class_frequency.
"""
from __future__ import annotations

from typing import List, Tuple

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.fig_jin_common import (class_original_frequency, class_ticks, grouped_bars, panel_resolution_key,
                                          square_legend, summary_by_panel)
from paper_figures.style import (PANEL_KEY, RESOLUTION, empty_panel, label_axes, new_figure, panel_groups,
                                 split_titles)

# Fig 5 compares ours with the edge-based baseline; deformation first in METHOD_ORDER.
GAIN_METHODS: Tuple[str, ...] = ("edge_based", "deformation", "deformation_single", "edge_sim")
XLABEL = "class (pixel frequency, %)"
YLABEL = "IoU gain over uniform (pp)"
TITLE = "Per-class IoU gain over uniform, classes by frequency (Jin et al. Fig 5)"


@FIGURES.register("jin_class_iou_gain")
def make(df: pd.DataFrame) -> Figure:
    panel_key = PANEL_KEY + RESOLUTION
    summary = summary_by_panel(df[df["method"].isin(("uniform",) + GAIN_METHODS)], "iou", ["class_name"])
    summary["class_name"] = summary["class_name"].astype(str)
    uniform = summary[summary["method"] == "uniform"][panel_key + ["class_name", "mean"]]
    gains = summary[summary["method"] != "uniform"].merge(uniform.rename(columns={"mean": "uniform"}),
                                                          on=panel_key + ["class_name"], how="inner")
    gains["mean"] = (gains["mean"].astype(float) - gains["uniform"].astype(float)) * 100.0
    gains["std"] = gains["std"].astype(float) * 100.0
    groups = panel_groups(gains, panel_key)
    common, titles = split_titles([panel_resolution_key(key) for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{TITLE}\n{common}" if common else TITLE, sharey=True)
    zero_line = [("0 = same IoU as uniform", {"color": "#000000", "linewidth": 0.6})]
    if not groups:
        label_axes(axes[0], "", XLABEL, YLABEL)
        needs = "per-class 'iou' rows of uniform and of\ndeformation / edge based / edge sim"
        empty_panel(axes[0], f"no data: needs ok {needs}")
        square_legend(fig, [], extra=zero_line)
        return fig
    methods: List[str] = []
    for ax, panel, (key, group) in zip(axes, titles, groups):
        dataset, _, split = key[:3]
        where = {"dataset": dataset} if pd.isna(split) else {"dataset": dataset, "split": split}
        frequency = class_original_frequency(df, **where)
        classes = sorted(group["class_name"].unique())
        ordered = [c for c in frequency.index if c in set(classes)] + [c for c in classes if c not in frequency]
        xlabel = XLABEL if len(frequency) else "class (alphabetical: no frequency rows)"
        label_axes(ax, panel, xlabel, YLABEL if ax.get_subplotspec().is_first_col() else "")
        methods += grouped_bars(ax, group, ordered, "class_name")
        ax.set_xticklabels(class_ticks(ordered, frequency), fontsize=6)
    square_legend(fig, methods, extra=zero_line)
    return fig
