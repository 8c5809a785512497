"""Jin et al. Fig 9b: accuracy near boundaries (trimap) and overall mIoU, gain over uniform.

One panel per dataset × model × split × resolution. Solid lines: trimap accuracy of a method
minus uniform's (percentage points) against the band width; dotted horizontal lines in the same
colour: the method's overall mIoU minus uniform's. Means over seeds; error bars are the method's
std over seeds. Methods: :data:`JIN_METHODS` other than uniform.
Reads rows: trimap_accuracy (band_px), miou.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.fig_jin_common import jin_rows, panel_resolution_key, summary_by_panel
from paper_figures.style import (PANEL_KEY, RESOLUTION, add_legend, empty_panel, label_axes, method_label,
                                 method_style, new_figure, panel_groups, plot_method_lines, split_titles)

XLABEL = "trimap band width (px)"
YLABEL = "gain over uniform (pp)"
TITLE = "Accuracy gain over uniform near boundaries and overall (Jin et al. Fig 9b)"
MIOU_GAIN_LINE = {"color": "#555555", "linestyle": ":", "linewidth": 1.2}


def _gain(summary: pd.DataFrame, on: List[str]) -> pd.DataFrame:
    """Each non-uniform method's mean minus uniform's at the same ``on`` keys, in pp."""
    uniform = summary[summary["method"] == "uniform"][on + ["mean"]].rename(columns={"mean": "uniform"})
    others = summary[summary["method"] != "uniform"].merge(uniform, on=on, how="inner")
    others["gain"] = (others["mean"].astype(float) - others["uniform"].astype(float)) * 100.0
    others["gain_std"] = others["std"].astype(float) * 100.0
    return others


@FIGURES.register("jin_trimap_gain")
def make(df: pd.DataFrame) -> Figure:
    data = jin_rows(df)
    panel_key = PANEL_KEY + RESOLUTION
    trimap = summary_by_panel(data, "trimap_accuracy", ["band_px"])
    miou_gain = _gain(summary_by_panel(data, "miou"), panel_key)
    groups = panel_groups(trimap, panel_key)
    common, titles = split_titles([panel_resolution_key(key) for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{TITLE}\n{common}" if common else TITLE, sharey=True)
    uniform_line = {k: v for k, v in method_style("uniform").items() if k != "marker"}
    extra = [(method_label("uniform") + " (reference)", uniform_line), ("overall mIoU gain (dotted)", MIOU_GAIN_LINE)]
    if not groups:
        label_axes(axes[0], "", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok 'trimap_accuracy' rows")
        add_legend(fig, [], extra=extra)
        return fig
    methods: List[str] = []
    for ax, panel, (key, group) in zip(axes, titles, groups):
        label_axes(ax, panel, XLABEL, YLABEL if ax.get_subplotspec().is_first_col() else "")
        ax.axhline(0.0, linewidth=1.0, **uniform_line)
        if (group["method"] == "uniform").sum() == 0:
            empty_panel(ax, "no uniform rows to compare against")
            continue
        gains = _gain(group, ["band_px"])
        if gains.empty:
            ax.text(0.5, 0.6, "only uniform: nothing to compare", transform=ax.transAxes, ha="center",
                    fontsize=8, color="#555555")
            continue
        methods += plot_method_lines(ax, gains, "band_px", "gain", yerr="gain_std")
        overall = miou_gain[(miou_gain[panel_key].astype(str) == [str(k) for k in key]).all(axis=1)]
        for row in overall.itertuples():
            ax.axhline(row.gain, color=method_style(row.method)["color"], linestyle=":", linewidth=1.2)
    add_legend(fig, methods, extra=extra)
    return fig
