"""Marin et al. 2019 Figs 12 and 14: object recall by size, and relative to uniform's.

One column per object class (``all`` objects first, then each class with rows), two rows of
panels per dataset × model × split × resolution (every resolution present, smallest first):

* recall (%) against the size bin (q1 = smallest quarter of the objects by area ... q4 =
  largest), one line per method, uniform included: the numbers the ratio is made of;
* recall relative to uniform's (×, uniform = 1), one marker per non-uniform method and bin, no
  bars: a ratio has no baseline to draw a bar from.

Where uniform's recall is 0 the ratio is undefined: no marker, and the panel says at which bins.
A bin whose rows were skipped (fewer objects than bins in that class) says "too few objects".
A class no method recalls at all (recall 0 everywhere) says so instead of drawing zeros.
Means over seeds; error bars one std where there is more than one seed.

Reads rows: ``recall_by_size`` (size_bin q1..q4, class_name or ``all``) of uniform and edge_based.
"""
from __future__ import annotations

from typing import List, Sequence, Set, Tuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.marin.shared import GROUP_KEY, RESOLUTION, compare_to_uniform, marin_rows
from paper_figures.rows import ok_rows, seed_summary
from paper_figures.style.palette import method_label, method_style
from paper_figures.style.panels import (NOTE_SIZE, ONE_COLUMN_IN, PANEL_HEIGHT_IN, TITLE_SIZE, TWO_COLUMN_IN,
                                        add_legend, degenerate_note, empty_panel, is_degenerate, label_axes,
                                        note, panel_title, plot_method_lines, reference_line_style,
                                        resolution_label)

TITLE = "Marin et al. 2019, Figs 12 & 14: object recall by size, and relative to uniform"
ALL = "all"
XLABEL = "size bin (q1 small … q4 large)"
RECALL_YLABEL = "recall (%)"
RATIO_YLABEL = "recall / uniform's (×)"
KEY = GROUP_KEY + RESOLUTION + ["class_name", "size_bin"]


def _bin_order(size_bin: object) -> Tuple[int, str]:
    text = str(size_bin)
    return (int(text[1:]), text) if text[:1] == "q" and text[1:].isdigit() else (10 ** 6, text)


def recall_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Recall (fraction) over seeds per KEY and method; columns KEY, method, registered, mean, std, n."""
    rows = marin_rows(ok_rows(df, "recall_by_size"))
    return seed_summary(rows, KEY + ["method", "registered"])


def relative_recall(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`compare_to_uniform` ratios (``rel``, ``rel_std``) of non-uniform methods; bins where
    uniform's recall is 0 are left out (the ratio is undefined)."""
    return compare_to_uniform(summary, KEY, how="ratio") if not summary.empty else summary


def skipped_bins(df: pd.DataFrame) -> Set[Tuple[str, ...]]:
    """(dataset, model, split, height, width, class, bin) of skipped recall rows (too few objects)."""
    rows = marin_rows(df[(df["metric"] == "recall_by_size") & (df["status"] == "skipped")])
    return {tuple(str(v) for v in key) for key in rows[KEY].drop_duplicates().itertuples(index=False)}


def _bin_axis(ax: Axes, bins: Sequence[str]) -> None:
    ax.set_xticks(range(1, len(bins) + 1), list(bins))
    ax.set_xlim(0.5, len(bins) + 0.5)


def _recall_panel(ax: Axes, cells: pd.DataFrame, bins: Sequence[str], too_few: Sequence[str]) -> List[str]:
    if cells.empty:
        empty_panel(ax, "no recall rows" + (f"\n(too few objects in {', '.join(too_few)})" if too_few else ""))
        return []
    points = cells.assign(x=[bins.index(b) + 1 for b in cells["size_bin"].astype(str)],
                          pct=cells["mean"].astype(float) * 100.0, pct_std=cells["std"].astype(float) * 100.0)
    _bin_axis(ax, bins)
    if is_degenerate(points["pct"]):
        degenerate_note(ax, "recall 0 for every method and bin:\nno object of this class recalled")
        return []
    drawn = plot_method_lines(ax, points, "x", "pct", yerr="pct_std")
    ax.set_ylim(bottom=0.0)
    if too_few:
        note(ax, f"too few objects (rows skipped): {', '.join(too_few)}")
    return drawn


def _ratio_panel(ax: Axes, cells: pd.DataFrame, bins: Sequence[str]) -> List[str]:
    _bin_axis(ax, bins)
    ax.axhline(1.0, linewidth=1.0, **reference_line_style())
    uniform = cells[cells["registered"] == "uniform"]
    zero = sorted({str(b) for b, v in zip(uniform["size_bin"], uniform["mean"]) if float(v) == 0.0}, key=_bin_order)
    ratio = relative_recall(cells)
    if ratio.empty:
        why = "uniform recall 0 in every bin:\nthe ratio is undefined" if zero and len(zero) == len(bins) \
            else "no non-uniform method to compare"
        degenerate_note(ax, why)
        return []
    points = ratio.assign(x=[bins.index(b) + 1 for b in ratio["size_bin"].astype(str)])
    drawn = []
    for method, sub in points.groupby(points["method"].astype(str), sort=True):
        style = method_style(method)
        many = (sub["n"] > 1).to_numpy()
        ax.errorbar(sub["x"].to_numpy(float), sub["rel"].to_numpy(float),
                    yerr=np.where(many, sub["rel_std"].to_numpy(float), 0.0) if many.any() else None,
                    linestyle="none", marker=style["marker"], color=style["color"], markersize=5, capsize=2)
        drawn.append(method)
    top = float(np.nanmax(points["rel"].to_numpy(float) + np.where(points["n"] > 1, points["rel_std"], 0.0)))
    ax.set_ylim(0.0, max(2.0, top * 1.15))  # 0 .. at least 2: "twice uniform" is readable at a glance
    if zero:
        note(ax, f"no ratio where uniform's recall is 0: {', '.join(zero)}")
    return drawn


def _panels(summary: pd.DataFrame) -> Tuple[List[Tuple[object, ...]], List[str]]:
    """(dataset, model, split, height, width) groups, smallest resolution first, and the class columns."""
    groups = sorted({tuple(k) for k in summary[GROUP_KEY + RESOLUTION].astype(str).itertuples(index=False)},
                    key=lambda k: (k[:3], int(k[3]) * int(k[4]), int(k[3])))
    classes = sorted(set(summary["class_name"].astype(str)), key=lambda c: (c != ALL, c))
    return groups, classes


@FIGURES.register("marin_recall_by_size")
def make(df: pd.DataFrame) -> Figure:
    """Rows: per group, recall then ratio; columns: all objects, then each class."""
    summary = recall_summary(df)
    if summary.empty:
        fig = Figure(figsize=(ONE_COLUMN_IN, PANEL_HEIGHT_IN + 1.0), layout="constrained")
        fig.suptitle(TITLE.replace(", and", ",\nand"), fontsize=TITLE_SIZE)
        ax = fig.subplots()
        label_axes(ax, "", XLABEL, RECALL_YLABEL)
        empty_panel(ax, "no data: needs ok 'recall_by_size' rows\nof uniform and edge_based runs")
        add_legend(fig, [], extra=[(method_label("uniform") + " = 1 (reference)", reference_line_style())])
        return fig
    skipped = skipped_bins(df)
    groups, classes = _panels(summary)
    text = summary.assign(**{c: summary[c].astype(str) for c in GROUP_KEY + RESOLUTION + ["class_name"]})
    fig = Figure(figsize=(TWO_COLUMN_IN if len(classes) > 1 else ONE_COLUMN_IN,
                          PANEL_HEIGHT_IN * 0.9 * 2 * len(groups) + 1.0), layout="constrained")
    fig.suptitle(TITLE, fontsize=TITLE_SIZE)
    grid = fig.subplots(2 * len(groups), len(classes), squeeze=False)
    common = panel_title(*groups[0][:3]) if len({g[:3] for g in groups}) == 1 else ""
    if common:
        fig.suptitle(f"{TITLE}\n{common}", fontsize=TITLE_SIZE)
    methods: List[str] = []
    for g_index, group in enumerate(groups):
        here = text[(text[GROUP_KEY + RESOLUTION] == list(group)).all(axis=1)]
        bins = sorted(here["size_bin"].astype(str).unique(), key=_bin_order)
        where = ("" if common else panel_title(*group[:3]) + " · ") + resolution_label(group[3], group[4])
        for c_index, name in enumerate(classes):
            cells = summary.loc[here.index][here["class_name"] == name]
            too_few = sorted({k[6] for k in skipped if k[:5] == group and k[5] == name}, key=_bin_order)
            recall_ax, ratio_ax = grid[2 * g_index, c_index], grid[2 * g_index + 1, c_index]
            what = "all objects" if name == ALL else name
            label_axes(recall_ax, f"{where} · {what}: recall", XLABEL, RECALL_YLABEL)
            label_axes(ratio_ax, f"{where} · {what}: relative to uniform", XLABEL, RATIO_YLABEL)
            methods += _recall_panel(recall_ax, cells, bins, too_few)
            if cells.empty:
                empty_panel(ratio_ax, "no recall rows")
                continue
            methods += _ratio_panel(ratio_ax, cells, bins)
    for ax in grid.ravel():
        ax.title.set_fontsize(NOTE_SIZE + 1)
    reference = [(method_label("uniform") + " = 1 (reference)", reference_line_style())]
    add_legend(fig, methods, extra=reference)
    return fig
