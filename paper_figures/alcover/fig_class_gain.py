"""Alcover-Couso et al. Table I as bars: per-class IoU gain of soft over nearest labels.

Gain = IoU(soft_labels) − IoU(uniform) in pp (mean over seeds) per class and training
resolution. Our classes are ordered by their full-resolution frequency (most frequent left,
rarest right: the paper claims gains concentrate in thin and rare classes), taken from the
``class_frequency`` rows with stage ``original``; bars are coloured by downsampling scale.
Classes neither strategy ever learned at a resolution (IoU 0 for both: no gain to read) get no
bar; the panel names them instead.
The paper's Table I is drawn in separate panels, one per network.
"""
from __future__ import annotations

from typing import Dict, List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.alcover.shared import (class_order, iou_gains, prior_original_heights, reported, scale_color,
                                          scale_text, stacked_figure)
from paper_figures.rows import PANEL_KEY, ok_rows, panel_groups
from paper_figures.style.panels import (FONT_SIZE, degenerate_note, empty_panel, grouped_bars, label_axes, note,
                                        panel_title, resolution_label)

TITLE = "Per-class IoU gain of soft over nearest labels (Table I)"
XLABEL = "class (ours: most frequent left, rarest right)"
YLABEL = "IoU soft − nearest (pp)"


def frequency_order(df: pd.DataFrame, dataset: object, classes: List[str]) -> List[str]:
    """``classes`` by descending full-resolution frequency in ``dataset`` (unknown ones last, in order)."""
    freq = ok_rows(df, "class_frequency", stage="original", dataset=dataset).dropna(subset=["class_name"])
    share = freq.groupby("class_name")["value"].mean().to_dict()
    return sorted(classes, key=lambda c: (c not in share, -share.get(c, 0.0), classes.index(c)))


@FIGURES.register("alcover_class_gain")
def make(df: pd.DataFrame) -> Figure:
    gains = iou_gains(df)
    groups = panel_groups(gains, PANEL_KEY)
    paper = reported("Table I", "iou")
    paper_groups = list(paper.groupby("model", sort=True)) if not paper.empty else []
    fig, axes = stacked_figure(max(1, len(groups)) + max(1, len(paper_groups)), TITLE)
    heights = prior_original_heights(df)
    if not groups:
        label_axes(axes[0], "ours", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok per-class 'iou' rows for both uniform and soft_labels")
    for ax, (key, group) in zip(axes, groups):
        label_axes(ax, "ours · " + panel_title(*key), XLABEL, YLABEL)
        classes = frequency_order(df, key[0], class_order(group))
        group = group.assign(resolution=[resolution_label(h, w) for h, w in zip(group["height"], group["width"])],
                             mean=group["gain"])
        pairs = sorted({(int(h), int(w)) for h, w in zip(group["height"], group["width"])})
        series = [resolution_label(h, w) for h, w in pairs]
        colors: Dict[str, str] = {}
        names: Dict[str, str] = {}
        for i, (h, w) in enumerate(pairs):
            original = heights.get(str(key[0]))
            scale = h / original if original else 2.0 ** (i - len(pairs))
            colors[resolution_label(h, w)] = scale_color(scale)
            names[resolution_label(h, w)] = resolution_label(h, w) + (f" ({scale_text(scale)})" if original else "")
        # A (class, resolution) neither strategy learned (IoU 0 for both) is a gap, not a 0 bar.
        learned = group[group["learned"].astype(bool)]
        never = [c for c in classes if c not in set(learned["class_name"])]
        classes = [c for c in classes if c not in never]
        if not classes:
            degenerate_note(ax, "no class learned by either strategy (IoU 0 for both):\nno gain to show")
            continue
        grouped_bars(ax, learned, classes, "class_name", series="resolution", order=series, colors=colors,
                     labels=names, yerr=None)
        _finish(ax, classes)
        if never:
            note(ax, "left out, never learned by either strategy (IoU 0 for both): " + ", ".join(never))
    paper_axes = axes[max(1, len(groups)):]
    if not paper_groups:
        label_axes(paper_axes[0], "reported · Table I", XLABEL, YLABEL)
        empty_panel(paper_axes[0], "no reported numbers")
    for ax, (model, group) in zip(paper_axes, paper_groups):
        label_axes(ax, f"reported · {group['dataset'].iloc[0]} · {model} (Table I)", "class (paper order)", YLABEL)
        wide = group.groupby(["scale", "class_name", "method"])["value"].mean().unstack("method")
        if not {"soft_labels", "uniform"} <= set(wide.columns):
            empty_panel(ax, "no reported numbers for both uniform and soft_labels")
            continue
        gain = ((wide["soft_labels"] - wide["uniform"]) * 100.0).rename("mean").dropna().reset_index()
        gain["series"] = [scale_text(s) for s in gain["scale"]]
        scales = sorted(gain["scale"].unique())
        colors = {scale_text(s): scale_color(s) for s in scales}
        classes = class_order(group)
        grouped_bars(ax, gain, classes, "class_name", series="series", order=[scale_text(s) for s in scales],
                     colors=colors, labels={scale_text(s): f"scale {scale_text(s)}" for s in scales}, yerr=None)
        _finish(ax, classes)
    return fig


def _finish(ax, classes: List[str]) -> None:
    ax.set_xticklabels(classes, rotation=60, ha="right", fontsize=FONT_SIZE - 2)
    ax.axhline(0.0, color="#999999", linewidth=0.6)
    # Beside the panel, not over the bars (constrained layout makes room).
    ax.legend(fontsize=FONT_SIZE - 2, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
