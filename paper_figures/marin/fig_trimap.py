"""Marin et al. Fig 13: trimap accuracy of edge-based minus uniform's, at two resolutions.

One panel per dataset × model × split × resolution, for the two smallest resolutions present
(the paper shows 64×64 and 256×256; the gain near boundaries is largest at low resolution).
Each point is the method's mean trimap accuracy over seeds minus uniform's at the same band
width, in percentage points; error bars are the method's standard deviation over seeds.

Reads rows: ``trimap_accuracy`` (band_px) of uniform and edge_based*.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.marin.shared import GROUP_KEY, RESOLUTION, compare_to_uniform, marin_rows, smallest_resolutions
from paper_figures.rows import ok_rows, seed_summary
from paper_figures.style.palette import method_label, method_style
from paper_figures.style.panels import add_legend, empty_panel, label_axes, new_figure, panel_title, plot_method_lines, resolution_label, split_titles

# Two lines: the title must fit a one-column figure (a single panel).
TITLE = "Marin et al. 2019, Fig 13:\naccuracy near boundaries, edge-based − uniform"
XLABEL = "trimap band width (px)"
YLABEL = "accuracy − uniform (pp)"
N_RESOLUTIONS = 2


def trimap_gain(df: pd.DataFrame) -> pd.DataFrame:
    """Per group, the two smallest resolutions: columns of ``compare_to_uniform`` (rel in pp)."""
    rows = marin_rows(ok_rows(df, "trimap_accuracy"))
    key = GROUP_KEY + RESOLUTION + ["band_px"]
    summary = seed_summary(rows, key + ["method", "registered"])
    if summary.empty:
        return summary
    keep = []
    for _, group in summary.groupby(GROUP_KEY, dropna=False, sort=True):
        sizes = smallest_resolutions(group, N_RESOLUTIONS)
        keep.append(group[[(int(h), int(w)) in sizes for h, w in group[RESOLUTION].to_numpy().tolist()]])
    return pd.concat(keep, ignore_index=True)


@FIGURES.register("marin_trimap")
def make(df: pd.DataFrame) -> Figure:
    """One panel per dataset × model × split × (two smallest) resolution; one line per edge-based method."""
    summary = trimap_gain(df)
    panel_key = GROUP_KEY + RESOLUTION
    groups = [] if summary.empty else list(summary.groupby(panel_key, dropna=False, sort=True))
    keys = [(*(str(v) for v in k[:-2]), resolution_label(k[-2], k[-1])) for k, _ in groups]
    common, titles = split_titles(keys)
    fig, axes = new_figure(len(groups), f"{TITLE}\n{common}" if common else TITLE)
    uniform_line = {k: v for k, v in method_style("uniform").items() if k != "marker"}
    if not groups:
        empty_panel(axes[0], "no data: needs ok\n'trimap_accuracy' rows\nof uniform and edge_based")
        label_axes(axes[0], "", XLABEL, YLABEL)
        add_legend(fig, [], extra=[(method_label("uniform") + " (reference)", uniform_line)])
        return fig
    methods: List[str] = []
    for ax, panel, (_, group) in zip(axes, titles, groups):
        label_axes(ax, panel_title(panel), XLABEL, YLABEL)
        ax.axhline(0.0, linewidth=1.0, **uniform_line)
        if not (group["registered"] == "uniform").any():
            empty_panel(ax, "no uniform rows to compare against")
            continue
        gain = compare_to_uniform(group, ["band_px"], how="difference")
        if gain.empty:
            bands = group["band_px"].astype(float)
            ax.set_xlim(bands.min() - 0.5, bands.max() + 0.5)
            ax.text(0.5, 0.6, "only uniform: nothing to compare", transform=ax.transAxes, ha="center",
                    fontsize=8, color="#555555")
            continue
        gain["band_px"] = gain["band_px"].astype(float)
        methods += plot_method_lines(ax, gain, "band_px", "rel", yerr="rel_std")
    add_legend(fig, methods, extra=[(method_label("uniform") + " (reference)", uniform_line)])
    return fig
