"""Marin et al. Fig 3: ground-truth sampling points of one image for lambda = 0, 0.5, 1, +inf.

One panel per lambda (per dataset × split × grid size): the ``h × w`` sampling points in pixel
coordinates of the full-resolution label map (rows down, as in an image), joined to their grid
neighbours so the topology shows. lambda = 0 puts the points on semantic boundaries (borders
fixed), lambda = +inf gives the uniform grid.

The points are drawn over the label map's class boundaries, as in the paper's Fig 3. Figures
are made from stored rows alone, and the rows do not name the image file (nor the image index
the study used), so the figure cannot read the image from disk: the boundaries come from rows,
``label_boundary_pixel`` (unit px, value = row-major pixel index ``r * W + c`` of a pixel whose
right or lower neighbour has another label; one row per pixel, same identity as the points; see
:func:`paper_figures.synthetic.label_boundary_rows`, which computes them from a label map).
Without those rows the panels draw the points on the label map's frame and say that the
boundaries were not recorded.

Reads rows (``methods/edge_based/sampling_points.py``): ``sampling_point_row`` / ``sampling_point_col``
(stage ``lambda=<lam>``, size_bin = row-major point index, height/width = grid size),
``image_height`` / ``image_width`` and, where recorded, ``label_boundary_pixel``.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from benchmark.registry import FIGURES
from paper_figures.marin.shared import EDGE_BASED
from paper_figures.rows import ok_rows
from paper_figures.style.palette import method_style
from paper_figures.style.panels import add_legend, empty_panel, label_axes, new_figure, panel_title, resolution_label, split_titles

# Two lines: the title must fit a one-column figure (a single panel).
TITLE = "Marin et al. 2019, Fig 3:\nboundary-driven sampling for different λ"
XLABEL = "column (px)"
YLABEL = "row (px)"
KEY = ["dataset", "split", "height", "width"]
NEIGHBOUR_STYLE = {"color": "#2B6CB0", "linewidth": 0.5, "alpha": 0.8}
BOUNDARY_STYLE = {"color": "#333333", "marker": "s", "linestyle": "none", "markersize": 0.35, "alpha": 0.5}
FRAME_COLOR = "#FFFFFF"
NO_BOUNDARIES = "label boundaries not recorded in the rows\n(no 'label_boundary_pixel' rows)"


def parse_lambda(stage: object) -> float:
    """``"lambda=0.5"`` -> 0.5, ``"lambda=inf"`` -> inf; anything else -> NaN."""
    text = str(stage)
    if not text.startswith("lambda="):
        return math.nan
    try:
        return float(text[len("lambda="):])
    except ValueError:
        return math.nan


def lambda_title(lam: float) -> str:
    return "λ = +∞ (uniform)" if math.isinf(lam) else f"λ = {lam:g}"


def sampling_points(df: pd.DataFrame) -> pd.DataFrame:
    """One row per point: KEY columns, ``lam``, ``index``, ``row``, ``col`` (pixels)."""
    parts = []
    for metric, name in (("sampling_point_row", "row"), ("sampling_point_col", "col")):
        rows = ok_rows(df, metric)
        rows = rows.assign(lam=rows["stage"].map(parse_lambda),
                           index=pd.to_numeric(rows["size_bin"], errors="coerce"))
        rows = rows.dropna(subset=["lam", "index", "height", "width"])
        # Mean over duplicates (e.g. the same image in two runs): one value per point.
        parts.append(rows.groupby(KEY + ["lam", "index"], sort=True)["value"].mean().rename(name))
    if any(p.empty for p in parts):
        return pd.DataFrame(columns=KEY + ["lam", "index", "row", "col"])
    return pd.concat(parts, axis=1, join="inner").reset_index()


def _image_size(df: pd.DataFrame, key: Tuple[object, ...], points: pd.DataFrame) -> Tuple[float, float]:
    """(H, W) of the label map from image_height/width rows; else the points' extent."""
    size: List[Optional[float]] = []
    for metric, column in (("image_height", "row"), ("image_width", "col")):
        rows = ok_rows(df, metric, **dict(zip(KEY, key)))
        size.append(float(rows["value"].iloc[0]) if not rows.empty else float(points[column].max()) + 1.0)
    return size[0], size[1]


def boundary_pixels(df: pd.DataFrame, key: Tuple[object, ...], width: float) -> pd.DataFrame:
    """(row, col) of the recorded label-boundary pixels of the image of ``key`` (dataset, split, h, w)."""
    rows = ok_rows(df, "label_boundary_pixel", **dict(zip(KEY[:2], key[:2])))
    index = rows["value"].dropna().astype(int).drop_duplicates().to_numpy()
    return pd.DataFrame({"row": index // int(width), "col": index % int(width)})


def _draw(ax: Axes, points: pd.DataFrame, h: int, w: int, image_hw: Tuple[float, float],
          boundaries: pd.DataFrame) -> None:
    height, width = image_hw
    ax.add_patch(Rectangle((-0.5, -0.5), width, height, facecolor=FRAME_COLOR, edgecolor="#555555", linewidth=0.6))
    if boundaries.empty:
        ax.text(0.5, 0.02, NO_BOUNDARIES, transform=ax.transAxes, ha="center", va="bottom", fontsize=6,
                color="#555555")
    else:
        ax.plot(boundaries["col"].to_numpy(float), boundaries["row"].to_numpy(float), **BOUNDARY_STYLE)
    if len(points) == h * w and sorted(points["index"].astype(int)) == list(range(h * w)):
        ordered = points.sort_values("index")
        rows = ordered["row"].to_numpy(float).reshape(h, w)
        cols = ordered["col"].to_numpy(float).reshape(h, w)
        for i in range(h):
            ax.plot(cols[i], rows[i], **NEIGHBOUR_STYLE)
        for j in range(w):
            ax.plot(cols[:, j], rows[:, j], **NEIGHBOUR_STYLE)
    ax.plot(points["col"].to_numpy(float), points["row"].to_numpy(float), linestyle="none", marker="o",
            markersize=2.4, color=method_style(EDGE_BASED)["color"], markeredgecolor="#000000", markeredgewidth=0.3)
    ax.set_xlim(-0.5 - 0.02 * width, width - 0.5 + 0.02 * width)
    ax.set_ylim(height - 0.5 + 0.02 * height, -0.5 - 0.02 * height)  # rows grow downwards, as in the image
    ax.set_aspect("equal")


@FIGURES.register("marin_sampling")
def make(df: pd.DataFrame) -> Figure:
    """One panel per lambda (rows of panels per dataset × split × grid size)."""
    points = sampling_points(df)
    panels = [] if points.empty else [(tuple(k[:-1]), k[-1], g) for k, g in
                                      points.groupby(KEY + ["lam"], sort=True)]
    keys = [(*(str(v) for v in key[:2]), f"{resolution_label(key[2], key[3])} points", lambda_title(lam))
            for key, lam, _ in panels]
    common, titles = split_titles(keys)
    fig, axes = new_figure(len(panels), f"{TITLE}\n{common}" if common else TITLE)
    # Over the label boundaries, the edge-based colour (orange) of the points reads better with
    # a dark edge; the legend entry matches.
    point_entry = ("sampling point", {"color": method_style(EDGE_BASED)["color"], "marker": "o",
                                      "linestyle": "none", "markersize": 4, "markeredgecolor": "#000000",
                                      "markeredgewidth": 0.3})
    extra = [point_entry, ("grid neighbours", NEIGHBOUR_STYLE),
             ("label boundary", {**BOUNDARY_STYLE, "markersize": 3, "alpha": 1.0})]
    if not panels:
        label_axes(axes[0], "", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok 'sampling_point_row'\nand 'sampling_point_col' rows\n"
                             "(methods.edge_based.sampling_points)")
        add_legend(fig, [], extra=extra)
        return fig
    for ax, title, (key, lam, group) in zip(axes, titles, panels):
        label_axes(ax, panel_title(title), XLABEL, YLABEL)
        ax.grid(False)
        image_hw = _image_size(df, key, group)
        _draw(ax, group, int(key[2]), int(key[3]), image_hw, boundary_pixels(df, key, image_hw[1]))
    add_legend(fig, [], extra=extra)
    return fig
