"""Suzuki Fig 3: the final clusters of hierarchical clustering over one synthcity image.

Each HC run's evaluation stores, for the eval split's first image, every cell of the finest
clustered level's grid with its final cluster (the cell followed through every level to its
coarsest seed: ``HW / 32^2`` clusters at output stride 32) and the label at the cell's centre
(rows ``cluster_id`` and ``cluster_cell_label``, size_bin = row-major cell index, stage
``cells=<h>x<w>``; written by ``methods/hierarchical_clustering/method.py``). The panels draw
that label map with the cluster boundaries as yellow lines, as the paper does over the image,
one panel per run (HCFCN-32 at level 2 first, the paper's model, then the other HC runs).
Reads rows: cluster_id, cluster_cell_label.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.rows import ok_rows, with_params
from paper_figures.style.panels import add_legend, empty_panel, label_axes, new_figure, split_titles
from paper_figures.suzuki.shared import PAPER_LEVELS, architecture

EXPERIMENT = "suzuki_hc"
# Two lines: the title must fit a one-column figure (a single panel).
TITLE = "Suzuki 2021, Fig 3: cluster boundaries\nof the last level over a synthcity image"
XLABEL = "column (cells of the finest clustered level)"
YLABEL = "row (cells)"
BOUNDARY_COLOR = "#FFD700"  # the paper's yellow lines
LABEL_COLORS = ListedColormap(["#4C4C4C", "#8FB3D9", "#A6A6A6", "#6B8E23", "#C9A26B", "#87CEEB", "#D9534F",
                               "#5CB85C", "#F0AD4E", "#9370DB", "#20B2AA", "#E377C2"])
_GRID = re.compile(r"^cells=(\d+)x(\d+)$")
KEY = ["run_id", "dataset", "split", "method", "model", "stage"]


def cell_maps(df: pd.DataFrame) -> list:
    """[(title parts, levels, clusters (h, w), labels (h, w))] per run with both kinds of rows."""
    maps = []
    clusters = with_params(ok_rows(df, "cluster_id"), registered="method", levels="options.levels")
    labels = ok_rows(df, "cluster_cell_label")
    for key, group in clusters.groupby(KEY, sort=True):
        match = _GRID.match(str(key[-1]))
        lab = labels[(labels[KEY].astype(str) == [str(k) for k in key]).all(axis=1)]
        if match is None or lab.empty:
            continue
        h, w = int(match.group(1)), int(match.group(2))
        grid = np.full(h * w, -1, np.int64)
        grid[group["size_bin"].astype(int).to_numpy()] = group["value"].astype(int).to_numpy()
        cell_labels = np.full(h * w, -1, np.int64)
        cell_labels[lab["size_bin"].astype(int).to_numpy()] = lab["value"].astype(int).to_numpy()
        row = group.iloc[0]
        name = architecture(row["registered"], row["model"], row["levels"]) or str(row["method"])
        maps.append(((str(key[1]), str(key[2]), f"{name}, level {row['levels']}"), row["levels"],
                     grid.reshape(h, w), cell_labels.reshape(h, w)))
    # the paper's model first, then by level
    maps.sort(key=lambda m: (m[1] != PAPER_LEVELS, m[0][2]))
    return maps


def boundary_segments(clusters: np.ndarray) -> list:
    """Cell-edge segments ``((x0, x1), (y0, y1))`` between 4-neighbours of different clusters."""
    segments = []
    rows, cols = np.nonzero(clusters[:, :-1] != clusters[:, 1:])
    segments += [((c + 0.5, c + 0.5), (r - 0.5, r + 0.5)) for r, c in zip(rows, cols)]
    rows, cols = np.nonzero(clusters[:-1, :] != clusters[1:, :])
    segments += [((c - 0.5, c + 0.5), (r + 0.5, r + 0.5)) for r, c in zip(rows, cols)]
    return segments


@FIGURES.register("suzuki_clusters")
def make(df: pd.DataFrame) -> Figure:
    maps = cell_maps(df)
    common, titles = split_titles([m[0] for m in maps])
    fig, axes = new_figure(max(1, len(maps)), f"{TITLE}\n{common}" if common else TITLE)
    legend = [("cluster boundary", {"color": BOUNDARY_COLOR, "linewidth": 1.2}),
              ("label map (one colour per class)", {"color": LABEL_COLORS(1), "marker": "s", "linestyle": "none",
                                                    "markersize": 7})]
    if not maps:
        label_axes(axes[0], "", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs 'cluster_id' and 'cluster_cell_label' rows\n"
                             "(evaluation of a hierarchical_clustering run at levels >= 1)")
    for ax, panel, (_, _, clusters, labels) in zip(axes, titles, maps):
        label_axes(ax, panel, XLABEL, YLABEL)
        shown = np.ma.masked_less(labels % 255, 0)  # the ignore label (255) drawn as class 0
        ax.imshow(shown, cmap=LABEL_COLORS, vmin=0, vmax=LABEL_COLORS.N - 1, interpolation="nearest")
        for xs, ys in boundary_segments(clusters):
            ax.plot(xs, ys, color=BOUNDARY_COLOR, linewidth=0.6)
        ax.set_xlim(-0.5, clusters.shape[1] - 0.5)
        ax.set_ylim(clusters.shape[0] - 0.5, -0.5)
        count = f"{len(np.unique(clusters))} clusters"
        ax.set_title(f"{panel}: {count}" if panel else count, fontsize=8)
    add_legend(fig, [], extra=legend)
    return fig
