"""Shared pieces of the Jin et al. 2022 figures (``jin_*``) and ``table_jin``; registers nothing.

Conventions
-----------
* Runs are told apart by their params (:mod:`paper_figures.rows`), never by their labels: the
  Jin figures compare runs of :data:`JIN_METHODS` (``params.method``); the Fig 14 radius is
  ``options.radius`` of ``edge_sim`` runs; a sensitivity variant (Tables 2-5) is a run of
  :data:`SENSITIVITY_METHODS` whose options differ from its method's reference options
  (:func:`reference_options`: per option, the value most runs share) in one option. Variants
  are left out of the method comparisons and tabulated per option by ``table_jin``.
* Reported numbers (``results/reported/jin2022.csv``) are drawn in a separate panel, never on the
  axes of our numbers: the paper's datasets are not synthcity.
* Percentages everywhere: fractions from the rows times 100.

Nothing here imports torch or a method.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, NullLocator

from benchmark.errors import DsbenchError
from paper_figures.rows import PANEL_KEY, RESOLUTION, miou_with_cost, ok_rows, run_params, seed_summary, setting
from paper_figures.style.palette import method_style
from paper_figures.style.panels import (PANEL_HEIGHT_IN, TITLE_SIZE, TWO_COLUMN_IN, empty_panel, label_axes,
                                        log_x_axis, resolution_label)

PAPER = "jin2022"
REPORTED_TITLE = "reported: Jin et al. 2022"
# The paper's methods and baselines, as registry keys / config labels (Fig 4, 6, 9a).
JIN_METHODS: Tuple[str, ...] = ("uniform", "edge_based", "deformation", "deformation_single", "edge_sim",
                                "interpolation")
# Metric -> axis label (with unit) of the two accuracy measures the paper plots side by side.
ACCURACY_LABELS: Dict[str, str] = {"miou": "mIoU (%)", "miou_intrinsic": "mIoU(Y′, Y) (%)"}

# The methods whose hyper-parameters the paper sweeps: deformation (Tables 2-5) and the simulated
# edge-based oracle's blur radius (Fig 14). Method comparisons show each one's reference run.
SENSITIVITY_METHODS: Tuple[str, ...] = ("deformation", "deformation_single", "edge_sim")


def reference_options(options: Sequence[Dict[str, object]]) -> Dict[str, object]:
    """Per option key, the value most of ``options`` (one dict per run) share; ties go to the
    smallest value's JSON text, so the reference does not depend on row order."""
    reference: Dict[str, object] = {}
    for key in sorted({k for o in options for k in o}):
        counts = Counter(json.dumps(o.get(key), sort_keys=True) for o in options if key in o)
        text = min(counts, key=lambda v: (-counts[v], v))
        reference[key] = json.loads(text)
    return reference


def with_run_settings(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` plus ``registered`` (``params.method``), ``radius`` (``options.radius``) and
    ``varied``: for a run of :data:`SENSITIVITY_METHODS`, the option keys where it differs from
    its method's reference options in the same dataset × model × split (a tuple; empty for the
    reference run and for every other method)."""
    params = run_params(rows)
    out = rows.assign(registered=params.map(lambda p: setting(p, "method")).astype("object"),
                      radius=params.map(lambda p: setting(p, "options.radius")).astype("object"),
                      _options=params.map(lambda p: setting(p, "options") or {}).astype("object"),
                      varied=[()] * len(rows))
    family = out["registered"].isin(SENSITIVITY_METHODS)
    for _, group in out[family].groupby(PANEL_KEY + ["registered"], dropna=False):
        runs = group.drop_duplicates("run_id")
        reference = reference_options(list(runs["_options"]))
        varied = group["_options"].map(lambda o: tuple(sorted(k for k in set(o) | set(reference)
                                                                if o.get(k) != reference.get(k))))
        out.loc[group.index, "varied"] = pd.Series(varied, index=group.index, dtype="object")
    return out.drop(columns="_options")


def value_sort_key(value: object) -> Tuple[float, ...]:
    """Numeric order for 0.08, 100, "32x64" (by each number in turn); text after numbers."""
    try:
        return tuple(float(part) for part in str(value).split("x"))
    except ValueError:
        return (float("inf"),)


def jin_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of runs of :data:`JIN_METHODS` (by params), sensitivity variants left out."""
    settings = with_run_settings(df)
    keep = settings["registered"].isin(JIN_METHODS) & (settings["varied"].map(len) == 0)
    return df[keep.to_numpy(bool)]


def accuracy_with_fraction(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric`` (miou or miou_intrinsic, %) over seeds joined with the % of pixels sampled.

    Same columns as :func:`paper_figures.style.miou_with_cost` (``mean``, ``std``, ``n``, ``cost``).
    """
    return miou_with_cost(df, "fraction_pixels_sampled", 100.0, metric=metric)


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
    """Mean/std/n over seeds of ``metric`` per dataset, model, split, resolution, method label and
    ``registered`` method (``params.method``, e.g. to find the uniform baseline), plus ``extra``."""
    rows = with_run_settings(ok_rows(df, metric, **equal))
    return seed_summary(rows, PANEL_KEY + RESOLUTION + ["method", "registered", *extra])


def gain_over_uniform(summary: pd.DataFrame, on: Sequence[str]) -> pd.DataFrame:
    """Each non-uniform run's mean minus the uniform run's (``registered == "uniform"``) at equal
    ``on`` keys, in percentage points: columns of ``summary`` plus ``uniform``, ``gain``, ``gain_std``."""
    on = list(on)
    is_uniform = summary["registered"] == "uniform"
    uniform = summary[is_uniform][on + ["mean"]].rename(columns={"mean": "uniform"})
    others = summary[~is_uniform].merge(uniform, on=on, how="inner")
    others["gain"] = (others["mean"].astype(float) - others["uniform"].astype(float)) * 100.0
    others["gain_std"] = others["std"].astype(float) * 100.0
    return others
