"""Jin et al. Fig 5: per-class IoU gain over uniform, classes ordered by pixel frequency.

Bars: a method's per-class IoU minus uniform's (percentage points; means over seeds, error bars
the method's std where there is more than one seed), for deformation (ours, joint loss) and the
other learned / edge-based samplers of :data:`GAIN_METHODS` present. Classes are ordered by
increasing original pixel frequency (``class_frequency`` stage original of the same dataset and
split, averaged over runs), shown in the tick labels; without those rows, alphabetically.
Classes that neither the method nor uniform ever predicted right (IoU 0 for both) get no bar: a
gain of 0 - 0 is no result; the panel names the classes no method learned.
One panel per dataset × model × split × resolution. Reads rows: iou (class_name), class_frequency.
"""
from __future__ import annotations

from typing import List, Tuple

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.jin.shared import (class_original_frequency, class_ticks, gain_over_uniform, jin_rows,
                                      panel_resolution_key, summary_by_panel)
from paper_figures.rows import PANEL_KEY, RESOLUTION, panel_groups
from paper_figures.style.panels import (ZERO, add_legend, degenerate_note, empty_panel, grouped_bars, label_axes,
                                        new_figure, note, split_titles)

# Fig 5 compares ours with the edge-based baseline; deformation first in METHOD_ORDER.
GAIN_METHODS: Tuple[str, ...] = ("edge_based", "deformation", "deformation_single", "edge_sim")
XLABEL = "class (pixel frequency, %)"
YLABEL = "IoU gain over uniform (pp)"
TITLE = "Per-class IoU gain over uniform, classes by frequency (Jin et al. Fig 5)"


@FIGURES.register("jin_class_iou_gain")
def make(df: pd.DataFrame) -> Figure:
    panel_key = PANEL_KEY + RESOLUTION
    summary = summary_by_panel(jin_rows(df), "iou", ["class_name"])
    summary = summary[summary["registered"].isin(("uniform",) + GAIN_METHODS)]
    summary["class_name"] = summary["class_name"].astype(str)
    gains = gain_over_uniform(summary, panel_key + ["class_name"])
    gains["learned"] = gains[["mean", "uniform"]].astype(float).abs().max(axis=1) > ZERO
    gains = gains.assign(mean=gains["gain"], std=gains["gain_std"])
    groups = panel_groups(gains, panel_key)
    common, titles = split_titles([panel_resolution_key(key) for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{TITLE}\n{common}" if common else TITLE)
    zero_line = [("0 = same IoU as uniform", {"color": "#000000", "linewidth": 0.6})]
    if not groups:
        label_axes(axes[0], "", XLABEL, YLABEL)
        needs = "per-class 'iou' rows of uniform and of\ndeformation / edge based / edge sim"
        empty_panel(axes[0], f"no data: needs ok {needs}")
        add_legend(fig, [], extra=zero_line, bars=True)
        return fig
    methods: List[str] = []
    for ax, panel, (key, group) in zip(axes, titles, groups):
        dataset, _, split = key[:3]
        where = {"dataset": dataset} if pd.isna(split) else {"dataset": dataset, "split": split}
        frequency = class_original_frequency(df, **where)
        learned = group[group["learned"].astype(bool)]
        never = sorted(set(group["class_name"]) - set(learned["class_name"]))
        classes = sorted(learned["class_name"].unique())
        ordered = [c for c in frequency.index if c in set(classes)] + [c for c in classes if c not in frequency]
        xlabel = XLABEL if len(frequency) else "class (alphabetical: no frequency rows)"
        label_axes(ax, panel, xlabel, YLABEL)
        if not ordered:
            degenerate_note(ax, "no class learned by any method or uniform\n(IoU 0 for all): no gain to show")
            continue
        methods += grouped_bars(ax, learned, ordered, "class_name")
        ax.set_xticklabels(class_ticks(ordered, frequency), fontsize=6)
        if never:
            note(ax, "left out, never learned (IoU 0 for every method): " + ", ".join(never))
    add_legend(fig, methods, extra=zero_line, bars=True)
    return fig
