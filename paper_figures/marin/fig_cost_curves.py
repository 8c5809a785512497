"""Marin et al. Figs 8-11: accuracy against cost, edge-based vs. uniform, plus the paper's numbers.

Top (ours): per dataset × split, two panels: mIoU (%) and target-class mIoU (%) against GMACs
per image (stage ``total``: the auxiliary network's MACs count in the edge-based cost). One line
per method per model through its resolutions; mean over seeds, error bars = one standard
deviation where there is more than one seed.

Bottom (reported, separate panels, never on our axes): ``results/reported/marin2019.csv``,
one panel per paper table × dataset × model × metric, value against GFLOPs as printed.

Reads rows: ``miou``, ``miou_target``, ``macs`` (stage total) of uniform and edge_based*.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import MaxNLocator

from benchmark.registry import FIGURES
from paper_figures.marin.shared import PAPER, RESOLUTION, marin_rows
from paper_figures.reported import load_reported
from paper_figures.rows import ok_rows, seed_summary
from paper_figures.style.panels import degenerate_note, is_degenerate, FONT_SIZE, PANEL_HEIGHT_IN, PANEL_TITLE_SIZE, TITLE_SIZE, TWO_COLUMN_IN, add_legend, empty_panel, label_axes, log_x_axis, panel_title, plot_method_lines

TITLE = "Marin et al. 2019, Figs 8-11: accuracy vs. cost, edge-based vs. uniform"
SHOWN: List[Tuple[str, str]] = [("miou", "mIoU (%)"), ("miou_target", "target-class mIoU (%)")]
COST_UNIT = "GMACs per image"  # x label: "cost (<unit>[, log scale])"
REPORTED_COST_UNIT = "GFLOPs"  # as printed by the paper (its own counting convention)
# Below this max/min cost ratio a log axis has at most one labelled decade tick: use a linear one.
LOG_MIN_RATIO = 4.0
REPORTED_TITLE = "Reported by Marin et al. 2019 (their datasets, GFLOPs as printed: not comparable with ours)"
PANEL_KEY = ["dataset", "split"]
PANEL_NAMES = {"miou": "all classes", "miou_target": "target classes"}
# Markers that tell models apart when a panel has more than one (method keeps its colour).
MODEL_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
REPORTED_COLUMNS = 3


def metric_with_cost(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric`` (%) over seeds of uniform / edge_based* joined with GMACs (stage total).

    Columns: dataset, split, model, method, height, width, mean, std, n, cost (NaN: no cost row).
    Costs do not depend on split or seed: they are averaged over both and joined on dataset,
    model, method and resolution.
    """
    by = PANEL_KEY + ["model", "method"] + RESOLUTION
    summary = seed_summary(marin_rows(ok_rows(df, metric)), by)
    costs = marin_rows(ok_rows(df, "macs", stage="total"))
    join = ["dataset", "model", "method"] + RESOLUTION
    if summary.empty:
        return summary.assign(cost=pd.Series(dtype=float))
    if costs.empty:
        summary["cost"] = np.nan
    else:
        cost = costs.groupby(join, dropna=False)["value"].mean().mul(1e-9).rename("cost").reset_index()
        summary = summary.merge(cost.astype({c: summary[c].dtype for c in join}), on=join, how="left")
    summary["cost"] = pd.to_numeric(summary["cost"], errors="coerce")
    summary[["mean", "std"]] = summary[["mean", "std"]].astype(float) * 100.0
    return summary


def cost_label(unit: str, log: bool = False) -> str:
    return f"cost ({unit}, log scale)" if log else f"cost ({unit})"


def cost_axis(ax: Axes, costs: pd.Series, unit: str) -> None:
    """Log x when the costs span at least :data:`LOG_MIN_RATIO`, else linear; labels the axis."""
    costs = pd.to_numeric(costs, errors="coerce").dropna()
    log = bool(len(costs) and costs.min() > 0 and costs.max() / costs.min() >= LOG_MIN_RATIO)
    if log:
        log_x_axis(ax)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.set_xlabel(cost_label(unit, log), fontsize=FONT_SIZE)


def _plot_models(ax: Axes, points: pd.DataFrame, models: Sequence[str]) -> List[str]:
    """One line per method per model; with several models the marker names the model."""
    drawn: List[str] = []
    for index, model in enumerate(models):
        sub = points[points["model"].astype("string").fillna("") == model]
        before = len(ax.get_lines())
        drawn += plot_method_lines(ax, sub, "cost", "mean", yerr="std")
        if len(models) > 1:
            for line in ax.get_lines()[before:]:
                line.set_marker(MODEL_MARKERS[index % len(MODEL_MARKERS)])
                line.set_label(f"{line.get_label()} · {model}")
    return drawn


def _text_key(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame[list(columns)].astype("string").fillna("")


def _ours(subfig: SubFigure | Figure, points: Dict[str, pd.DataFrame], groups: List[Tuple[str, ...]],
          models: List[str]) -> List[str]:
    """Our panels (one row per dataset × split group); returns the methods drawn."""
    axes = subfig.subplots(len(groups), len(SHOWN), squeeze=False)
    methods: List[str] = []
    for row, group in zip(axes, groups):
        for ax, (metric, ylabel) in zip(row, SHOWN):
            title = panel_title(*group, *(models if len(models) == 1 else []), PANEL_NAMES[metric])
            label_axes(ax, title, cost_label(COST_UNIT), ylabel)
            frame = points[metric]
            in_group = frame[(_text_key(frame, PANEL_KEY) == list(group)).all(axis=1)] if not frame.empty else frame
            if in_group.empty:
                empty_panel(ax, f"no data: needs ok '{metric}' rows\nof uniform / edge_based")
                continue
            with_cost = in_group.dropna(subset=["cost"])
            if with_cost.empty:
                empty_panel(ax, f"no data: '{metric}' rows but no\nmatching 'macs' (stage=total) rows")
                continue
            if is_degenerate(with_cost["mean"]):
                # e.g. target classes never learned at this budget: zeros are not a cost curve.
                degenerate_note(ax, f"{PANEL_NAMES[metric]}: mIoU 0 for every method\nand resolution (never learned)")
                continue
            methods += _plot_models(ax, with_cost, models)
            cost_axis(ax, with_cost["cost"], COST_UNIT)
    return methods


def reported_points() -> pd.DataFrame:
    """Marin's printed mIoU / target mIoU (%) with GFLOPs, one row per number (no per-class IoU)."""
    rep = load_reported(PAPER)
    if rep.empty:
        return rep
    keep = rep["metric"].isin([m for m, _ in SHOWN]) & rep["class_name"].isna() & rep["gflops"].notna() \
        & rep["value"].notna()
    rep = rep[keep.fillna(False).astype(bool)].copy()
    rep["model"] = rep["model"].fillna("")
    rep["pct"] = rep["value"].astype(float) * 100.0
    return rep


def _reported(subfig: SubFigure | Figure, rep: pd.DataFrame, panels: List[Tuple[str, str, str, str]]) -> List[str]:
    """The paper's numbers, one panel per (source, dataset, model, metric); returns the methods drawn."""
    ncols = min(REPORTED_COLUMNS, max(1, len(panels)))
    nrows = max(1, -(-len(panels) // ncols))
    axes = list(subfig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[max(1, len(panels)):]:
        ax.set_visible(False)
    if not panels:
        label_axes(axes[0], "", cost_label(REPORTED_COST_UNIT), "mIoU (%)")
        empty_panel(axes[0], f"no reported numbers\n(results/reported/{PAPER}.csv)")
        return []
    methods: List[str] = []
    ylabels: Dict[str, str] = dict(SHOWN)
    for ax, (source, dataset, model, metric) in zip(axes, panels):
        sub = rep[(rep["source"] == source) & (rep["dataset"] == dataset) & (rep["model"] == model)
                  & (rep["metric"] == metric)]
        label_axes(ax, f"{dataset} ({source})" + (f"\n{model}" if model else ""), cost_label(REPORTED_COST_UNIT),
                   ylabels[metric])
        ax.title.set_fontsize(PANEL_TITLE_SIZE - 1)
        methods += plot_method_lines(ax, sub, "gflops", "pct")
        cost_axis(ax, sub["gflops"], REPORTED_COST_UNIT)
    return methods


def _reported_panels(rep: pd.DataFrame) -> List[Tuple[str, str, str, str]]:
    """(source, dataset, model, metric) of each reported panel, in table order."""
    if rep.empty:
        return []
    order = [m for m, _ in SHOWN]
    keys = rep[["source", "dataset", "model", "metric"]].drop_duplicates().itertuples(index=False, name=None)
    return sorted(keys, key=lambda k: (str(k[0]), str(k[1]), str(k[2]), order.index(k[3])))


@FIGURES.register("marin_cost_curves")
def make(df: pd.DataFrame) -> Figure:
    """Ours on top (one row per dataset × split), the paper's reported numbers below."""
    points = {metric: metric_with_cost(df, metric) for metric, _ in SHOWN}
    present = [p for p in points.values() if not p.empty]
    both = pd.concat(present, ignore_index=True) if present else pd.DataFrame(columns=PANEL_KEY + ["model"])
    groups = sorted(set(_text_key(both, PANEL_KEY).itertuples(index=False, name=None))) or [("", "")]
    models = sorted(set(_text_key(both, ["model"])["model"]))
    rep = reported_points()
    panels = _reported_panels(rep)
    ours_height = PANEL_HEIGHT_IN * len(groups)
    reported_height = PANEL_HEIGHT_IN * 0.9 * max(1, -(-len(panels) // REPORTED_COLUMNS))
    fig = Figure(figsize=(TWO_COLUMN_IN, ours_height + reported_height + 1.0), layout="constrained")
    fig.suptitle(TITLE, fontsize=TITLE_SIZE)
    top, bottom = fig.subfigures(2, 1, height_ratios=[ours_height + 0.3, reported_height + 0.3])
    top.suptitle("Ours", fontsize=PANEL_TITLE_SIZE, fontweight="bold")
    bottom.suptitle(REPORTED_TITLE, fontsize=PANEL_TITLE_SIZE, fontweight="bold")
    methods = _ours(top, points, groups, models)
    methods += _reported(bottom, rep, panels)
    extra = [(f"model: {m}", {"color": "#555555", "marker": MODEL_MARKERS[i % len(MODEL_MARKERS)],
                              "linestyle": "none"}) for i, m in enumerate(models)] if len(models) > 1 else []
    add_legend(fig, methods, extra=extra)
    return fig
