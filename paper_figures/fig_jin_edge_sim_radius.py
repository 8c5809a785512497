"""Jin et al. Fig 14: mIoU of each simulated edge-based sampler (one network per blur radius).

Bars: mIoU (%) of every ``edge_sim_r{R}`` run (radius R parsed from the method label; ``r0p5``
is 0.5), means over seeds with one-std error bars where there is more than one seed; the best
radius is drawn solid and annotated, the others faded; uniform's mIoU at the same resolution is a
dashed reference line. ``edge_sim`` is an oracle (edges from the ground truth). One panel per
dataset × model × split × resolution. Reads rows: miou.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.fig_jin_common import edge_sim_radius, panel_resolution_key, square_legend, summary_by_panel
from paper_figures.style import (FONT_SIZE, PANEL_KEY, RESOLUTION, empty_panel, label_axes,
                                 method_color, method_label, method_style, new_figure, panel_groups, split_titles)

XLABEL = "edge blur radius R (deformation-map px)"
YLABEL = "mIoU (%)"
TITLE = "Simulated edge-based (oracle) by radius\n(Jin et al. Fig 14)"
FADED_ALPHA = 0.35


def radius_summary(df: pd.DataFrame) -> pd.DataFrame:
    """mIoU (%) per panel and radius over seeds; columns PANEL_KEY, height, width, method, mean, std, n, radius."""
    summary = summary_by_panel(df, "miou")
    summary["radius"] = summary["method"].map(edge_sim_radius)
    summary = summary.dropna(subset=["radius"]).copy()
    summary[["mean", "std"]] = summary[["mean", "std"]].astype(float) * 100.0
    return summary


@FIGURES.register("jin_edge_sim_radius")
def make(df: pd.DataFrame) -> Figure:
    panel_key = PANEL_KEY + RESOLUTION
    summary = radius_summary(df)
    uniform = summary_by_panel(df, "miou", method="uniform")
    groups = panel_groups(summary, panel_key)
    common, titles = split_titles([panel_resolution_key(key) for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{TITLE}\n{common}" if common else TITLE, sharey=True)
    color = method_color("edge_sim")
    uniform_line = {k: v for k, v in method_style("uniform").items() if k != "marker"}
    legend = [("best radius", {"color": color, "marker": "s", "linestyle": "none", "markersize": 7}),
              ("other radii", {"color": color, "marker": "s", "linestyle": "none", "markersize": 7,
                               "alpha": FADED_ALPHA}),
              (method_label("uniform") + " (reference)", uniform_line)]
    if not groups:
        label_axes(axes[0], "", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok 'miou' rows of\nedge_sim_r{R} runs (the radius sweep)")
        square_legend(fig, [], extra=legend, max_columns=2)
        return fig
    for ax, panel, (key, group) in zip(axes, titles, groups):
        label_axes(ax, panel, XLABEL, YLABEL if ax.get_subplotspec().is_first_col() else "")
        group = group.sort_values("radius")
        best = int(np.argmax(group["mean"].to_numpy(float)))
        x = np.arange(len(group))
        many = (group["n"] > 1).to_numpy()
        bars = ax.bar(x, group["mean"].to_numpy(float), width=0.7, color=color, label="_bars",
                      yerr=np.where(many, group["std"].to_numpy(float), 0.0) if many.any() else None,
                      error_kw={"elinewidth": 0.6, "capsize": 2})
        for i, bar in enumerate(bars):
            bar.set_alpha(1.0 if i == best else FADED_ALPHA)
        ax.annotate(f"best R={group['radius'].iloc[best]:g}", (x[best], group["mean"].iloc[best]),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=FONT_SIZE - 2)
        ax.set_xticks(x, [f"{r:g}" for r in group["radius"]])
        here = uniform[(uniform[panel_key].astype(str) == [str(k) for k in key]).all(axis=1)]
        if not here.empty:
            ax.axhline(float(here["mean"].mean()) * 100.0, linewidth=1.0, **uniform_line)
        low = min(group["mean"].min(), *(here["mean"].astype(float) * 100.0)) if not here.empty else group["mean"].min()
        ax.set_ylim(bottom=max(0.0, float(low) - 5.0))  # bars differ by a few points: do not start at 0
    square_legend(fig, [], extra=legend, max_columns=2)
    return fig
