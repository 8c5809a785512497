"""Shared conventions of the Alcover-Couso et al. figures (soft labels); registers no figure.

Method labels (the ``method`` column = the workflow config label of a run)
--------------------------------------------------------------------------
* Table III: ``uniform`` (nearest labels), ``soft_labels`` (soft-bilinear labels, KL, MC on),
  ``soft_labels_mc_off`` (same, loss over single-class pixels only).
* Table IV (:data:`SAMPLER_LABELS`): one label per colour / label sampler pair of the
  ``alcover_table4_samplers`` experiment in ``workflows/config.yaml``.
* Fig 7: ``uniform_bs<N>`` and ``soft_labels_bs<N>`` for a training batch size N (the
  ``alcover_fig7_batch`` experiment).

Prior rows (``methods/soft_labels/priors.py``): ``prior_discrepancy`` with ``stage = "<mode>@<scale>"``
(e.g. ``nearest@0.125``) and ``class_frequency`` with stage ``original`` or ``<mode>@<scale>``.
``evaluate`` also writes ``class_frequency`` rows (stages ``original`` / ``sampled``) per run;
they are told apart by the run ids that carry ``prior_discrepancy`` rows.

Nothing here imports torch or a method.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from paper_figures.reported import load_reported
from paper_figures.style import (FONT_SIZE, PANEL_HEIGHT_IN, TITLE_SIZE, TWO_COLUMN_IN, method_label,
                                 method_style, ok_rows)

PAPER = "alcover2023"
NEAREST = "uniform"                 # nearest-neighbour labels (the baseline)
SOFT = "soft_labels"                # soft-bilinear labels, KL, MC on
SOFT_MC_OFF = "soft_labels_mc_off"  # soft labels, loss over single-class pixels only
TABLE3_LABELS: List[str] = [NEAREST, SOFT_MC_OFF, SOFT]

# Table IV: config label -> (colour sampler, label sampler); one entry per alcover_table4_samplers run.
SAMPLER_LABELS: Dict[str, Tuple[str, str]] = {
    "uniform": ("bilinear", "nearest"),
    "uniform_bicubic": ("bicubic", "nearest"),
    "soft_labels_label_bicubic": ("bilinear", "soft-bicubic"),
    "soft_labels": ("bilinear", "soft-bilinear"),
    "soft_labels_colour_bicubic": ("bicubic", "soft-bilinear"),
    "soft_labels_bicubic": ("bicubic", "soft-bicubic"),
}
SAMPLER_ORDER: List[Tuple[str, str]] = list(SAMPLER_LABELS.values())

BATCH_LABEL = re.compile(r"^(?P<method>uniform|soft_labels)_bs(?P<batch>[0-9]+)$")

# The label modes the two Fig 8 strategies train with (soft_labels trains on soft-bilinear labels).
PRIOR_MODES: Dict[str, str] = {NEAREST: "nearest", SOFT: "soft-bilinear"}
MODE_ORDER: List[str] = ["nearest", "soft-area", "soft-bilinear", "soft-bilinear+cells", "soft-bicubic"]
SCALE_TOLERANCE = 0.02  # relative: training heights are rounded, e.g. round(250 / 8) = 31


def batch_label(method: str, batch_size: int) -> str:
    """Config label of a Fig 7 run: ``batch_label("soft_labels", 4) == "soft_labels_bs4"``."""
    return f"{method}_bs{int(batch_size)}"


def scale_text(scale: float) -> str:
    """``0.125 -> "1/8"``, ``1.0 -> "1"``."""
    frac = Fraction(float(scale)).limit_denominator(64)
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}/{frac.denominator}"


def scale_color(scale: float) -> str:
    """One colour per downsampling scale (viridis by log2 scale: 1/16 dark, 1 light); not a method colour."""
    position = min(1.0, max(0.0, (math.log2(float(scale)) + 4.0) / 4.0)) * 0.85
    r, g, b, _ = colormaps["viridis"](position)
    return f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"


def parse_stage(stage: object) -> Optional[Tuple[str, float]]:
    """``"nearest@0.125" -> ("nearest", 0.125)``; None for ``original``, ``sampled`` or malformed stages."""
    text = str(stage)
    if "@" not in text:
        return None
    mode, _, scale = text.rpartition("@")
    try:
        return mode, float(Fraction(scale))
    except (ValueError, ZeroDivisionError):
        return None


def parse_setting(setting: object) -> Dict[str, str]:
    """``"colour=bilinear; label=nearest; bs=20"`` -> ``{"colour": "bilinear", ...}`` (free text dropped)."""
    out: Dict[str, str] = {}
    if setting is None or (isinstance(setting, float) and math.isnan(setting)) or setting is pd.NA:
        return out
    for part in str(setting).split(";"):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def reported(source: str, metric: str) -> pd.DataFrame:
    """Rows of the paper's ``source`` (e.g. ``"Table III"``) for ``metric``, with the setting parsed.

    Adds columns ``colour``, ``label``, ``mc``, ``bs`` (int or NaN), ``scale`` (float or NaN),
    ``stage`` (from the setting). Empty if the reported file or the rows are missing.
    """
    df = load_reported(PAPER)
    rows = df[(df["source"].astype("string") == source) & (df["metric"].astype("string") == metric)].copy()
    settings = [parse_setting(s) for s in rows["setting"]] if not rows.empty else []
    for key in ("colour", "label", "mc", "stage"):
        rows[key] = [s.get(key) for s in settings]
    rows["bs"] = pd.to_numeric(pd.Series([s.get("bs") for s in settings], index=rows.index, dtype="object"),
                               errors="coerce")
    rows["scale"] = [float(Fraction(s["scale"])) if "scale" in s else np.nan for s in settings]
    return rows


def reported_label(row: Mapping[str, object]) -> str:
    """Our config label for a reported Table I/III row (``mc=off`` -> ``soft_labels_mc_off``)."""
    if row["method"] == SOFT and row.get("mc") == "off":
        return SOFT_MC_OFF
    return str(row["method"])


def _cityscapes_class_names() -> List[str]:
    """The 19 Cityscapes evaluation classes in trainId order (the paper's column order)."""
    try:
        from cityscapesscripts.helpers.labels import labels
    except ImportError:  # optional: without it, classes fall back to frequency / name order
        return []
    return [l.name for l in sorted((l for l in labels if 0 <= l.trainId < 255), key=lambda l: l.trainId)]


CITYSCAPES_CLASSES: List[str] = _cityscapes_class_names()


def class_order(rows: pd.DataFrame, frequency: Optional[Mapping[str, float]] = None) -> List[str]:
    """The class names of ``rows`` in a stable order that survives row sorting.

    Cityscapes classes (synthcity uses them) first, in trainId order; other classes after, by
    descending ``frequency`` (if given), then by name.
    """
    names = set(str(c) for c in rows["class_name"].dropna())
    known = [c for c in CITYSCAPES_CLASSES if c in names]
    freq = frequency or {}
    rest = sorted(names - set(known), key=lambda c: (-float(freq.get(c, -1.0)), c))
    return known + rest


# ---------------------------------------------------------------------------------------------
# Priors


def prior_discrepancies(df: pd.DataFrame) -> pd.DataFrame:
    """D_{d,c} per dataset, split, stage and class (mean over duplicate prior runs).

    Columns: dataset, split, stage, mode, scale, class_name, value (a fraction), in the rows'
    class order.
    """
    rows = ok_rows(df, "prior_discrepancy")
    columns = ["dataset", "split", "stage", "mode", "scale", "class_name", "value"]
    parsed = [parse_stage(s) for s in rows["stage"]]
    rows = rows.assign(mode=[p[0] if p else None for p in parsed], scale=[p[1] if p else np.nan for p in parsed])
    rows = rows.dropna(subset=["mode", "class_name"])
    if rows.empty:
        return pd.DataFrame(columns=columns)
    order = {name: i for i, name in enumerate(class_order(rows))}  # stable class order in the output
    out = rows.groupby(["dataset", "split", "stage", "mode", "scale", "class_name"], dropna=False, sort=False)[
        "value"].mean().reset_index()
    out["class_rank"] = out["class_name"].map(order)
    return out.sort_values(["dataset", "split", "scale", "stage", "class_rank"]).drop(columns="class_rank")[columns]


def prior_original_heights(df: pd.DataFrame) -> Dict[str, float]:
    """Full-resolution label height per dataset, from the prior runs' ``original`` class_frequency rows.

    Falls back to ``height / scale`` of the downsampled prior rows where the original rows have
    no height (images of varying size).
    """
    priors = ok_rows(df, "prior_discrepancy")
    run_ids = set(priors["run_id"].astype(str))
    original = ok_rows(df, "class_frequency", stage="original")
    original = original[original["run_id"].astype(str).isin(run_ids)].dropna(subset=["height"])
    heights = {str(k): float(v) for k, v in original.groupby("dataset")["height"].median().items()}
    scales = [parse_stage(s) for s in priors["stage"]]
    priors = priors.assign(scale=[p[1] if p else np.nan for p in scales]).dropna(subset=["height", "scale"])
    for dataset, group in priors.groupby("dataset"):
        heights.setdefault(str(dataset), float((group["height"].astype(float) / group["scale"]).median()))
    return heights


def match_scale(height: float, original_height: Optional[float], scales: Sequence[float]) -> Optional[float]:
    """The prior scale whose ratio matches ``height / original_height`` (within 2 %), else None."""
    if not original_height:
        return None
    ratio = float(height) / float(original_height)
    close = [s for s in scales if math.isclose(s, ratio, rel_tol=SCALE_TOLERANCE)]
    return min(close, key=lambda s: abs(s - ratio)) if close else None


# ---------------------------------------------------------------------------------------------
# Drawing


def stacked_figure(n_panels: int, title: str, panel_height: float = PANEL_HEIGHT_IN) -> Tuple[Figure, List[Axes]]:
    """Two-column-wide figure with one full-width panel per row (for wide per-class bar charts)."""
    n_panels = max(1, n_panels)
    fig = Figure(figsize=(TWO_COLUMN_IN, panel_height * n_panels + 0.7), layout="constrained")
    axes = list(fig.subplots(n_panels, 1, squeeze=False).ravel())
    fig.suptitle(title, fontsize=TITLE_SIZE)
    return fig, axes


def grouped_bars(ax: Axes, values: pd.DataFrame, categories: Sequence[object], series: Sequence[str],
                 category: str, which: str, *, colors: Mapping[str, str], err: Optional[str] = None,
                 n: str = "n", labels: Optional[Mapping[str, str]] = None) -> List[str]:
    """Bars of ``values["mean"]`` at ``categories`` (x groups), one bar per ``series`` value in a group.

    ``values`` has columns ``category``, ``which``, ``mean`` (and ``err``/``n``): a missing
    (category, series) pair leaves a gap. Error bars only where ``n > 1``. Returns the series drawn.
    """
    drawn: List[str] = []
    present = [s for s in series if (values[which] == s).any()]
    width = 0.8 / max(1, len(present))
    x = np.arange(len(categories), dtype=float)
    for i, name in enumerate(present):
        sub = values[values[which] == name]
        heights, errors = [], []
        for cat in categories:
            hit = sub[sub[category].astype(str) == str(cat)]
            heights.append(float(hit["mean"].iloc[0]) if not hit.empty else np.nan)
            many = err is not None and not hit.empty and n in hit and int(hit[n].iloc[0]) > 1
            errors.append(float(hit[err].iloc[0]) if many else np.nan)
        offsets = x - 0.4 + width * (i + 0.5)
        ax.bar(offsets, heights, width=width * 0.92, color=colors[name],
               label=(labels or {}).get(name, method_label(name)))
        if err is not None and np.isfinite(errors).any():
            ax.errorbar(offsets, heights, yerr=errors, fmt="none", ecolor="#333333", elinewidth=0.7, capsize=1.5)
        drawn.append(name)
    ax.set_xticks(x)
    ax.set_xlim(-0.6, len(categories) - 0.4)
    return drawn


def bar_legend(fig: Figure, methods: Sequence[str]) -> None:
    """One figure legend below the panels with a square per method (bars, not lines), in the given order."""
    handles = [Line2D([], [], linestyle="", marker="s", markersize=6, color=method_style(m)["color"],
                      label=method_label(m)) for m in dict.fromkeys(methods)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), fontsize=FONT_SIZE - 1,
               frameon=False)


def method_colors(methods: Sequence[str]) -> Dict[str, str]:
    return {m: method_style(m)["color"] for m in methods}


def note(ax: Axes, message: str) -> None:
    """A small grey note centred under the panel's x label (e.g. which rows are missing), off the data."""
    ax.annotate(message, xy=(0.5, 0.0), xycoords=ax.xaxis.label, xytext=(0, -2), textcoords="offset points",
                ha="center", va="top", fontsize=FONT_SIZE - 3, color="#555555")
