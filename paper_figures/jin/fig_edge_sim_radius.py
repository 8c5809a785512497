"""Jin et al. Fig 14: mIoU of the simulated edge-based sampler (one network per blur radius).

Bars: mIoU (%) of every ``edge_sim`` run by its blur radius (``options.radius`` of its params),
from 0, means over seeds with one-std error bars where there is more than one seed; the best
radius is drawn solid and annotated, the others faded; uniform's mIoU at the same resolution is
a dashed reference line. ``edge_sim`` is an oracle (edges from the ground truth). One panel per
dataset × model × split × resolution, each with its own y range so every bar, error bar, label
and the reference line are inside the axes. Reads rows: miou.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.jin.shared import panel_resolution_key, summary_by_panel
from paper_figures.rows import NO_PARAMS_NOTE, PANEL_KEY, RESOLUTION, has_params, panel_groups
from paper_figures.style.palette import method_color, method_label
from paper_figures.style.panels import (FONT_SIZE, add_legend, empty_panel, label_axes, new_figure,
                                        reference_line_style, split_titles)

# The radius sweep is its own experiment: the default run trains one radius (CPU budget).
EXPERIMENT = "jin_edge_sim_radii"
XLABEL = "edge blur radius R (deformation-map px)"
YLABEL = "mIoU (%)"
TITLE = "Jin et al. Fig 14: simulated edge-based sampler (oracle) by blur radius"
FADED_ALPHA = 0.35
HEADROOM = 1.18  # y range above the tallest bar / line: room for the "best" label inside the axes


def radius_summary(df: pd.DataFrame) -> pd.DataFrame:
    """mIoU (%) per panel and radius over seeds of edge_sim runs; columns PANEL_KEY, height, width,
    radius, mean, std, n."""
    summary = summary_by_panel(df, "miou", ["radius"])
    summary = summary[(summary["registered"] == "edge_sim") & summary["radius"].notna()].copy()
    summary["radius"] = summary["radius"].astype(float)
    summary[["mean", "std"]] = summary[["mean", "std"]].astype(float) * 100.0
    return summary


@FIGURES.register("jin_edge_sim_radius")
def make(df: pd.DataFrame) -> Figure:
    panel_key = PANEL_KEY + RESOLUTION
    summary = radius_summary(df)
    overall = summary_by_panel(df, "miou")
    uniform = overall[overall["registered"] == "uniform"]
    groups = panel_groups(summary, panel_key)
    common, titles = split_titles([panel_resolution_key(key) for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{TITLE}\n{common}" if common else TITLE)
    color = method_color("edge_sim")
    legend = [("best radius", {"color": color, "marker": "s", "linestyle": "none", "markersize": 7}),
              ("other radii", {"color": color, "marker": "s", "linestyle": "none", "markersize": 7,
                               "alpha": FADED_ALPHA}),
              (method_label("uniform") + " (reference)", reference_line_style())]
    if not groups:
        label_axes(axes[0], "", XLABEL, YLABEL)
        needs = NO_PARAMS_NOTE if not has_params(df) else "ok 'miou' rows of edge_sim runs\n(the radius sweep)"
        empty_panel(axes[0], f"no data: needs {needs}")
        add_legend(fig, [], extra=legend)
        return fig
    for ax, panel, (key, group) in zip(axes, titles, groups):
        label_axes(ax, panel, XLABEL, YLABEL)
        group = group.sort_values("radius")
        means, stds = group["mean"].to_numpy(float), group["std"].to_numpy(float)
        many = (group["n"] > 1).to_numpy()
        errors = np.where(many, stds, 0.0)
        best = int(np.argmax(means))
        x = np.arange(len(group))
        bars = ax.bar(x, means, width=0.7, color=color, label="_bars", yerr=errors if many.any() else None,
                      error_kw={"elinewidth": 0.6, "capsize": 2})
        for i, bar in enumerate(bars):
            bar.set_alpha(1.0 if i == best else FADED_ALPHA)
        ax.annotate(f"best R={group['radius'].iloc[best]:g}", (x[best], means[best] + errors[best]),
                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=FONT_SIZE - 2)
        ax.set_xticks(x, [f"{r:g}" for r in group["radius"]])
        ax.set_xlim(-0.6, len(group) - 0.4)
        here = uniform[(uniform[panel_key].astype(str) == [str(k) for k in key]).all(axis=1)]
        top = float(np.max(means + errors))
        if not here.empty:
            reference = float(here["mean"].astype(float).mean()) * 100.0
            ax.axhline(reference, linewidth=1.0, **reference_line_style())
            top = max(top, reference)
        # Bars start at 0: a truncated axis would exaggerate differences of a few points.
        ax.set_ylim(0.0, max(top, 1.0) * HEADROOM)
    add_legend(fig, [], extra=legend)
    return fig
