"""Alcover-Couso et al. Table IV as bars: mIoU per colour / label sampler pair.

Built by the ``alcover_table4_samplers`` experiment only (``snakemake --config
experiment=alcover_table4_samplers``): it lands in that experiment's ``figures_dir``,
``results/alcover_table4/figures/alcover_samplers.{png,pdf}``, never among the default figures
(the default runs use one sampler pair per strategy). A run's pair is ``(options.image_mode,
options.label_mode)`` of its params (uniform's labels are nearest; soft-label runs with MC on).
One panel per dataset × model × split × resolution where a pair other than the two defaults
ran; the paper's Table IV (HRNetV2, 1/4 of Cityscapes) is a separate panel. Bars are coloured by
label strategy (nearest / soft labels).
"""
from __future__ import annotations

from typing import List, Tuple

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.alcover.shared import NEAREST, SAMPLER_ORDER, SOFT, STRATEGY_NAMES, reported, with_strategy
from paper_figures.rows import PANEL_KEY, RESOLUTION, ok_rows, panel_groups, seed_summary
from paper_figures.style.palette import method_color
from paper_figures.style.panels import (add_legend, empty_panel, grouped_bars, label_axes, new_figure, note,
                                        resolution_label, split_titles)

EXPERIMENT = "alcover_table4_samplers"
TITLE = "Alcover-Couso et al. Table IV: colour / label sampler pairs"
XLABEL = "colour kernel / label kernel (NN = nearest)"
SHORT = {"nearest": "NN", "soft-bilinear": "soft bil.", "soft-bicubic": "soft bic."}
YLABEL = "mIoU (%)"
DEFAULT_PAIRS = (("bilinear", "nearest"), ("bilinear", "soft-bilinear"))


def pair_text(pair: Tuple[str, str]) -> str:
    """Tick text: colour kernel over label kernel (``"bicubic\nsoft bic."``)."""
    return f"{pair[0]}\n{SHORT.get(pair[1], pair[1])}"


def label_strategy(pair: Tuple[str, str]) -> str:
    """The palette key of a pair's label strategy: nearest or soft labels."""
    return NEAREST if pair[1] == "nearest" else SOFT


def sampler_points(df: pd.DataFrame) -> pd.DataFrame:
    """mIoU (%) over seeds per sampler pair, at resolutions where a non-default pair ran."""
    rows = with_strategy(ok_rows(df, "miou"))
    rows = rows[rows["pair"].notna()]
    rows = rows.assign(pair_name=[pair_text(p) for p in rows["pair"]],
                       labels=[label_strategy(p) for p in rows["pair"]],
                       default=[tuple(p) in DEFAULT_PAIRS for p in rows["pair"]])
    points = seed_summary(rows, PANEL_KEY + RESOLUTION + ["pair_name", "labels", "default"])
    points[["mean", "std"]] = points[["mean", "std"]].astype(float) * 100.0
    keep = points[~points["default"].astype(bool)][PANEL_KEY + RESOLUTION].drop_duplicates()
    return points.merge(keep.astype({c: points[c].dtype for c in keep.columns}), on=PANEL_KEY + RESOLUTION)


@FIGURES.register("alcover_samplers")
def make(df: pd.DataFrame) -> Figure:
    """Panels: ours per dataset × model × split × resolution, then the paper's Table IV."""
    points = sampler_points(df)
    groups = panel_groups(points, PANEL_KEY + RESOLUTION)
    keys = [(*key[:-2], resolution_label(key[-2], key[-1])) for key, _ in groups]
    common, titles = split_titles(keys) if len(keys) > 1 else ("", [" · ".join(str(k) for k in key) for key in keys])
    fig, axes = new_figure(max(1, len(groups)) + 1, TITLE + (f"\n{common}" if common else ""))
    all_pairs = [pair_text(p) for p in SAMPLER_ORDER]
    if not groups:
        label_axes(axes[0], "ours", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok 'miou' rows of runs with\nbicubic colour or soft-bicubic labels "
                             "(snakemake --config\nexperiment=alcover_table4_samplers)")
    for ax, title, (_, group) in zip(axes, titles, groups):
        label_axes(ax, f"ours\n{title}" if title else "ours", XLABEL, YLABEL)
        _pair_bars(ax, group, all_pairs)
        missing = [p.replace("\n", "/") for p in all_pairs if p not in set(group["pair_name"])]
        if missing:
            note(ax, "no runs of " + ", ".join(missing))
    ax = axes[-1]
    label_axes(ax, "reported\nAlcover-Couso et al. (Table IV)", XLABEL, YLABEL)
    paper = reported("Table IV", "miou")
    if paper.empty:
        empty_panel(ax, "no reported numbers")
    else:
        pairs = list(zip(paper["colour"], paper["label"]))
        paper = paper.assign(mean=paper["value"] * 100.0, pair_name=[pair_text(p) for p in pairs],
                             labels=[label_strategy(p) for p in pairs])
        _pair_bars(ax, paper, all_pairs, yerr=None)
        row = paper.iloc[0]
        note(ax, f"{row['dataset']} · {row['model']} · {resolution_label(row['height'], row['width'])}")
    add_legend(fig, [], extra=[(STRATEGY_NAMES[m], {"color": method_color(m), "marker": "s", "linestyle": "none",
                                                     "markersize": 7}) for m in (NEAREST, SOFT)])
    return fig


def _pair_bars(ax, values: pd.DataFrame, pairs: List[str], yerr: str = "std") -> None:
    """One bar per sampler pair (a gap for a pair that did not run), coloured by its label strategy."""
    grouped_bars(ax, values.assign(one="mIoU"), pairs, "pair_name", series="one", order=["mIoU"], yerr=yerr,
                 rotate=False)
    for bar, pair in zip(ax.patches, pairs):
        hit = values[values["pair_name"] == pair]
        if not hit.empty:
            bar.set_color(method_color(str(hit["labels"].iloc[0])))
    ax.tick_params(axis="x", labelsize=6)
