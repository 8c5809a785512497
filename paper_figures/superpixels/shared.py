"""What the superpixels track's figures share: their points, the count curves and the BR-BP curve.

* Rows: status ok, ``track == "superpixels"`` where the column exists, a requested count in
  ``n_superpixels`` (:mod:`benchmark.engine.superpixels` writes them). A point is one dataset ×
  split × method label × requested count: its metric (mean over pairs, and over runs if several)
  and its ``measured_superpixels`` (the mean count produced).
* Points are drawn at the measured count, never the requested one: methods miss a request by
  different amounts (SLIC overshoots, SEEDS undershoots), and the paper curves compare counts produced.
* One panel per dataset × split; one line per method through its requests in order of measured
  count, in the palette's order, colour and marker. Fractions are shown in %.
"""
from __future__ import annotations

from typing import List, Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from paper_figures.rows import ok_rows, panel_groups
from paper_figures.style.palette import method_label, method_style, sort_methods
from paper_figures.style.panels import (NOTE_SIZE, add_legend, empty_panel, label_axes, new_figure,
                                        split_titles)

TRACK = "superpixels"
PANEL = ["dataset", "split"]
POINT = PANEL + ["method", "n_superpixels"]
MEASURED = "measured_superpixels"
COUNT_LABEL = "measured superpixels per image (count)"
POINT_ENTRY = ("point: one requested n",
               {"color": "#555555", "marker": "o", "linestyle": "none", "markersize": 4})
COUNT_ENTRY = ("n: measured superpixels",
               {"color": "#555555", "marker": "$n$", "linestyle": "none", "markersize": 6})


def superpixel_points(df: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Columns :data:`POINT`, ``measured`` and one column per metric (fraction), complete rows only."""
    columns = POINT + ["measured", *metrics]
    frames = []
    for metric in [MEASURED, *metrics]:
        rows = ok_rows(df, metric)
        if "track" in rows.columns:
            rows = rows[rows["track"].astype("string") == TRACK]
        rows = rows[rows["n_superpixels"].notna()]
        if rows.empty:
            return pd.DataFrame(columns=columns)
        mean = rows.groupby(POINT, dropna=False)["value"].mean()
        frames.append(mean.rename("measured" if metric == MEASURED else metric))
    points = pd.concat(frames, axis=1, join="inner").reset_index()
    return points.dropna(subset=["measured", *metrics])[columns]


def _panels(points: pd.DataFrame, title: str):
    groups = panel_groups(points, PANEL)
    common, titles = split_titles([key for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{title}\n{common}" if common else title)
    return fig, axes, titles, groups


def _no_data(ax: Axes, metrics: Sequence[str], xlabel: str, ylabel: str) -> None:
    label_axes(ax, "", xlabel, ylabel)
    needs = " and ".join(f"'{m}'" for m in [*metrics, MEASURED])
    empty_panel(ax, f"no data: needs ok superpixels-track\n{needs} rows\n(dsbench segment-superpixels)")


def count_curve_figure(df: pd.DataFrame, metric: str, title: str, ylabel: str) -> Figure:
    """``metric`` (%) against the measured count, one line per method."""
    points = superpixel_points(df, [metric])
    fig, axes, titles, groups = _panels(points, title)
    if not groups:
        _no_data(axes[0], [metric], COUNT_LABEL, ylabel)
        add_legend(fig, [], extra=[POINT_ENTRY])
        return fig
    drawn: List[str] = []
    for ax, panel, (_, group) in zip(axes, titles, groups):
        label_axes(ax, panel, COUNT_LABEL, ylabel)
        for method in sort_methods(group["method"]):
            line = group[group["method"].astype(str) == method].sort_values("measured")
            ax.plot(line["measured"].to_numpy(float), line[metric].to_numpy(float) * 100.0,
                    label=method_label(method), markersize=4, linewidth=1.2, **method_style(method))
            drawn.append(method)
    add_legend(fig, drawn, extra=[POINT_ENTRY])
    return fig


def br_bp_figure(df: pd.DataFrame, title: str) -> Figure:
    """Boundary precision (%) against boundary recall (%), one line per method through its
    requests in order of measured count; each point labelled with its measured count."""
    metrics = ["boundary_recall", "boundary_precision"]
    xlabel, ylabel = "boundary recall (%)", "boundary precision (%)"
    points = superpixel_points(df, metrics)
    fig, axes, titles, groups = _panels(points, title)
    if not groups:
        _no_data(axes[0], metrics, xlabel, ylabel)
        add_legend(fig, [], extra=[COUNT_ENTRY])
        return fig
    drawn: List[str] = []
    for ax, panel, (_, group) in zip(axes, titles, groups):
        label_axes(ax, panel, xlabel, ylabel)
        for method in sort_methods(group["method"]):
            line = group[group["method"].astype(str) == method].sort_values("measured")
            style = method_style(method)
            recall = line["boundary_recall"].to_numpy(float) * 100.0
            precision = line["boundary_precision"].to_numpy(float) * 100.0
            ax.plot(recall, precision, label=method_label(method), markersize=4, linewidth=1.2, **style)
            for x, y, count in zip(recall, precision, line["measured"].to_numpy(float)):
                ax.annotate(f"{count:.0f}", (x, y), xytext=(3, 3), textcoords="offset points",
                            fontsize=NOTE_SIZE - 1, color=style["color"], gid="measured_count")
            drawn.append(method)
    add_legend(fig, drawn, extra=[COUNT_ENTRY])
    return fig
