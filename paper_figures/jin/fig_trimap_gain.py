"""Jin et al. Fig 9b: gain over uniform near boundaries (trimap accuracy) and overall (mIoU).

Two panels per dataset × model × split × resolution, because the two gains are different
measures: left, a method's trimap accuracy minus uniform's (percentage points of pixel accuracy)
against the band width, one line per method; right, its overall mIoU minus uniform's
(percentage points of mIoU), one bar per method. Means over seeds; error bars are the method's
std over seeds where there is more than one. Methods: runs of :data:`JIN_METHODS` other than
uniform. Reads rows: trimap_accuracy (band_px), miou.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.jin.shared import gain_over_uniform, jin_rows, panel_resolution_key, summary_by_panel
from paper_figures.rows import PANEL_KEY, RESOLUTION, panel_groups
from paper_figures.style.palette import method_color, method_label, sort_methods
from paper_figures.style.panels import (add_legend, empty_panel, label_axes, new_figure,
                                        plot_method_lines, reference_line_style, split_titles)

TRIMAP_XLABEL = "trimap band width (px)"
TRIMAP_YLABEL = "trimap accuracy − uniform (pp)"
MIOU_XLABEL = "method (one bar each, colours as in the legend)"
MIOU_YLABEL = "mIoU − uniform (pp)"
TITLE = "Jin et al. Fig 9b: gain over uniform near boundaries and overall"


@FIGURES.register("jin_trimap_gain")
def make(df: pd.DataFrame) -> Figure:
    data = jin_rows(df)
    panel_key = PANEL_KEY + RESOLUTION
    trimap = summary_by_panel(data, "trimap_accuracy", ["band_px"])
    miou_gain = gain_over_uniform(summary_by_panel(data, "miou"), panel_key)
    groups = panel_groups(trimap, panel_key)
    common, titles = split_titles([panel_resolution_key(key) for key, _ in groups])
    fig, axes = new_figure(2 * max(1, len(groups)), f"{TITLE}\n{common}" if common else TITLE, ncols=2)
    extra = [(method_label("uniform") + " (reference, 0)", reference_line_style())]
    if not groups:
        for ax, xlabel, ylabel in zip(axes, (TRIMAP_XLABEL, MIOU_XLABEL), (TRIMAP_YLABEL, MIOU_YLABEL)):
            label_axes(ax, "", xlabel, ylabel)
            empty_panel(ax, "no data: needs ok 'trimap_accuracy'\nand 'miou' rows")
        add_legend(fig, [], extra=extra)
        return fig
    methods: List[str] = []
    for (ax_band, ax_miou), panel, (key, group) in zip(zip(axes[0::2], axes[1::2]), titles, groups):
        label_axes(ax_band, f"{panel} · near boundaries" if panel else "near boundaries", TRIMAP_XLABEL,
                   TRIMAP_YLABEL)
        label_axes(ax_miou, f"{panel} · overall" if panel else "overall", MIOU_XLABEL, MIOU_YLABEL)
        if not (group["registered"] == "uniform").any():
            for ax in (ax_band, ax_miou):
                empty_panel(ax, "no uniform rows to compare against")
            continue
        gains = gain_over_uniform(group, ["band_px"])
        if gains.empty:
            for ax in (ax_band, ax_miou):
                empty_panel(ax, "only uniform: nothing to compare")
            continue
        ax_band.axhline(0.0, linewidth=1.0, **reference_line_style())
        methods += plot_method_lines(ax_band, gains, "band_px", "gain", yerr="gain_std")
        overall = miou_gain[(miou_gain[panel_key].astype(str) == [str(k) for k in key]).all(axis=1)]
        if overall.empty:
            empty_panel(ax_miou, "no 'miou' rows of these methods")
            continue
        names = sort_methods(overall["method"])
        by_name = overall.set_index(overall["method"].astype(str))
        errors = [float(by_name.loc[m, "gain_std"]) if int(by_name.loc[m, "n"]) > 1 else 0.0 for m in names]
        ax_miou.bar(range(len(names)), [float(by_name.loc[m, "gain"]) for m in names], width=0.7,
                    color=[method_color(m) for m in names], yerr=errors if any(errors) else None,
                    error_kw={"elinewidth": 0.6, "capsize": 2})
        ax_miou.axhline(0.0, linewidth=1.0, **reference_line_style())
        ax_miou.set_xticks(range(len(names)), [method_label(m) for m in names], rotation=45, ha="right",
                           rotation_mode="anchor", fontsize=6)
        methods += names
    add_legend(fig, methods, extra=extra)
    return fig
