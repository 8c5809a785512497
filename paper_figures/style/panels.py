"""Figure scaffolding shared by every figure: sizes, axes, lines, bars, legends and panel notes.

Conventions
-----------
* Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot global state), sized
  for a paper: one column is 3.5 in wide, two columns 7.0 in; text is 7-10 pt.
* One legend per figure, below the panels, sized to the figure's width so it is never clipped
  (:func:`add_legend`).
* A panel that has nothing to show says why in the panel (:func:`empty_panel`); a panel whose
  numbers carry no information (every value 0, a class never learned) says that instead of
  drawing noise (:func:`degenerate_note`, :func:`is_degenerate`).
* Fractions are stored in [0, 1]; figures show percentages.
"""
from __future__ import annotations

import textwrap

from typing import Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from paper_figures.style.palette import method_color, method_label, method_style, sort_methods

FONT_SIZE = 9          # axis labels, legend
TITLE_SIZE = 10        # figure titles
PANEL_TITLE_SIZE = 9   # subplot titles
TICK_SIZE = 8
NOTE_SIZE = 7
NOTE_COLOR = "#555555"
ONE_COLUMN_IN = 3.5
TWO_COLUMN_IN = 7.0
PANEL_HEIGHT_IN = 2.4
# A value whose absolute size is below this is "zero" for degenerate-panel checks (fractions).
ZERO = 1e-9


def resolution_label(height: object, width: object) -> str:
    return f"{int(height)}×{int(width)}"


def panel_title(*parts: object) -> str:
    """``synthcity · deeplab_small · 64×128``; empty parts are left out."""
    return " · ".join(str(p) for p in parts if p is not None and str(p) not in ("", "<NA>", "nan", "None"))


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


def new_figure(n_panels: int, title: str, *, ncols: Optional[int] = None) -> Tuple[Figure, List[Axes]]:
    """A paper-sized figure with ``n_panels`` subplots (1 column for one panel, else 2-3).

    Every panel has its own y-axis: panels of one figure often differ in range, and a shared
    axis with per-panel limits inverts or clips them.
    """
    n_panels = max(1, n_panels)
    ncols = ncols or (1 if n_panels == 1 else (2 if n_panels in (2, 4) else 3))
    nrows = -(-n_panels // ncols)
    width = ONE_COLUMN_IN if ncols == 1 else TWO_COLUMN_IN
    height = PANEL_HEIGHT_IN * nrows * (1.0 if ncols < 3 else 0.85) + 0.8  # + title and legend
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n_panels:]:
        ax.remove()  # not just hidden: an unused grid cell must not look like an empty panel
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


def empty_panel(ax: Axes, message: str) -> None:
    """Say in the panel why it is empty instead of failing the whole figure."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
            fontsize=FONT_SIZE - 1, color=NOTE_COLOR, wrap=True, gid="empty_panel")
    ax.set_xticks([])
    ax.set_yticks([])


def is_degenerate(values: Iterable[float]) -> bool:
    """True when there is nothing to read: no finite value, or every value is 0."""
    finite = np.asarray([v for v in values if v is not None and np.isfinite(float(v))], float)
    return finite.size == 0 or bool(np.all(np.abs(finite) < ZERO))


def degenerate_note(ax: Axes, message: str) -> None:
    """A panel whose numbers carry no information: say so over the panel instead of drawing them."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=FONT_SIZE - 1,
            color=NOTE_COLOR, wrap=True, gid="degenerate_panel",
            bbox={"facecolor": "white", "edgecolor": "#BBBBBB", "linewidth": 0.5, "alpha": 0.9})


# Characters per line of a note: a long one (a list of classes) would run into the next panel.
NOTE_WRAP = 48


def note(ax: Axes, message: str) -> None:
    """A small grey note centred under the panel's x label (e.g. which rows are missing), off the
    data, wrapped to :data:`NOTE_WRAP` characters a line."""
    message = "\n".join(textwrap.fill(part, NOTE_WRAP) for part in message.split("\n"))
    ax.annotate(message, xy=(0.5, 0.0), xycoords=ax.xaxis.label, xytext=(0, -2), textcoords="offset points",
                ha="center", va="top", fontsize=NOTE_SIZE - 1, color=NOTE_COLOR)


def reference_line_style(method: str = "uniform") -> Mapping[str, str]:
    """A method's line style without its marker (a horizontal reference line)."""
    return {k: v for k, v in method_style(method).items() if k != "marker"}


def plot_method_lines(ax: Axes, points: pd.DataFrame, x: str, y: str, yerr: Optional[str] = None,
                      n: str = "n", series: str = "method") -> List[str]:
    """One line per method through ``points`` (columns ``series``, x, y[, yerr, n]), sorted by x.

    Error bars are drawn only where a point averages more than one seed. Returns the methods
    drawn, in :data:`METHOD_ORDER`.
    """
    drawn = []
    for method in sort_methods(points[series]):
        sub = points[points[series].astype(str) == method].sort_values(x)
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


def grouped_bars(ax: Axes, values: pd.DataFrame, categories: Sequence[object], category: str, *,
                 series: str = "method", order: Optional[Sequence[str]] = None,
                 colors: Optional[Mapping[str, str]] = None, labels: Optional[Mapping[str, str]] = None,
                 y: str = "mean", yerr: Optional[str] = "std", n: str = "n", rotate: bool = True) -> List[str]:
    """Bars of ``values[y]`` at ``categories`` (x groups), one bar per ``series`` value in a group.

    ``order`` is the series order (default: methods in :data:`METHOD_ORDER`); ``colors`` maps a
    series value to its colour (default: the method's colour) and ``labels`` to its legend text.
    A missing (category, series) pair leaves a gap. Error bars only where a bar averages more
    than one seed (``n > 1``). Bars start at 0, with a zero line. Returns the series drawn.
    """
    names = values[series].astype(str)
    present = [s for s in (order if order is not None else sort_methods(names)) if (names == s).any()]
    width = 0.8 / max(1, len(present))
    x = np.arange(len(categories), dtype=float)
    for i, name in enumerate(present):
        sub = values[names == name]
        by_category = {str(c): row for c, row in zip(sub[category], sub.to_dict("records"))}
        rows = [by_category.get(str(c)) for c in categories]
        heights = np.array([float(r[y]) if r else np.nan for r in rows])
        errors = np.array([float(r[yerr]) if r and yerr and r.get(n, 1) and int(r.get(n, 1)) > 1 else np.nan
                           for r in rows])
        offsets = x - 0.4 + width * (i + 0.5)
        color = (colors or {}).get(name) or method_color(name)
        ax.bar(offsets, heights, width=width * 0.92, color=color, label=(labels or {}).get(name, method_label(name)))
        if np.isfinite(errors).any():
            ax.errorbar(offsets, heights, yerr=errors, fmt="none", ecolor="#333333", elinewidth=0.7, capsize=1.5)
    if rotate:
        ax.set_xticks(x, [str(c) for c in categories], rotation=60, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(x, [str(c) for c in categories])
    ax.set_xlim(-0.6, len(categories) - 0.4)
    ax.axhline(0.0, color="#000000", linewidth=0.6)
    return present


def _legend_columns(fig: Figure, labels: Sequence[str], fontsize: float) -> int:
    """As many columns as fit the figure's width. Entries fill the columns top to bottom, and a
    column is as wide as its widest entry: a handle (~0.45 in) plus the text (~0.55 em per char)."""
    def width_in(columns: int) -> float:
        rows = -(-len(labels) // columns)
        return sum(0.45 + 0.55 * max(len(label) for label in labels[i:i + rows]) * fontsize / 72.0
                   for i in range(0, len(labels), rows))

    fits = [n for n in range(1, len(labels) + 1) if width_in(n) <= fig.get_figwidth() * 0.95]
    return max(fits, default=1)


def add_legend(fig: Figure, methods: Iterable[str], extra: Sequence[Tuple[str, Mapping[str, object]]] = (),
               *, bars: bool = False, max_columns: int = 6) -> None:
    """One legend for the whole figure, below the panels, in :data:`METHOD_ORDER`.

    ``bars=True`` draws a colour square per method (bar charts) instead of a line and marker.
    ``extra`` adds ``(label, line style kwargs)`` entries (e.g. a reference line). The number of
    columns follows the figure's width, so the legend is never wider than the figure.
    """
    if bars:
        handles = [Line2D([], [], linestyle="none", marker="s", markersize=7, color=method_color(m),
                          label=method_label(m)) for m in sort_methods(methods)]
    else:
        handles = [Line2D([], [], markersize=4, linewidth=1.2, label=method_label(m), **method_style(m))
                   for m in sort_methods(methods)]
    handles += [Line2D([], [], label=label, **dict(style)) for label, style in extra]
    if not handles:
        return
    fontsize = FONT_SIZE - 1
    ncols = min(max_columns, _legend_columns(fig, [h.get_label() for h in handles], fontsize))
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, fontsize=fontsize, frameon=False)


__all__ = ["FONT_SIZE", "NOTE_SIZE", "ZERO", "ONE_COLUMN_IN", "PANEL_HEIGHT_IN", "PANEL_TITLE_SIZE", "TICK_SIZE",
           "TITLE_SIZE", "TWO_COLUMN_IN", "add_legend", "degenerate_note", "empty_panel", "grouped_bars",
           "is_degenerate", "label_axes", "log_x_axis", "new_figure", "note", "panel_title", "plot_method_lines",
           "reference_line_style", "resolution_label", "split_titles"]
