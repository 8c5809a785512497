"""Alcover-Couso et al. Table IV as bars: mIoU per colour / label sampler pair.

Our runs are the ``alcover_table4_samplers`` experiment, one config label per pair
(:data:`paper_figures.fig_alcover_common.SAMPLER_LABELS`). A panel is drawn for each dataset ×
model × split × resolution at which at least one non-default pair (bicubic colour or
soft-bicubic labels) ran; the default pairs (``uniform``, ``soft_labels``) at that resolution
complete it. The paper's Table IV (HRNetV2, 1/4 of Cityscapes) is a separate panel.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.fig_alcover_common import (SAMPLER_LABELS, SAMPLER_ORDER, bar_legend, method_colors,
                                              note, reported)
from paper_figures.style import (PANEL_KEY, RESOLUTION, empty_panel, label_axes, method_label, new_figure, ok_rows,
                                 panel_groups, resolution_label, seed_summary, split_titles)

TITLE = "Colour / label sampler pairs (Table IV)"
XLABEL = "colour / label kernel (NN = nearest)"
SHORT = {"nearest": "NN", "soft-bilinear": "soft bil.", "soft-bicubic": "soft bic."}
YLABEL = "mIoU (%)"
DEFAULT_LABELS = ("uniform", "soft_labels")
PAIR_TO_LABEL = {pair: label for label, pair in SAMPLER_LABELS.items()}


def pair_text(pair: Tuple[str, str]) -> str:
    """Tick text: colour kernel over label kernel (``"bicubic\nsoft bic."``)."""
    return f"{pair[0]}\n{SHORT.get(pair[1], pair[1])}"


def sampler_points(df: pd.DataFrame) -> pd.DataFrame:
    """mIoU (%) over seeds per sampler label, at resolutions where a non-default pair ran."""
    rows = ok_rows(df, "miou")
    rows = rows[rows["method"].isin(list(SAMPLER_LABELS))]
    points = seed_summary(rows, PANEL_KEY + RESOLUTION + ["method"])
    points[["mean", "std"]] = points[["mean", "std"]].astype(float) * 100.0
    points["pair"] = [pair_text(SAMPLER_LABELS[m]) for m in points["method"]]
    keep = points[~points["method"].isin(DEFAULT_LABELS)][PANEL_KEY + RESOLUTION].drop_duplicates()
    return points.merge(keep.astype({c: points[c].dtype for c in keep.columns}), on=PANEL_KEY + RESOLUTION)


@FIGURES.register("alcover_samplers")
def make(df: pd.DataFrame) -> Figure:
    """Panels: ours per dataset × model × split × resolution, then the paper's Table IV."""
    points = sampler_points(df)
    groups = panel_groups(points, PANEL_KEY + RESOLUTION)
    keys = [(*key[:-2], resolution_label(key[-2], key[-1])) for key, _ in groups]
    common, titles = split_titles(keys) if len(keys) > 1 else ("", [" · ".join(str(k) for k in key) for key in keys])
    fig, axes = new_figure(max(1, len(groups)) + 1, TITLE + (f"\n{common}" if common else ""), sharey=False)
    labels = list(SAMPLER_LABELS)
    colors = method_colors(labels)
    all_pairs = [pair_text(p) for p in SAMPLER_ORDER]
    drawn: List[str] = []
    if not groups:
        label_axes(axes[0], "ours", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: experiment alcover_table4_samplers not run\n(needs ok 'miou' rows for "
                             + ", ".join(m for m in labels if m not in DEFAULT_LABELS) + ")")
    for ax, title, (_, group) in zip(axes, titles, groups):
        label_axes(ax, f"ours\n{title}" if title else "ours", XLABEL, YLABEL)
        drawn += pair_bars(ax, group, all_pairs, colors, err="std")
        missing = [m for m in labels if m not in set(group["method"])]
        if missing:
            note(ax, "no rows for " + ", ".join(missing))
    ax = axes[-1]
    label_axes(ax, "reported\nAlcover-Couso et al. (Table IV)", XLABEL, YLABEL)
    paper = reported("Table IV", "miou")
    if paper.empty:
        empty_panel(ax, "no reported numbers")
    else:
        paper = paper.assign(method=[PAIR_TO_LABEL.get((c, l), f"{c}/{l}") for c, l in zip(paper["colour"], paper["label"])],
                             mean=paper["value"] * 100.0,
                             pair=[pair_text((c, l)) for c, l in zip(paper["colour"], paper["label"])])
        drawn += pair_bars(ax, paper, all_pairs, colors)
        row = paper.iloc[0]
        note(ax, f"{row['dataset']} · {row['model']} · {resolution_label(row['height'], row['width'])}")
    bar_legend(fig, [m for m in labels if m in drawn] or labels)
    return fig


def pair_bars(ax: Axes, values: pd.DataFrame, categories: List[str], colors: Dict[str, str],
              err: Optional[str] = None) -> List[str]:
    """One bar per sampler pair (x = ``categories``), coloured by its method label; gaps for missing pairs.

    ``values`` has columns pair, method, mean (and ``err``, n). Error bars only where n > 1.
    """
    drawn: List[str] = []
    for x, category in enumerate(categories):
        hit = values[values["pair"] == category]
        if hit.empty:
            continue
        row = hit.iloc[0]
        ax.bar([x], [float(row["mean"])], width=0.7, color=colors.get(row["method"], "#999999"),
               label=method_label(row["method"]))
        if err is not None and int(row.get("n", 1)) > 1:
            ax.errorbar([x], [float(row["mean"])], yerr=[float(row[err])], fmt="none", ecolor="#333333",
                        elinewidth=0.7, capsize=1.5)
        drawn.append(str(row["method"]))
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels(categories, fontsize=6)
    ax.set_xlim(-0.6, len(categories) - 0.4)
    return drawn
