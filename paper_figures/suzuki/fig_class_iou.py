"""Suzuki Table 2's claim: HCFCN-32 improves IoU most for thin and small classes (pole, traffic
light, traffic sign, person, rider, bicycle, ...), against FCN-32.

Left panel(s), ours: IoU (%) per thin/small class of FCN-32 (HCFCN-32 at level 0) and HCFCN-32
at level 2 (block branch), mean over seeds, one panel per dataset × split × input size; a class
whose IoU is 0 for every model in the panel is marked "not learned" instead of drawn as a
zero bar. Classes the dataset does not have are left out. Right panel: the reported Table 2
values (Cityscapes test, ResNet-101, multi-scale). Reads rows: iou.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.rows import panel_groups, seed_summary
from paper_figures.style.palette import method_color
from paper_figures.style.panels import (FONT_SIZE, NOTE_COLOR, ZERO, add_legend, empty_panel, grouped_bars,
                                        label_axes, new_figure, resolution_label, split_titles)
from paper_figures.suzuki.shared import (LEVEL_PANEL_KEY, REPORTED_TITLE, THIN_SMALL_CLASSES, architectures,
                                         at_paper_settings, reported)

TITLE = "Suzuki 2021, Table 2: IoU of thin and small classes, FCN-32 vs HCFCN-32"
XLABEL = "class (thin and small, Table 2)"
YLABEL = "IoU (%)"
COMPARED = ["FCN-32", "HCFCN-32"]
# Each architecture in the colour of its run label (FCN-32 = level 0, HCFCN-32 = level 2).
COLORS = {"FCN-32": method_color("hcfcn32_levels0"), "HCFCN-32": method_color("hcfcn32_levels2")}
NOT_LEARNED = "not\nlearned"


@FIGURES.register("suzuki_class_iou")
def make(df: pd.DataFrame) -> Figure:
    rows = at_paper_settings(architectures(df, "iou"))
    rows = rows[rows["architecture"].isin(COMPARED) & rows["class_name"].isin(THIN_SMALL_CLASSES)]
    summary = seed_summary(rows.assign(value=rows["value"].astype(float) * 100.0),
                           LEVEL_PANEL_KEY + ["architecture", "class_name"])
    groups = panel_groups(summary, LEVEL_PANEL_KEY)
    keys = [(d, s, resolution_label(h, w)) for (d, s, h, w), _ in groups]
    common, titles = split_titles(keys)
    fig, axes = new_figure(max(1, len(groups)) + 1, f"{TITLE}\n{common}" if common else TITLE)
    if not groups:
        label_axes(axes[0], "ours", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok 'iou' rows of FCN-32 and HCFCN-32\n(experiment suzuki_hc)")
    for ax, panel, (_, group) in zip(axes, titles, groups):
        label_axes(ax, f"ours: {panel}" if panel else "ours", XLABEL, YLABEL)
        classes = [c for c in THIN_SMALL_CLASSES if c in set(group["class_name"])]
        grouped_bars(ax, group, classes, "class_name", series="architecture", order=COMPARED, colors=COLORS,
                     labels={a: a for a in COMPARED})
        best = group.groupby("class_name")["mean"].max()
        for i, name in enumerate(classes):
            if best.get(name, 0.0) <= ZERO * 100.0:
                ax.text(i, 1.0, NOT_LEARNED, ha="center", va="bottom", fontsize=FONT_SIZE - 3, color=NOTE_COLOR)
        ax.set_ylim(0.0, max(10.0, float(np.nanmax(group["mean"])) * 1.15))
    rep = reported("Table 2", "iou")
    rep = rep[rep["architecture"].isin(COMPARED) & rep["class_name"].isin(THIN_SMALL_CLASSES)]
    ax = axes[len(axes) - 1]
    label_axes(ax, REPORTED_TITLE, XLABEL, YLABEL)
    if rep.empty:
        empty_panel(ax, "no reported Table 2 rows in results/reported/suzuki2021.csv")
    else:
        values = rep.assign(mean=rep["value"] * 100.0, std=0.0, n=1)
        grouped_bars(ax, values, [c for c in THIN_SMALL_CLASSES if c in set(rep["class_name"])], "class_name",
                     series="architecture", order=COMPARED, colors=COLORS, labels={a: a for a in COMPARED})
        ax.set_ylim(0.0, 100.0)
    add_legend(fig, [], extra=[(a, {"color": COLORS[a], "marker": "s", "linestyle": "none", "markersize": 7})
                               for a in COMPARED])
    return fig
