"""Marin et al. Fig 3: ground-truth sampling points of one image for lambda = 0, 0.5, 1, +inf.

One panel per lambda (per dataset × split × grid size): the ``h × w`` sampling points in pixel
coordinates of the full-resolution label map (rows down, as in an image), joined to their grid
neighbours so the topology shows. lambda = 0 puts the points on semantic boundaries (borders
fixed), lambda = +inf gives the uniform grid.

The points are drawn over the image and its label boundaries, as in the paper's Fig 3. Figures
are made from stored rows alone, so the study stores both as rows, downsampled
(``methods/edge_based/sampling_points.py``): ``image_rgb`` (one row per pixel, value
0xRRGGBB, drawn smoothed as context) and ``label_boundary_pixel`` (one row per boundary pixel,
the boundaries that attract the points), each with its grid size; both are stretched over the
full-resolution image. Where either is missing (rows from before the study stored them), the
panel draws the points on a blank frame and says what was not recorded.

Reads rows (``methods/edge_based/sampling_points.py``): ``sampling_point_row`` / ``sampling_point_col``
(stage ``lambda=<lam>``, size_bin = row-major point index, height/width = grid size),
``image_height`` / ``image_width`` and, where recorded, ``image_rgb`` (+ ``image_rgb_height`` /
``_width``) and ``label_boundary_pixel`` (+ ``label_boundary_height`` / ``_width``).
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np
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
# White boundaries read on a street scene's dark and mid tones (dark grey on a blank frame); the
# points keep the method colour.
BOUNDARY_ON_IMAGE = (1.0, 1.0, 1.0, 1.0)
BOUNDARY_ON_FRAME = (0.2, 0.2, 0.2, 0.8)
FRAME_COLOR = "#FFFFFF"
NOT_RECORDED = "not recorded in the rows: {}"
# The layers under the points, bottom to top; the grid lines and the points above them.
IMAGE_Z, BOUNDARY_Z, NEIGHBOUR_Z, POINT_Z = 0, 1, 2, 3


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


def _layer(df: pd.DataFrame, key: Tuple[object, ...], metric: str, size_prefix: str) -> Optional[np.ndarray]:
    """The ``(h, w)`` grid of a stored layer (``metric`` rows by row-major size_bin, sized by the
    ``<size_prefix>_height`` / ``_width`` rows) for the image of ``key``; NaN where no row; None when absent."""
    select = dict(zip(KEY, key))
    sizes = [ok_rows(df, f"{size_prefix}_{side}", **select)["value"] for side in ("height", "width")]
    rows = ok_rows(df, metric, **select)
    if rows.empty or any(size.empty for size in sizes):
        return None
    h, w = (int(size.iloc[0]) for size in sizes)
    index = pd.to_numeric(rows["size_bin"], errors="coerce")
    rows = rows[index.between(0, h * w - 1)].assign(index=index.astype("Int64"))
    grid = np.full(h * w, np.nan)
    values = rows.groupby("index")["value"].mean()  # one value per pixel (the same image in two runs)
    grid[values.index.to_numpy(int)] = values.to_numpy(float)
    return grid.reshape(h, w)


def image_layer(df: pd.DataFrame, key: Tuple[object, ...]) -> Optional[np.ndarray]:
    """RGBA ``(h, w, 4)`` in [0, 1] of the stored downsampled image; transparent where no row."""
    packed = _layer(df, key, "image_rgb", "image_rgb")
    if packed is None:
        return None
    known = np.isfinite(packed)
    value = np.where(known, packed, 0).astype(np.int64)
    rgb = np.stack([value // 65536, value // 256 % 256, value % 256], axis=-1) / 255.0
    return np.concatenate([rgb, known[..., None].astype(float)], axis=-1)


def boundary_layer(df: pd.DataFrame, key: Tuple[object, ...],
                   rgba: Tuple[float, float, float, float]) -> Optional[np.ndarray]:
    """RGBA ``(h, w, 4)``: ``rgba`` on the stored label-boundary pixels, clear elsewhere. The
    opacity follows each pixel's stored boundary fraction (anti-aliased, as the full-resolution
    boundary would look shrunk), so boundaries do not drown the image."""
    fraction = _layer(df, key, "label_boundary_pixel", "label_boundary")
    if fraction is None:
        return None
    out = np.zeros((*fraction.shape, 4))
    out[..., :3] = rgba[:3]
    out[..., 3] = rgba[3] * np.clip(np.nan_to_num(fraction), 0.0, 1.0)
    return out


def _draw(ax: Axes, points: pd.DataFrame, h: int, w: int, image_hw: Tuple[float, float],
          image: Optional[np.ndarray], boundaries: Optional[np.ndarray]) -> None:
    height, width = image_hw
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)  # each layer stretched over the full-resolution image
    if image is None:
        ax.add_patch(Rectangle((-0.5, -0.5), width, height, facecolor=FRAME_COLOR, edgecolor="#555555",
                               linewidth=0.6, zorder=IMAGE_Z))
    else:
        ax.imshow(image, extent=extent, interpolation="bilinear", zorder=IMAGE_Z)
    if boundaries is not None:
        ax.imshow(boundaries, extent=extent, interpolation="nearest", zorder=BOUNDARY_Z)
    missing = [name for name, layer in (("image ('image_rgb')", image),
                                        ("label boundaries ('label_boundary_pixel')", boundaries)) if layer is None]
    if missing:
        ax.text(0.5, 0.02, NOT_RECORDED.format("\n".join(missing)), transform=ax.transAxes, ha="center",
                va="bottom", fontsize=6, color="#555555", zorder=POINT_Z + 1)
    if len(points) == h * w and sorted(points["index"].astype(int)) == list(range(h * w)):
        ordered = points.sort_values("index")
        rows = ordered["row"].to_numpy(float).reshape(h, w)
        cols = ordered["col"].to_numpy(float).reshape(h, w)
        for i in range(h):
            ax.plot(cols[i], rows[i], zorder=NEIGHBOUR_Z, **NEIGHBOUR_STYLE)
        for j in range(w):
            ax.plot(cols[:, j], rows[:, j], zorder=NEIGHBOUR_Z, **NEIGHBOUR_STYLE)
    ax.plot(points["col"].to_numpy(float), points["row"].to_numpy(float), linestyle="none", marker="o",
            markersize=2.4, color=method_style(EDGE_BASED)["color"], markeredgecolor="#000000", markeredgewidth=0.3,
            zorder=POINT_Z)
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
    # Over the image and its boundaries, the edge-based colour (orange) of the points reads better
    # with a dark edge; the legend entry matches.
    point_entry = ("sampling point", {"color": method_style(EDGE_BASED)["color"], "marker": "o",
                                      "linestyle": "none", "markersize": 4, "markeredgecolor": "#000000",
                                      "markeredgewidth": 0.3})
    images = [image_layer(df, key) for key, _, _ in panels]
    boundary_rgba = BOUNDARY_ON_FRAME if not images or images[0] is None else BOUNDARY_ON_IMAGE
    extra = [point_entry, ("grid neighbours", NEIGHBOUR_STYLE),
             ("label boundary", {"color": boundary_rgba[:3], "marker": "s", "linestyle": "none", "markersize": 4,
                                 "markeredgecolor": "#555555", "markeredgewidth": 0.5})]
    if not panels:
        label_axes(axes[0], "", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok 'sampling_point_row'\nand 'sampling_point_col' rows\n"
                             "(methods.edge_based.sampling_points)")
        add_legend(fig, [], extra=extra)
        return fig
    for ax, title, (key, lam, group), image in zip(axes, titles, panels, images):
        label_axes(ax, panel_title(title), XLABEL, YLABEL)
        ax.grid(False)
        image_hw = _image_size(df, key, group)
        rgba = BOUNDARY_ON_FRAME if image is None else BOUNDARY_ON_IMAGE
        _draw(ax, group, int(key[2]), int(key[3]), image_hw, image, boundary_layer(df, key, rgba))
    add_legend(fig, [], extra=extra)
    return fig
