"""One palette, one method order and the shared plotting helpers for every figure and table.

Conventions
-----------
* Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot global state), sized
  for a paper: one column is 3.5 in wide, two columns 7.0 in; text is 8-10 pt.
* Each method has ONE colour, marker and line style in every figure (:func:`method_style`).
  Known methods follow :data:`METHOD_ORDER`; unknown methods get a colour picked from a spare
  palette by a stable hash of their name, so they keep it across figures and runs.
* Inputs are tidy rows (:data:`benchmark.results.COLUMNS`). Only ``status == "ok"`` rows are
  plotted; repeated seeds are averaged (:func:`seed_summary`) and drawn with error bars
  (one standard deviation over seeds) where there is more than one seed.
* Fractions are stored in [0, 1]; figures show percentages.

Nothing here imports torch or a method: figures are made from stored rows alone.
"""
from __future__ import annotations

import hashlib
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from benchmark.io import markdown_table  # one Markdown table writer for the suite

__all__ = [
    "METHOD_ORDER", "FONT_SIZE", "PANEL_KEY", "RESOLUTION", "method_style", "method_color", "method_label",
    "sort_methods", "ok_rows", "seed_summary", "new_figure", "label_axes", "empty_panel", "plot_method_lines",
    "add_legend", "panel_title", "split_titles", "log_x_axis", "resolution_label", "panel_groups",
    "miou_with_cost", "miou_vs_cost_figure", "markdown_table", "latex_table", "format_mean",
]

# The one method order (legends, tables). Methods not listed here sort after these, by name.
METHOD_ORDER: List[str] = [
    "uniform", "edge_based", "deformation", "deformation_single", "edge_sim", "interpolation",
    "soft_labels", "hierarchical_clustering", "superpixels",
]

# Okabe-Ito colour-blind-safe palette; uniform (the baseline) is black.
_KNOWN_COLORS: List[str] = [
    "#000000", "#E69F00", "#0072B2", "#56B4E9", "#009E73", "#D55E00", "#CC79A7", "#F0E442", "#999999",
]
_KNOWN_MARKERS: List[str] = ["o", "s", "^", "v", "D", "P", "X", "*", "h"]
# Spare colours for methods added later and not yet in METHOD_ORDER (distinct from the above).
_EXTRA_COLORS: List[str] = [
    "#8C564B", "#17BECF", "#BCBD22", "#7F7F7F", "#9467BD", "#E377C2", "#2CA02C", "#1F77B4",
    "#AEC7E8", "#FF9896", "#98DF8A", "#C5B0D5",
]
_EXTRA_MARKERS: List[str] = ["p", "<", ">", "d", "H", "8"]

FONT_SIZE = 9          # axis labels, legend
TITLE_SIZE = 10        # figure titles
PANEL_TITLE_SIZE = 9   # subplot titles
TICK_SIZE = 8
ONE_COLUMN_IN = 3.5
TWO_COLUMN_IN = 7.0
PANEL_HEIGHT_IN = 2.4


def _stable_index(name: str, n: int) -> int:
    # hashlib, not hash(): Python salts str hashes per process, colours must not change.
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % n


def method_style(method: str) -> Dict[str, str]:
    """``dict(color, marker, linestyle)`` for ``method``; identical in every figure."""
    if method in METHOD_ORDER:
        i = METHOD_ORDER.index(method)
        color, marker = _KNOWN_COLORS[i % len(_KNOWN_COLORS)], _KNOWN_MARKERS[i % len(_KNOWN_MARKERS)]
    else:
        color = _EXTRA_COLORS[_stable_index(method, len(_EXTRA_COLORS))]
        marker = _EXTRA_MARKERS[_stable_index(method + "#marker", len(_EXTRA_MARKERS))]
    # The baseline is dashed so it reads as a reference line, also in greyscale.
    return {"color": color, "marker": marker, "linestyle": "--" if method == "uniform" else "-"}


def method_color(method: str) -> str:
    return method_style(method)["color"]


def method_label(method: str) -> str:
    """Legend text: the registry key with spaces (``edge_based`` -> ``edge based``)."""
    return str(method).replace("_", " ")


def sort_methods(methods: Iterable[str]) -> List[str]:
    """Unique methods in :data:`METHOD_ORDER`, unknown ones after, alphabetically."""
    unique = set(str(m) for m in methods)
    known = [m for m in METHOD_ORDER if m in unique]
    return known + sorted(unique - set(known))


# ---------------------------------------------------------------------------------------------
# Rows -> plotted numbers


def ok_rows(df: pd.DataFrame, metric: str, **equal: object) -> pd.DataFrame:
    """Rows of ``metric`` with status ok and every ``column == value`` in ``equal``."""
    mask = (df["metric"] == metric) & (df["status"] == "ok")
    for column, value in equal.items():
        mask &= df[column].astype("string") == str(value)
    out = df[mask.fillna(False).astype(bool)].copy()
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out


def seed_summary(rows: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation (ddof=1; 0 for one seed) and seed count of ``value`` per ``by``.

    Returns columns ``[*by, "mean", "std", "n"]``; missing key values (e.g. no split) group
    together instead of being dropped.
    """
    if rows.empty:
        return pd.DataFrame(columns=[*by, "mean", "std", "n"])
    grouped = rows.groupby(list(by), dropna=False, sort=True)
    out = grouped["value"].agg(mean="mean", std="std").reset_index()
    out["n"] = grouped["seed"].nunique(dropna=False).to_numpy()
    out["std"] = out["std"].fillna(0.0)
    return out


def resolution_label(height: object, width: object) -> str:
    return f"{int(height)}×{int(width)}"


def panel_title(*parts: object) -> str:
    """``synthcity · deeplab_small · 64×128``; empty parts are left out."""
    return " · ".join(str(p) for p in parts if p is not None and str(p) not in ("", "<NA>", "nan"))


# ---------------------------------------------------------------------------------------------
# Figure scaffolding


def new_figure(n_panels: int, title: str, *, sharey: bool = False) -> Tuple[Figure, List[Axes]]:
    """A paper-sized figure with ``n_panels`` subplots (1 column for one panel, else 2-3)."""
    n_panels = max(1, n_panels)
    ncols = 1 if n_panels == 1 else (2 if n_panels in (2, 4) else 3)
    nrows = -(-n_panels // ncols)
    width = ONE_COLUMN_IN if ncols == 1 else TWO_COLUMN_IN
    height = PANEL_HEIGHT_IN * nrows * (1.0 if ncols < 3 else 0.85) + 0.6  # + title and legend
    fig = Figure(figsize=(width, height), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    axes = list(grid.ravel())
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=TITLE_SIZE)
    return fig, axes[:n_panels]


def label_axes(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    """Panel title and axis labels (with units) at paper font sizes."""
    ax.set_title(title, fontsize=PANEL_TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    ax.set_ylabel(ylabel, fontsize=FONT_SIZE)
    ax.tick_params(which="both", labelsize=TICK_SIZE)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.5)


def log_x_axis(ax: Axes) -> None:
    """Log x with plain-number labels at 1, 2, 5 x 10^k (no crowded minor labels)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def split_titles(keys: Sequence[Tuple[object, ...]]) -> Tuple[str, List[str]]:
    """Move the key parts every panel shares into one common title; panels keep the rest.

    ``[("synthcity", "net", "32×64"), ("synthcity", "net", "64×128")]`` ->
    ``("synthcity · net", ["32×64", "64×128"])``.
    """
    if not keys:
        return "", []
    shared = [all(str(k[i]) == str(keys[0][i]) for k in keys) for i in range(len(keys[0]))]
    common = panel_title(*(p for p, s in zip(keys[0], shared) if s))
    return common, [panel_title(*(p for p, s in zip(k, shared) if not s)) for k in keys]


def empty_panel(ax: Axes, message: str) -> None:
    """Say in the panel why it is empty instead of failing the whole figure."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
            fontsize=FONT_SIZE - 1, color="#555555", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_method_lines(ax: Axes, points: pd.DataFrame, x: str, y: str, yerr: Optional[str] = None,
                      n: str = "n") -> List[str]:
    """One line per method through ``points`` (columns method, x, y[, yerr, n]), sorted by x.

    Error bars are drawn only where a point averages more than one seed. Returns the methods
    drawn, in :data:`METHOD_ORDER`.
    """
    drawn = []
    for method in sort_methods(points["method"]):
        sub = points[points["method"] == method].sort_values(x)
        if sub.empty:
            continue
        style = method_style(method)
        ax.plot(sub[x].to_numpy(float), sub[y].to_numpy(float), label=method_label(method),
                markersize=4, linewidth=1.2, **style)
        if yerr is not None and n in sub and (sub[n] > 1).any():
            many = sub[sub[n] > 1]
            ax.errorbar(many[x].to_numpy(float), many[y].to_numpy(float), yerr=many[yerr].to_numpy(float),
                        fmt="none", ecolor=style["color"], elinewidth=0.8, capsize=2)
        drawn.append(method)
    return drawn


def add_legend(fig: Figure, methods: Iterable[str], extra: Sequence[Tuple[str, Mapping[str, str]]] = ()) -> None:
    """One legend for the whole figure, below the panels, in :data:`METHOD_ORDER`.

    ``extra`` adds ``(label, line style kwargs)`` entries (e.g. a reference line).
    """
    handles = [Line2D([], [], markersize=4, linewidth=1.2, label=method_label(m), **method_style(m))
               for m in sort_methods(methods)]
    handles += [Line2D([], [], label=label, **dict(style)) for label, style in extra]
    if not handles:
        return
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4),
               fontsize=FONT_SIZE - 1, frameon=False)


# ---------------------------------------------------------------------------------------------
# Tables


def format_mean(mean: float, std: float = 0.0, n: int = 1, digits: int = 1) -> str:
    """``61.2`` or ``61.2 ± 0.4`` (std over seeds, shown only for more than one seed)."""
    if mean is None or not np.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def _latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                          ("#", r"\#"), ("±", r"$\pm$"), ("×", r"$\times$"), ("–", "--"), ("·", r"$\cdot$")):
        text = text.replace(char, escaped)
    return text


def latex_table(header: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "",
                group_header: Sequence[Tuple[str, int]] = ()) -> str:
    """A booktabs ``tabular`` (first column left, the rest right-aligned).

    ``group_header`` adds a spanning row above ``header``: ``[(text, n_columns), ...]``.
    """
    lines = [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule"]
    if caption:
        lines.insert(0, f"% {caption}")
    if group_header:
        cells, rules, col = [], [], 1
        for text, span in group_header:
            cells.append(rf"\multicolumn{{{span}}}{{c}}{{{_latex_escape(text)}}}" if span > 1 else _latex_escape(text))
            if text:
                rules.append(rf"\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
        lines += [" & ".join(cells) + r" \\", " ".join(rules)]
    lines.append(" & ".join(_latex_escape(str(h)) for h in header) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(_latex_escape(str(c)) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Shared figure recipes

PANEL_KEY = ["dataset", "model", "split"]
RESOLUTION = ["height", "width"]


def miou_with_cost(df: pd.DataFrame, cost_metric: str, scale: float, **cost_filter: object) -> pd.DataFrame:
    """mIoU (%) over seeds joined with a cost (mean over seeds and splits, times ``scale``).

    Columns: dataset, model, split, method, height, width, mean, std, n (mIoU in %), cost
    (NaN where no cost row matches). Costs do not depend on the split or seed, so they are
    joined on method and resolution only.
    """
    miou = seed_summary(ok_rows(df, "miou"), PANEL_KEY + ["method"] + RESOLUTION)
    cost_rows = ok_rows(df, cost_metric, **cost_filter)
    join = ["dataset", "model", "method"] + RESOLUTION
    cost = (cost_rows.groupby(join, dropna=False)["value"].mean().mul(scale).rename("cost").reset_index()
            if not cost_rows.empty else pd.DataFrame(columns=join + ["cost"]))
    points = miou.merge(cost.astype({c: miou[c].dtype for c in join}), on=join, how="left")
    points["cost"] = pd.to_numeric(points["cost"], errors="coerce")
    points[["mean", "std"]] = points[["mean", "std"]].astype(float) * 100.0
    return points


def panel_groups(points: pd.DataFrame, key: Sequence[str]) -> List[Tuple[Tuple[object, ...], pd.DataFrame]]:
    """``points`` split by ``key`` (sorted; missing values grouped), as (key values, rows)."""
    if points.empty:
        return []
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in points.groupby(list(key), dropna=False, sort=True)]


def miou_vs_cost_figure(df: pd.DataFrame, *, title: str, cost_metric: str, xlabel: str, scale: float = 1.0,
                        log_x: bool = True, **cost_filter: object) -> Figure:
    """One panel per dataset × model × split: mIoU (%) against a cost, one line per method."""
    points = miou_with_cost(df, cost_metric, scale, **cost_filter)
    groups = panel_groups(points, PANEL_KEY)
    common, titles = split_titles([key for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{title}\n{common}" if common else title)
    what = f"'{cost_metric}'" + "".join(f" ({k}={v})" for k, v in cost_filter.items())
    if not groups:
        empty_panel(axes[0], f"no data: needs ok 'miou' rows\nand matching {what} rows")
        label_axes(axes[0], "", xlabel, "mIoU (%)")
        return fig
    methods: List[str] = []
    for ax, panel, (_, group) in zip(axes, titles, groups):
        label_axes(ax, panel, xlabel, "mIoU (%)")
        group = group.dropna(subset=["cost"])
        if group.empty:
            empty_panel(ax, f"no data: 'miou' rows but\nno matching {what} rows")
            continue
        methods += plot_method_lines(ax, group, "cost", "mean", yerr="std")
        if log_x:
            log_x_axis(ax)
    add_legend(fig, methods)
    return fig
