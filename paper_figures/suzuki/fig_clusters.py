"""Suzuki Fig 3: the final clusters of hierarchical clustering over one synthcity image.

Each HC run's evaluation stores, for the eval split's first image, the edges of the finest
clustered level's grid (at most 32x64 cells; finer grids subsampled at cell centres) between
cells of different final clusters (each cell followed through every level to its coarsest
seed: ``HW / 32^2`` clusters at output stride 32), and between cells of different labels (the
label at the cell's centre): rows ``cluster_boundary`` / ``label_boundary``, value (and
size_bin) = the row-major index of the cell left of / above the edge, stage
``cells=<h>x<w>,right`` or ``cells=<h>x<w>,down`` (written by
``methods/hierarchical_clustering/method.py``). The panels draw the
cluster boundaries as yellow lines, as the paper does, over the label boundaries, one panel per
run (the paper's level 2 first). Reads rows: cluster_boundary, label_boundary.
"""
from __future__ import annotations

import re

import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.rows import ok_rows, with_params
from paper_figures.style.panels import add_legend, empty_panel, label_axes, new_figure, split_titles
from paper_figures.suzuki.shared import PAPER_LEVELS, architecture

# Two lines: the title must fit a one-column figure (a single panel).
TITLE = "Suzuki 2021, Fig 3: cluster boundaries\nof the last level over a synthcity image"
XLABEL = "column (cells)"
YLABEL = "row (cells)"
BOUNDARY_COLOR = "#FFD700"  # the paper's yellow lines
LABEL_BOUNDARY_COLOR = "#BBBBBB"
BACKGROUND = "#2B2B2B"  # dark, so the yellow lines read as in the paper's figure
_GRID = re.compile(r"^cells=(\d+)x(\d+),(right|down)$")
KEY = ["run_id", "dataset", "split", "method", "model", "grid"]


def segments(edges: pd.DataFrame, width: int) -> list:
    """``((x0, x1), (y0, y1))`` in cell coordinates of each edge row (value = cell index, ``direction`` column)."""
    out = []
    for index, direction in zip(edges["value"].astype(int), edges["direction"]):
        r, c = divmod(index, width)
        out.append(((c + 0.5, c + 0.5), (r - 0.5, r + 0.5)) if direction == "right"
                   else ((c - 0.5, c + 0.5), (r + 0.5, r + 0.5)))
    return out


def edge_rows(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """ok rows of ``metric`` whose stage names a grid and a direction, with ``grid`` ("HxW") and ``direction``."""
    rows = ok_rows(df, metric)
    parts = rows["stage"].astype(str).str.extract(_GRID)
    rows = rows.assign(grid=parts[0] + "x" + parts[1], direction=parts[2])
    return rows[rows["direction"].notna()]


def cell_maps(df: pd.DataFrame) -> list:
    """[(title parts, levels, (h, w), cluster segments, label segments)] per run with cluster rows."""
    maps = []
    clusters = with_params(edge_rows(df, "cluster_boundary"), registered="method", levels="options.levels")
    labels = edge_rows(df, "label_boundary")
    for key, group in clusters.groupby(KEY, sort=True):
        h, w = (int(v) for v in str(key[-1]).split("x"))
        lab = labels[(labels[KEY].astype(str) == [str(k) for k in key]).all(axis=1)]
        row = group.iloc[0]
        name = architecture(row["registered"], row["model"], row["levels"]) or str(row["method"])
        maps.append(((str(key[1]), str(key[2]), f"{name}, level {row['levels']}"), row["levels"], (h, w),
                     segments(group, w), segments(lab, w)))
    maps.sort(key=lambda m: (m[1] != PAPER_LEVELS, m[0][2]))  # the paper's model first, then by name
    return maps


@FIGURES.register("suzuki_clusters")
def make(df: pd.DataFrame) -> Figure:
    maps = cell_maps(df)
    common, titles = split_titles([m[0] for m in maps])
    fig, axes = new_figure(max(1, len(maps)), f"{TITLE}\n{common}" if common else TITLE)
    legend = [("cluster boundary", {"color": BOUNDARY_COLOR, "linewidth": 1.2}),
              ("label boundary", {"color": LABEL_BOUNDARY_COLOR, "linewidth": 1.2})]
    if not maps:
        label_axes(axes[0], "", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs 'cluster_boundary' rows\n"
                             "(evaluation of a hierarchical_clustering run at levels >= 1)")
    for ax, panel, (_, _, (h, w), cluster_edges, label_edges) in zip(axes, titles, maps):
        label_axes(ax, panel, XLABEL, YLABEL)
        ax.set_facecolor(BACKGROUND)
        ax.grid(False)
        for color, edges, width in ((LABEL_BOUNDARY_COLOR, label_edges, 0.5), (BOUNDARY_COLOR, cluster_edges, 0.7)):
            if edges:
                ax.add_collection(LineCollection([list(zip(xs, ys)) for xs, ys in edges], colors=color,
                                                 linewidths=width))
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)  # rows down, as in an image
        ax.set_aspect("equal")
    add_legend(fig, [], extra=legend)
    return fig
