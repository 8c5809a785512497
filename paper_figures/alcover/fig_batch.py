"""Alcover-Couso et al. Fig 7: mIoU against training batch size, nearest vs. soft labels.

Built by the ``alcover_fig7_batch`` experiment only (``snakemake --config
experiment=alcover_fig7_batch``): it lands in that experiment's ``figures_dir``,
``results/alcover_fig7/figures/alcover_batch.{png,pdf}``, never among the default figures (whose
runs all train at one batch size). Runs are nearest (registered ``uniform``) or soft labels (MC
on) by their params, the batch size is ``train.batch_size``. One panel per dataset × model ×
split × resolution, one line per strategy.
The paper's Fig 7 numbers, where transcribed (source ``Fig 7``, setting ``bs=N``), are a
separate panel.
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from benchmark.registry import FIGURES
from paper_figures.alcover.shared import NEAREST, SOFT, STRATEGY_NAMES, reported, with_strategy
from paper_figures.rows import PANEL_KEY, RESOLUTION, ok_rows, panel_groups, seed_summary
from paper_figures.style.palette import method_style
from paper_figures.style.panels import add_legend, empty_panel, label_axes, new_figure, plot_method_lines, resolution_label, split_titles

EXPERIMENT = "alcover_fig7_batch"
TITLE = "Alcover-Couso et al. Fig 7: robustness to batch size,\nnearest vs. soft labels"
XLABEL = "training batch size (images, log scale)"
YLABEL = "mIoU (%)"


def batch_points(df: pd.DataFrame) -> pd.DataFrame:
    """mIoU (%) over seeds per strategy (``method`` = :data:`NEAREST` / :data:`SOFT`), batch size and resolution."""
    rows = with_strategy(ok_rows(df, "miou"))
    rows = rows[rows["strategy"].isin([NEAREST, SOFT]) & rows["batch_size"].notna()]
    rows = rows.assign(method=rows["strategy"], batch_size=rows["batch_size"].astype(int))
    points = seed_summary(rows, PANEL_KEY + RESOLUTION + ["method", "batch_size"])
    points[["mean", "std"]] = points[["mean", "std"]].astype(float) * 100.0
    # A panel is a batch-size curve only where more than one batch size ran (not the default runs).
    sizes = points.groupby(PANEL_KEY + RESOLUTION, dropna=False)["batch_size"].transform("nunique")
    return points[sizes > 1].reset_index(drop=True)


def _batch_axis(ax: Axes, sizes: List[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(set(sizes))))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(s) for s in sorted(set(sizes))])


@FIGURES.register("alcover_batch")
def make(df: pd.DataFrame) -> Figure:
    points = batch_points(df)
    groups = panel_groups(points, PANEL_KEY + RESOLUTION)
    keys = [(*key[:-2], resolution_label(key[-2], key[-1])) for key, _ in groups]
    common, titles = split_titles(keys) if len(keys) > 1 else ("", [" · ".join(str(k) for k in key) for key in keys])
    fig, axes = new_figure(max(1, len(groups)) + 1, TITLE + (f"\n{common}" if common else ""))
    drawn: List[str] = []
    if not groups:
        label_axes(axes[0], "ours", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok 'miou' rows of uniform and\nsoft_labels runs with params "
                             "(snakemake --config\nexperiment=alcover_fig7_batch)")
    for ax, title, (_, group) in zip(axes, titles, groups):
        label_axes(ax, f"ours · {title}" if title else "ours", XLABEL, YLABEL)
        drawn += plot_method_lines(ax, group, "batch_size", "mean", yerr="std")
        _batch_axis(ax, [int(b) for b in group["batch_size"]])
    ax = axes[-1]
    label_axes(ax, "reported · Alcover-Couso et al. (Fig 7)", XLABEL, YLABEL)
    paper = reported("Fig 7", "miou").dropna(subset=["bs"])
    if paper.empty:
        empty_panel(ax, "no reported numbers\n(Fig 7 is not transcribed in\nresults/reported/alcover2023.csv)")
    else:
        paper = paper.assign(batch_size=paper["bs"].astype(int), mean=paper["value"] * 100.0,
                             method=paper["method"].astype(str))
        drawn += plot_method_lines(ax, paper, "batch_size", "mean")
        _batch_axis(ax, list(paper["batch_size"]))
    add_legend(fig, [], extra=[(STRATEGY_NAMES[m], {k: v for k, v in method_style(m).items()})
                               for m in (NEAREST, SOFT)])
    return fig
