"""Shared pieces of the Jin et al. 2022 figures (``jin_*``) and ``table_jin``; registers nothing.

Conventions
-----------
* The Jin figures compare :data:`JIN_METHODS` only (the paper's methods and baselines); method
  variants of the Fig 14 radius sweep (``edge_sim_r{R}``) and of the sensitivity experiment
  (``deformation_<param><value>``, e.g. ``deformation_sigma0.08``) have their own outputs.
* Reported numbers (``results/reported/jin2022.csv``) are drawn in a separate panel, never on the
  axes of our numbers: the paper's datasets are not synthcity.
* Percentages everywhere: fractions from the rows times 100.

Nothing here imports torch or a method.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, NullLocator

from benchmark.errors import DsbenchError
from paper_figures.style import (FONT_SIZE, PANEL_HEIGHT_IN, PANEL_KEY, RESOLUTION, TITLE_SIZE, TWO_COLUMN_IN,
                                 empty_panel, label_axes, log_x_axis, method_color, method_label, method_style,
                                 miou_with_cost, ok_rows, resolution_label, seed_summary, sort_methods)

PAPER = "jin2022"
REPORTED_TITLE = "reported: Jin et al. 2022"
# The paper's methods and baselines, as registry keys / config labels (Fig 4, 6, 9a).
JIN_METHODS: Tuple[str, ...] = ("uniform", "edge_based", "deformation", "deformation_single", "edge_sim",
                                "interpolation")
# Metric -> axis label (with unit) of the two accuracy measures the paper plots side by side.
ACCURACY_LABELS: Dict[str, str] = {"miou": "mIoU (%)", "miou_intrinsic": "mIoU(Y′, Y) (%)"}

# edge_sim_r2, edge_sim_r0.5 or edge_sim_r0p5 (a config label cannot always hold a dot).
_RADIUS = re.compile(r"^edge_sim_r(?P<value>\d+(?:[.p]\d+)?)$")
# deformation_sigma0.08, deformation_gamma100, deformation_input_size32x64, deformation_single_gamma50
_SENSITIVITY = re.compile(r"^(?P<base>deformation(?:_single)?)_(?P<param>[a-z]+(?:_[a-z]+)*?)_?"
                          r"(?P<value>\d+(?:[.p]\d+)?(?:x\d+)?)$")


def edge_sim_radius(method: str) -> Optional[float]:
    """Blur radius of an ``edge_sim_r{R}`` label (``r0p5`` means 0.5), else None."""
    match = _RADIUS.match(str(method))
    return float(match["value"].replace("p", ".")) if match else None


def sensitivity_setting(method: str) -> Optional[Tuple[str, str, str]]:
    """``(base method, parameter, value)`` of a sensitivity label, else None.

    ``deformation_sigma0.08`` and config-safe ``deformation_sigma_frac0p08`` (p for the decimal
    point, as workflow labels allow no dots) -> ``("deformation", "sigma_frac", "0.08")``.
    """
    match = _SENSITIVITY.match(str(method))
    return (match["base"], match["param"], match["value"].replace("p", ".")) if match else None


def value_sort_key(value: str) -> Tuple[float, ...]:
    """Numeric order for ``0.08``, ``100``, ``32x64`` (by each number in turn)."""
    return tuple(float(part) for part in str(value).split("x"))


def jin_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of :data:`JIN_METHODS` only."""
    return df[df["method"].astype("string").isin(JIN_METHODS).fillna(False).astype(bool)]


def accuracy_with_fraction(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric`` (miou or miou_intrinsic, %) over seeds joined with the % of pixels sampled.

    Same columns as :func:`paper_figures.style.miou_with_cost` (``mean``, ``std``, ``n``, ``cost``).
    """
    if metric != "miou":
        # miou_with_cost reads the 'miou' rows: hand it the wanted metric under that name.
        df = df[df["metric"] != "miou"].assign(metric=df["metric"].where(df["metric"] != metric, "miou"))
    return miou_with_cost(df, "fraction_pixels_sampled", 100.0)


# ---------------------------------------------------------------------------------------------
# Layout


def grid_with_reported(n_rows: int, n_cols: int, title: str) -> Tuple[Figure, List[List[Axes]], Axes]:
    """``n_rows`` x ``n_cols`` panels for our numbers plus one reported panel spanning the right column."""
    n_rows = max(1, n_rows)
    fig = Figure(figsize=(TWO_COLUMN_IN, PANEL_HEIGHT_IN * n_rows + 0.8), layout="constrained")
    spec = fig.add_gridspec(n_rows, n_cols + 1)
    ours = [[fig.add_subplot(spec[r, c]) for c in range(n_cols)] for r in range(n_rows)]
    reported = fig.add_subplot(spec[:, n_cols])
    fig.suptitle(title, fontsize=TITLE_SIZE)
    return fig, ours, reported


def size_axis(ax: Axes, sizes: Sequence[Tuple[int, int]]) -> None:
    """Log x of low-res pixel count (h·w) with one tick per resolution, labelled ``h×w``."""
    ticks = sorted({(int(h) * int(w), resolution_label(h, w)) for h, w in sizes})
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks], rotation=30)


def square_legend(fig: Figure, methods: Sequence[str],
                  extra: Sequence[Tuple[str, Dict[str, object]]] = (), max_columns: int = 4) -> None:
    """Figure legend for bar charts: a colour square per method (METHOD_ORDER), then ``extra``."""
    handles = [Line2D([], [], linestyle="none", marker="s", markersize=7, color=method_color(m),
                      label=method_label(m)) for m in sort_methods(methods)]
    handles += [Line2D([], [], label=label, **dict(style)) for label, style in extra]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), max_columns),
                   fontsize=FONT_SIZE - 1, frameon=False)


def grouped_bars(ax: Axes, values: pd.DataFrame, categories: Sequence[str], category: str,
                 y: str = "mean", yerr: str = "std", n: str = "n") -> List[str]:
    """One bar per method within each category (``values`` columns method, category, y[, yerr, n]).

    Error bars only where a bar averages more than one seed. Returns the methods drawn.
    """
    methods = [m for m in sort_methods(values["method"]) if not values[values["method"] == m].empty]
    if not methods:
        return []
    width = 0.8 / len(methods)
    positions = {name: i for i, name in enumerate(categories)}
    for k, method in enumerate(methods):
        sub = values[(values["method"] == method) & values[category].isin(positions)]
        sub = sub.iloc[np.argsort([positions[c] for c in sub[category]], kind="stable")]  # bars in category order
        x = np.array([positions[c] for c in sub[category]], float) - 0.4 + width * (k + 0.5)
        many = (sub[n] > 1).to_numpy() if n in sub else np.zeros(len(sub), bool)
        err = np.where(many, sub[yerr].to_numpy(float), 0.0) if yerr in sub else None
        ax.bar(x, sub[y].to_numpy(float), width=width, color=method_color(method),
               yerr=err if many.any() else None, error_kw={"elinewidth": 0.6, "capsize": 1.5},
               label=f"_{method}")  # the figure legend names methods; keep bars out of the axes legend
    ax.set_xticks(range(len(categories)), list(categories), rotation=60, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(categories) - 0.4)
    ax.axhline(0.0, color="#000000", linewidth=0.6)
    return methods


def class_original_frequency(df: pd.DataFrame, **equal: object) -> pd.Series:
    """Mean original pixel frequency per class (``class_frequency`` stage original), indexed by class."""
    rows = ok_rows(df, "class_frequency", stage="original", **equal)
    return rows.groupby(rows["class_name"].astype(str))["value"].mean().sort_values(kind="mergesort")


def class_ticks(names: Sequence[str], frequency: pd.Series) -> List[str]:
    """``car (2.1%)``: class names with their original pixel frequency, as the paper's Fig 5."""
    return [f"{name} ({frequency[name] * 100:.1f}%)" if name in frequency else str(name) for name in names]


def panel_resolution_key(key: Tuple[object, ...]) -> Tuple[object, ...]:
    """(dataset, model, split, height, width) -> the same with ``h×w`` for titles."""
    *names, height, width = key
    return (*names, resolution_label(height, width))


# ---------------------------------------------------------------------------------------------
# Reported numbers


def load_jin_reported() -> pd.DataFrame:
    """``results/reported/jin2022.csv`` as a frame, or an empty frame if it is missing/unreadable."""
    from paper_figures.reported import load_reported
    try:
        reported = load_reported(PAPER)
    except (DsbenchError, FileNotFoundError):
        return pd.DataFrame()
    return reported if reported is not None else pd.DataFrame()


def _settings(text: object) -> Dict[str, str]:
    """``"crop=1024x1024; note"`` -> ``{"crop": "1024x1024"}`` (free-text parts are notes)."""
    if text is None or pd.isna(text):
        return {}
    parts = [p.strip() for p in str(text).split(";")]
    return dict(p.split("=", 1) for p in parts if "=" in p)


def _area(size: str) -> Optional[float]:
    match = re.match(r"^\s*(\d+)\s*x\s*(\d+)", str(size))
    return float(match[1]) * float(match[2]) if match else None


def reported_method_rows(reported: pd.DataFrame) -> pd.DataFrame:
    """Reported accuracy rows that depend on no hyper-parameter (method-level curves, e.g. Fig 9a).

    Rows of the sensitivity tables (a setting such as ``sigma=15``) are left out; ``crop=`` and
    ``original=`` are the only settings a method-level row may have. Adds ``fraction``: the
    fraction of pixels sampled, ``h·w`` over the crop area, else the paper's Table 8 fraction for
    that dataset and resolution, else ``h·w`` over Table 8's ``original=`` size (NaN if unknown).
    Values stay fractions. Columns: source, dataset, method, model, height, width, metric, value, fraction.
    """
    columns = ["source", "dataset", "method", "model", "height", "width", "metric", "value", "fraction"]
    if reported.empty or not {"metric", "value", "height", "width", "dataset", "method"} <= set(reported.columns):
        return pd.DataFrame(columns=columns)
    frame = reported.copy()
    for column in ("height", "width", "value"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    settings = frame.get("setting", pd.Series([None] * len(frame), index=frame.index)).map(_settings)
    table8 = frame[frame["metric"] == "fraction_pixels_sampled"]
    fraction_at = {(str(r.dataset), int(r.height), int(r.width)): float(r.value)
                   for r in table8.dropna(subset=["height", "width", "value"]).itertuples()}
    original_area = {str(d): _area(s.get("original", "")) for d, s in zip(table8["dataset"], settings[table8.index])}
    method_level = settings.map(lambda s: set(s) <= {"crop", "original"})
    keep = (frame["metric"].isin(list(ACCURACY_LABELS)) & method_level & frame["height"].notna()
            & frame["width"].notna() & frame["value"].notna())
    rows = frame[keep].copy()

    def fraction(index: int) -> float:
        row = rows.loc[index]
        pixels = float(row["height"]) * float(row["width"])
        crop = _area(settings[index].get("crop", ""))
        if crop:
            return pixels / crop
        at = fraction_at.get((str(row["dataset"]), int(row["height"]), int(row["width"])))
        if at is not None:
            return at
        original = original_area.get(str(row["dataset"]))
        return pixels / original if original else float("nan")

    rows["fraction"] = [fraction(i) for i in rows.index]
    for column in columns:
        if column not in rows:
            rows[column] = None
    return rows[columns].reset_index(drop=True)


def plot_reported(ax: Axes, reported: pd.DataFrame, x: str, xlabel: str, ylabel: str,
                  metrics: Sequence[str] = ("miou",)) -> List[str]:
    """The separate reported panel: one line per dataset × model × method × metric, values in %.

    ``x`` is ``"fraction"`` (% of pixels sampled, log) or ``"pixels"`` (low-res size h·w, log).
    Returns the methods drawn; says "no reported numbers" when there are none.
    """
    rows = reported_method_rows(reported)
    rows = rows[rows["metric"].isin(list(metrics))].copy()
    rows["pixels"] = rows["height"].astype(float) * rows["width"].astype(float)
    rows["fraction"] = rows["fraction"].astype(float) * 100.0
    rows = rows.dropna(subset=[x])
    if rows.empty:
        label_axes(ax, REPORTED_TITLE, xlabel, ylabel)
        empty_panel(ax, f"no reported numbers\n({PAPER}.csv: {', '.join(metrics)} per method)")
        return []
    datasets = sorted(rows["dataset"].astype(str).unique())
    sources = sorted(rows["source"].astype(str).unique())
    label_axes(ax, f"{REPORTED_TITLE}\n{', '.join(datasets)} ({', '.join(sources)})", xlabel, ylabel)
    drawn: List[str] = []
    group_key = ["dataset", "model", "method", "metric"]
    for (dataset, _, method, metric), group in rows.groupby(group_key, dropna=False, sort=True):
        group = group.sort_values(x)
        style = method_style(str(method))
        if metric != "miou":
            style = {**style, "linestyle": ":"}
        # Underscore label: the figure legend names methods once for all panels.
        ax.plot(group[x].to_numpy(float), group["value"].to_numpy(float) * 100.0, markersize=4, linewidth=1.2,
                label=f"_reported {dataset} {method} {metric}", **style)
        drawn.append(str(method))
    if x == "pixels":
        size_axis(ax, list(zip(rows["height"], rows["width"])))
    else:
        log_x_axis(ax)
    return drawn


def summary_by_panel(df: pd.DataFrame, metric: str, extra: Sequence[str] = (), **equal: object) -> pd.DataFrame:
    """Mean/std/n over seeds of ``metric`` per dataset, model, split, resolution, method (+ ``extra``)."""
    return seed_summary(ok_rows(df, metric, **equal), PANEL_KEY + RESOLUTION + ["method", *extra])
