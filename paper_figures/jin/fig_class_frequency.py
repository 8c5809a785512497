"""Jin et al. Fig 13: how sampling changes class frequencies, per class and method.

For each run, ``sampled / original - 1`` per class, from its ``class_frequency`` rows of stage
``sampled`` (labels on the method's grid) and ``original`` (full-resolution labels): above zero a
class gets more samples than its share of pixels. Bars are means over seeds (error bars one std
where there is more than one seed), in %, one bar per method of :data:`JIN_METHODS`, classes
ordered by increasing original frequency (shown in the tick labels). One panel per dataset ×
model × split × resolution. Reads rows: class_frequency (stage original / sampled, class_name).
"""
from __future__ import annotations

from typing import List

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.jin.shared import class_ticks, jin_rows, panel_resolution_key
from paper_figures.rows import PANEL_KEY, RESOLUTION, ok_rows, panel_groups, seed_summary
from paper_figures.style.panels import add_legend, grouped_bars, empty_panel, label_axes, new_figure, split_titles

XLABEL = "class (pixel frequency, %)"
YLABEL = "sampled / original − 1 (%)"
TITLE = "Class frequency change after sampling, classes by frequency (Jin et al. Fig 13)"
RUN_KEY = PANEL_KEY + RESOLUTION + ["method", "seed", "run_id", "class_name"]


def frequency_change(df: pd.DataFrame) -> pd.DataFrame:
    """Per run and class: columns of RUN_KEY, ``original``, ``sampled`` and ``value`` = sampled/original - 1.

    Classes with zero original frequency (ratio undefined) are dropped.
    """
    rows = pd.concat([ok_rows(df, "class_frequency", stage=stage) for stage in ("original", "sampled")])
    if rows.empty:
        return pd.DataFrame(columns=RUN_KEY + ["original", "sampled", "value"])
    rows["class_name"] = rows["class_name"].astype(str)
    wide = (rows.pivot_table(index=RUN_KEY, columns="stage", values="value", aggfunc="mean", dropna=False)
            .reset_index())
    wide.columns.name = None
    if not {"original", "sampled"} <= set(wide.columns):
        return pd.DataFrame(columns=RUN_KEY + ["original", "sampled", "value"])
    wide = wide.dropna(subset=["original", "sampled"])
    wide = wide[wide["original"] > 0].copy()
    wide["value"] = wide["sampled"] / wide["original"] - 1.0
    return wide


@FIGURES.register("jin_class_frequency")
def make(df: pd.DataFrame) -> Figure:
    change = frequency_change(jin_rows(df))
    panel_key = PANEL_KEY + RESOLUTION
    summary = seed_summary(change, panel_key + ["method", "class_name"])
    original = (change.groupby(panel_key + ["class_name"], dropna=False)["original"].mean().reset_index()
                if not change.empty else pd.DataFrame(columns=panel_key + ["class_name", "original"]))
    groups = panel_groups(summary, panel_key)
    common, titles = split_titles([panel_resolution_key(key) for key, _ in groups])
    fig, axes = new_figure(len(groups), f"{TITLE}\n{common}" if common else TITLE)
    if not groups:
        label_axes(axes[0], "", XLABEL, YLABEL)
        empty_panel(axes[0], "no data: needs ok 'class_frequency' rows\nof stages 'original' and 'sampled'")
        add_legend(fig, [], extra=[("0 = sampled in proportion", {"color": "#000000", "linewidth": 0.6})], bars=True)
        return fig
    methods: List[str] = []
    for ax, panel, (key, group) in zip(axes, titles, groups):
        label_axes(ax, panel, XLABEL, YLABEL)
        here = original[(original[panel_key].astype(str) == [str(k) for k in key]).all(axis=1)]
        frequency = here.set_index("class_name")["original"].astype(float).sort_values(kind="mergesort")
        bars = group.assign(mean=group["mean"].astype(float) * 100.0, std=group["std"].astype(float) * 100.0)
        methods += grouped_bars(ax, bars, list(frequency.index), "class_name")
        ax.set_xticklabels(class_ticks(list(frequency.index), frequency), fontsize=6)
    add_legend(fig, methods, extra=[("0 = sampled in proportion", {"color": "#000000", "linewidth": 0.6})], bars=True)
    return fig
