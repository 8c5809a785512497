"""Trimap (Marin et al. Fig 13): accuracy within a band around boundaries, minus uniform's."""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.rows import with_params, PANEL_KEY, RESOLUTION, ok_rows, panel_groups, seed_summary
from paper_figures.style.palette import method_label, method_style
from paper_figures.style.panels import add_legend, empty_panel, label_axes, new_figure, plot_method_lines, resolution_label, split_titles

XLABEL = "trimap band width (px)"
YLABEL = "accuracy − uniform (pp)"


@FIGURES.register("trimap")
def make(df: pd.DataFrame) -> Figure:
    """One panel per dataset × model × split × resolution; one line per non-uniform method.

    Each point is the method's mean trimap accuracy over seeds minus uniform's at the same
    dataset, model, split, resolution and band width, in percentage points; error bars are
    the method's standard deviation over seeds.
    """
    panel_key = PANEL_KEY + RESOLUTION
    rows = with_params(ok_rows(df, "trimap_accuracy"), registered="method")
    summary = seed_summary(rows, panel_key + ["method", "registered", "band_px"])
    groups = panel_groups(summary, panel_key)
    keys = [(*names, resolution_label(h, w)) for (*names, h, w), _ in groups]
    common, titles = split_titles(keys)
    title = "Accuracy near boundaries vs. uniform"
    fig, axes = new_figure(len(groups), f"{title}\n{common}" if common else title)
    if not groups:
        empty_panel(axes[0], "no data: needs ok 'trimap_accuracy' rows")
        label_axes(axes[0], "", XLABEL, YLABEL)
        return fig
    methods: List[str] = []
    for ax, panel, (_, group) in zip(axes, titles, groups):
        # Shared y: only the first column repeats the label.
        label_axes(ax, panel, XLABEL, YLABEL)
        is_uniform = group["registered"] == "uniform"  # the baseline by its params, whatever its label
        uniform = group[is_uniform][["band_px", "mean"]].rename(columns={"mean": "uniform"})
        others = group[~is_uniform].merge(uniform, on="band_px", how="inner")
        ax.axhline(0.0, linewidth=1.0, **{k: v for k, v in method_style("uniform").items() if k != "marker"})
        if uniform.empty:
            empty_panel(ax, "no uniform rows to compare against")
            continue
        if others.empty:
            ax.set_xlim(float(uniform["band_px"].min()) - 0.5, float(uniform["band_px"].max()) + 0.5)
            ax.text(0.5, 0.6, "only uniform: nothing to compare", transform=ax.transAxes, ha="center",
                    fontsize=8, color="#555555")
            continue
        others["delta"] = (others["mean"] - others["uniform"]) * 100.0
        others["delta_std"] = others["std"] * 100.0
        methods += plot_method_lines(ax, others, "band_px", "delta", yerr="delta_std")
    uniform_line = {k: v for k, v in method_style("uniform").items() if k != "marker"}
    add_legend(fig, methods, extra=[(method_label("uniform") + " (reference)", uniform_line)])
    return fig
