"""Marin et al. Figs 12 and 14: object recall by size, relative to uniform (uniform = 1).

For each dataset × model × split and each of the two smallest resolutions present, two panels:

* left (Fig 14): all objects, recall relative to uniform per size bin (q1 = smallest quarter of
  the objects by area ... q4 = largest), one line per edge-based method;
* right (Fig 12): the same per class, bars from 1 (q1..q4 shaded light to dark in the method's
  colour).

Relative recall = the method's mean recall over seeds / uniform's at the same resolution, size
bin and class; bins where uniform's recall is 0 are left out (undefined ratio).

Reads rows: ``recall_by_size`` (size_bin q1..q4, class_name or ``all``) of uniform and edge_based*.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.fig_marin_common import GROUP_KEY, RESOLUTION, compare_to_uniform, marin_rows, smallest_resolutions
from paper_figures.style import (TICK_SIZE, add_legend, empty_panel, label_axes, method_label,
                                 method_style, new_figure, ok_rows, panel_title, plot_method_lines, resolution_label,
                                 seed_summary, sort_methods, split_titles)

TITLE = "Marin et al. 2019, Figs 12 & 14: object recall by size, relative to uniform"
ALL = "all"
BIN_XLABEL = "object size bin (q1 smallest … q4 largest)"
CLASS_XLABEL = "class (bars: size bins q1 → q4)"
YLABEL = "recall relative to uniform (×)"
N_RESOLUTIONS = 2
BIN_ALPHAS = (0.35, 0.55, 0.75, 1.0)  # q1 light ... q4 dark


def _bin_order(size_bin: object) -> Tuple[int, str]:
    text = str(size_bin)
    return (int(text[1:]), text) if text[:1] == "q" and text[1:].isdigit() else (10 ** 6, text)


def relative_recall(df: pd.DataFrame) -> pd.DataFrame:
    """``compare_to_uniform(..., how="ratio")`` of recall_by_size, two smallest resolutions per group.

    Columns: dataset, model, split, height, width, class_name, size_bin, method, mean, std, n,
    uniform, rel (mean / uniform), rel_std.
    """
    rows = marin_rows(ok_rows(df, "recall_by_size"))
    key = GROUP_KEY + RESOLUTION + ["class_name", "size_bin"]
    summary = seed_summary(rows, key + ["method"])
    if summary.empty:
        return summary.assign(uniform=pd.Series(dtype=float), rel=pd.Series(dtype=float))
    keep = []
    for _, group in summary.groupby(GROUP_KEY, dropna=False, sort=True):
        sizes = smallest_resolutions(group, N_RESOLUTIONS)
        keep.append(group[[(int(h), int(w)) in sizes for h, w in group[RESOLUTION].to_numpy().tolist()]])
    summary = pd.concat(keep, ignore_index=True)
    return compare_to_uniform(summary, key, how="ratio")


def _all_objects_panel(ax: Axes, rel: pd.DataFrame, bins: Sequence[str]) -> List[str]:
    sub = rel[rel["class_name"].astype("string") == ALL].copy()
    if sub.empty:
        empty_panel(ax, "no 'all' objects rows\n(class_name = all)")
        return []
    sub["x"] = [bins.index(b) + 1 for b in sub["size_bin"].astype(str)]
    drawn = plot_method_lines(ax, sub, "x", "rel", yerr="rel_std")
    ax.set_xticks(range(1, len(bins) + 1), list(bins))
    return drawn


def _per_class_panel(ax: Axes, rel: pd.DataFrame, bins: Sequence[str]) -> List[str]:
    sub = rel[rel["class_name"].astype("string") != ALL]
    if sub.empty:
        empty_panel(ax, "no per-class rows")
        return []
    classes = sorted(sub["class_name"].astype(str).unique())
    methods = sort_methods(sub["method"])
    slots = len(methods) * len(bins)
    width = 0.8 / slots
    for m_index, method in enumerate(methods):
        color = method_style(method)["color"]
        for b_index, size_bin in enumerate(bins):
            cells = sub[(sub["method"] == method) & (sub["size_bin"].astype(str) == size_bin)]
            values = dict(zip(cells["class_name"].astype(str), cells["rel"].astype(float)))
            heights = np.array([values.get(c, np.nan) for c in classes]) - 1.0
            offset = -0.4 + width * (m_index * len(bins) + b_index + 0.5)
            ax.bar(np.arange(len(classes)) + offset, heights, width=width, bottom=1.0, color=color,
                   alpha=BIN_ALPHAS[b_index % len(BIN_ALPHAS)], linewidth=0)
    ax.use_sticky_edges = False  # keep a margin below the bars' base so the reference line at 1 shows
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right", fontsize=TICK_SIZE)
    return methods


@FIGURES.register("marin_recall_by_size")
def make(df: pd.DataFrame) -> Figure:
    """Two panels (all objects, per class) per dataset × model × split × (two smallest) resolution."""
    rel = relative_recall(df)
    panel_key = GROUP_KEY + RESOLUTION
    groups = [] if rel.empty else list(rel.groupby(panel_key, dropna=False, sort=True))
    keys = [(*(str(v) for v in k[:-2]), resolution_label(k[-2], k[-1])) for k, _ in groups]
    common, titles = split_titles(keys)
    fig, axes = new_figure(2 * max(1, len(groups)), f"{TITLE}\n{common}" if common else TITLE)
    uniform_line = {k: v for k, v in method_style("uniform").items() if k != "marker"}
    bin_entries = [(f"q{i + 1}" + (" (smallest)" if i == 0 else " (largest)" if i == 3 else ""),
                    {"color": "#555555", "marker": "s", "linestyle": "none", "alpha": a})
                   for i, a in enumerate(BIN_ALPHAS)]
    reference = [(method_label("uniform") + " = 1 (reference)", uniform_line)]
    if not groups:
        for ax, xlabel in zip(axes, (BIN_XLABEL, CLASS_XLABEL)):
            label_axes(ax, "", xlabel, YLABEL)
            empty_panel(ax, "no data: needs ok 'recall_by_size' rows\nof uniform and edge_based")
        add_legend(fig, [], extra=reference)
        return fig
    methods: List[str] = []
    for (ax_all, ax_class), panel, (_, group) in zip(zip(axes[0::2], axes[1::2]), titles, groups):
        label_axes(ax_all, panel_title(panel, "all objects"), BIN_XLABEL, YLABEL)
        label_axes(ax_class, panel_title(panel, "per class"), CLASS_XLABEL, YLABEL)
        for ax in (ax_all, ax_class):
            ax.axhline(1.0, linewidth=1.0, **uniform_line)
        bins = sorted(group["size_bin"].astype(str).unique(), key=_bin_order)
        methods += _all_objects_panel(ax_all, group, bins)
        methods += _per_class_panel(ax_class, group, bins)
    add_legend(fig, methods, extra=reference + bin_entries)
    return fig
