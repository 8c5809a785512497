"""PCNet Fig 1 on CPU: inference time and peak memory of PCNet and SCN against the input
resolution, from the rows of ``dsbench superpixel-resolution`` (dataset ``random_image``, one
row per method, size and metric; the size is the rows' height x width)."""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.rows import ok_rows
from paper_figures.style.palette import method_label, method_style, sort_methods
from paper_figures.style.panels import add_legend, empty_panel, label_axes, new_figure

DATASET = "random_image"  # methods/superpixels/perf.py RESOLUTION_DATASET (figures never import a method)
PANELS = (("seconds_per_image", "inference time per image (s)"), ("peak_memory_mib", "peak memory (MiB)"))
XLABEL = "input resolution (megapixels)"
METHODS = ("scn", "pcnet")  # the comparison of PCNet Fig 1


@FIGURES.register("superpixel_resolution")
def make(df: pd.DataFrame) -> Figure:
    fig, axes = new_figure(len(PANELS), "Superpixels: time and peak memory vs. input resolution (CPU)")
    drawn: List[str] = []
    for ax, (metric, ylabel) in zip(axes, PANELS):
        rows = ok_rows(df, metric, dataset=DATASET)
        label_axes(ax, ylabel.split(" (")[0], XLABEL, ylabel)
        if rows.empty:
            empty_panel(ax, f"no data: needs ok '{metric}' rows of dataset {DATASET}\n(dsbench superpixel-resolution)")
            continue
        rows = rows.assign(megapixels=rows["height"].astype(float) * rows["width"].astype(float) / 1e6)
        for method in sort_methods(rows["method"]):
            line = rows[rows["method"].astype(str) == method].groupby("megapixels")["value"].mean().sort_index()
            ax.plot(line.index.to_numpy(float), line.to_numpy(float), label=method_label(method), markersize=4,
                    linewidth=1.2, **method_style(method))
            drawn.append(method)
    # The legend names the two methods even where a panel is empty, so the figure reads alike everywhere.
    add_legend(fig, sorted(set(drawn), key=drawn.index) or list(METHODS))
    return fig
